/* Inside L2: shared by vm.c (plan, status) and vm_apply.c. */
#ifndef HL_VM_IMPL_H
#define HL_VM_IMPL_H

#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"

struct view {
	jv vms;			/* /cluster/resources?type=vm */
	jv managed;		/* host name -> resource */
	jv configs;		/* host name -> config, pending applied */
	jv current;		/* host name -> config as a running VM runs */
};
#define VIEW_INIT { jv_null(), jv_null(), jv_null(), jv_null() }

int read_view(struct hl_pve *p, const struct hl_lab *lab, struct view *v,
    struct hl_err *e);
void free_view(struct view *v);

/* The desired fields of host h (plan's field names). */
jv desired(const struct hl_lab *lab, jv h);

/* One host's plan entry; *pending set when it is not a noop. */
jv plan_host(const struct hl_lab *lab, jv h, struct view *v, jv channels,
    int *pending);

/* key=VALUE of an "hl: ..." description marker (malloc'ed), or NULL. */
char *marker(const char *desc, const char *key);

/* The first global IPv4 address in an agent network reply (borrowed). */
const char *agent_ip(jv reply);

/* Saved plans (vm_saved.c). */
jv saved_make(const struct hl_lab *lab, jv hosts, struct view *v,
    jv channels, const char *head);
int saved_write(const char *path, jv saved, struct hl_err *e);
/* Refuse (HL_EXIT_REFUSED, reasons on stderr) when what saved recorded
 * no longer holds; else picked marks the plan's hosts. */
int saved_check(const struct hl_lab *lab, jv saved, struct view *v,
    jv channels, const char *head, unsigned char *picked, struct hl_err *e);

#endif
