/*
 * Inside the runway checks: shared by runway.c, cluster.c, resources.c and
 * local.c.
 */
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
	int major;		/* the endpoint's major version (8, 9) */
};

void rw_add(struct rw *c, const char *id, const char *status, jv data,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The template definition a host uses (a new reference), or null. */
jv rw_template(const struct hl_lab *lab, jv host);

/* cluster, privileges, nodes, storages, bridges, templates, vmids */
void rw_cluster_checks(struct rw *c);

/* Consumes arr: whether it holds the string s. */
int rw_has_str(jv arr, const char *s);

/* Borrowing list (an array of objects): the one whose key is val (a new
 * reference), or null. */
jv rw_find(jv list, const char *key, const char *val);

/*
 * The verdicts on what the hosts use (resources.c), from the batch's
 * replies: list is the node's /storage or /network reply, r the host's
 * /cluster/nextid reply, vms /cluster/resources?type=vm (borrowed).
 */
/* needs (consumed): "images", "import", "snippets" the storage must hold. */
void rw_check_storage(struct rw *c, const char *node, const char *storage,
    jv needs, struct hl_pve_req *list);
/* vlan: a host on the bridge sets a VLAN tag. */
void rw_check_bridge(struct rw *c, const char *node, const char *bridge,
    int vlan, struct hl_pve_req *list);
/* The artifact each host's template channel points to, on its node. */
void rw_check_templates(struct rw *c, jv vms);
/* Host h's vmid (h borrowed): free, or held by the VM hl made for it. */
void rw_check_vmid(struct rw *c, jv h, struct hl_pve_req *r, jv vms);

/* each node's SSH with its pinned host key; the local tools */
void rw_ssh_checks(struct rw *c);
void rw_tool_checks(struct rw *c);

#endif
