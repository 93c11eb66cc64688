/* Inside L2: shared by plan.c, status.c, apply.c and saved.c. */
#ifndef HL_VM_IMPL_H
#define HL_VM_IMPL_H

#include <jv.h>

#include "core/progress.h"
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

/* Whether host h is declared power: stopped. */
int declared_stopped(jv h);
/* The desired fields of host h (plan's field names). */
jv desired(const struct hl_lab *lab, jv h);

/* The cicustom host h's VM carries: "vendor=STORAGE:snippets/FILE", the
 * lab's vendor-data (its apt proxy); null when the lab has none
 * (vendor.c). */
jv vm_cicustom(const struct hl_lab *lab, jv h);

/* One host's plan entry; *pending set when it is not a noop. */
jv plan_host(const struct hl_lab *lab, jv h, struct view *v, jv channels,
    int *pending);

/* The first global IPv4 address in an agent network reply (borrowed). */
const char *agent_ip(jv reply);

/* Saved plans (vm_saved.c). */
jv saved_make(const struct hl_lab *lab, jv hosts, struct view *v,
    jv channels, const char *head);
int saved_write(const char *path, jv saved, struct hl_err *e);
/* Refuse (HL_E_REFUSED, each reason also noted to progress) when what
 * saved recorded no longer holds; else picked marks the plan's hosts. */
int saved_check(const struct hl_lab *lab, jv saved, struct view *v,
    jv channels, const char *head, unsigned char *picked,
    const struct hl_progress *progress, struct hl_err *e);

/* ---- apply and destroy (host.c, create.c, apply.c, destroy.c) ---- */

struct hl_vm_opts;

/* One host being applied or destroyed. */
struct host {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const struct hl_vm_opts *o;
	jv h;			/* the host's configuration */
	const char *name, *node;
	int vmid;
	struct hl_err *e;
	const struct hl_progress *progress;
};


/* A progress note about x. */
void vm_note(struct host *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A call whose reply may be a task, and that task waited for.  A call that
 * failed without PVE's say (5xx, 595, a dropped connection) may or may
 * not have happened: a config write or resize is sent again, a
 * create-like call only when done() says it did not take effect.  A task
 * that failed is repeated only when it never got its lock (HL_E_LOCKED).
 * params consumed.  Returns 0, or -1 with x->e.
 */
int vm_task_check(struct host *x, const char *method, const char *path,
    jv params, enum hl_pve_kind kind, int (*done)(struct host *));
/* vm_task_check without a done(). */
int vm_task(struct host *x, const char *method, const char *path, jv params,
    enum hl_pve_kind kind);
/* "/nodes/NODE/qemu/VMID" and rest into out. */
void vm_path(struct host *x, char *out, size_t len, const char *rest);
/* A host's entry when it failed: {action: failed, error}; noted too. */
jv vm_failed(const struct hl_progress *progress, const char *name,
    const struct hl_err *e);

/* How long the agent and cloud-init get, without --timeout (seconds). */
#define VM_AGENT_TIMEOUT 600

/* The description marker of x's VM (state=creating until in service). */
void vm_description(struct host *x, const char *artifact, int creating,
    char *out, size_t len);
/* The VM's configuration from the specs, as PVE's options; net0's MAC
 * (with_mac) the declared one, else mac (the VM's own: NULL, PVE picks
 * one). */
jv vm_options(struct host *x, int with_mac, const char *mac);
/* Until cloud-init finished, seen through the agent. */
int vm_wait_booted(struct host *x);
/* The guest's SSH host keys into .hl/known_hosts under its alias, and
 * its address into .hl/addresses. */
int vm_read_host_keys(struct host *x);
/* Its first global IPv4 address through the agent, or null. */
jv vm_address(struct host *x);
/* The MAC in a config's net0, or NULL (malloc'ed). */
char *vm_own_mac(jv conf);
/* Whether the VM runs: 1, 0, or -1 with x->e (power.c). */
int vm_running(struct host *x);
/* Start it; a start that answered with an error is checked, not repeated
 * blindly. */
int vm_start(struct host *x);
/* Start it for power: running, waited for as a create waits: cloud-init
 * done, then its host keys read into .hl/known_hosts. */
int vm_power_on(struct host *x);
/* Shut it down for power: stopped: cleanly, stopped hard by PVE after 60
 * s (or --timeout, when shorter). */
int vm_power_off(struct host *x);
/* The snippet vm_cicustom names, on the VM's node: listed there already,
 * or put over SFTP.  0 (also when the lab has no apt proxy), or -1 with
 * x->e. */
int vm_vendor_put(struct host *x);
/* Create the host's VM, or resume an interrupted create (conf not null):
 * *res {action: created, ip}. */
int vm_create(struct host *x, jv channels, jv vms, jv conf, jv *res);

#endif
