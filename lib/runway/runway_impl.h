/* Inside the runway checks: shared by runway.c, runway_cluster.c, runway_local.c. */
#ifndef HL_RUNWAY_IMPL_H
#define HL_RUNWAY_IMPL_H

#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"

struct rw {
	const struct hl_lab *lab;
	struct hl_pve *p;
	const struct hl_pve_cfg *cfg;
	jv checks;		/* [{id, status, message, data}] */
	jv facts;
	int failed;		/* a check failed */
	jv hosts;		/* the selected VM hosts' configurations */
	jv need;		/* path -> privileges (hl_runway_privileges) */
};

void rw_add(struct rw *c, const char *id, const char *status, jv data,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The template definition a host uses (a new reference), or null. */
jv rw_template(const struct hl_lab *lab, jv host);

/* cluster, privileges, nodes, storages, bridges, templates, vmids */
void rw_cluster_checks(struct rw *c);

/* each node's SSH with its pinned host key; the local tools */
void rw_ssh_checks(struct rw *c);
void rw_tool_checks(struct rw *c);

#endif
