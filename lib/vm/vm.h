/*
 * L2: does each VM exist with the infrastructure the specs declare?
 * (docs/hl-vm.md).  The desired configuration comes from the specs; the
 * actual one from Proxmox (one /cluster/resources call, managed VMs found
 * by the hl-<labid> tag and their name, their configs read in one batch).
 * Only the fields hl owns are compared.
 */
#ifndef HL_VM_H
#define HL_VM_H

#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"

struct hl_vm_plan_opts {
	int exit_code;		/* 1 when changes are pending */
	const char *save;	/* write the plan there, to apply --plan */
	const char *head;	/* the spec commit it is made from */
};

/*
 * Every verb below returns its exit status; its result goes to *doc, or
 * *doc is null when the verb failed whole and e says why.  A result may
 * come with a status that is not 0: a host's failure is in its entry (and
 * noted to the progress sink); a refusal that lists what it would do sets
 * e too.
 */

/*
 * The plan for the picked VM hosts: *doc {hosts: [{name, action:
 * create|update|noop|blocked, reason, changes: [{field, from, to,
 * reboot_needed, rotates_host_keys, pending}], template_drift}]}.  With
 * o->save, also what it was made from (spec commit, channels, each VM's
 * config digest or absence) into that file.  Returns 0, 1 when
 * o->exit_code is set and changes are pending, or the error's status.
 */
int hl_vm_plan(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_plan_opts *o, jv *doc,
    struct hl_err *e);

/* Read a plan hl_vm_plan saved; a file that is not one: HL_E_USAGE. */
int hl_vm_plan_read(const char *path, jv *saved, struct hl_err *e);

/* *doc {hosts: [{name, exists, node, vmid, power, ip, spec_commit,
 * head_commit, template_artifact, channel_artifact}]}; the status. */
int hl_vm_status(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const char *head, jv *doc,
    struct hl_err *e);

struct hl_vm_opts {
	double timeout;		/* the agent wait, seconds (0: 600) */
	int reboot;		/* apply changes that need a reboot now */
	int parallel;		/* hosts at a time (0: 4) */
	jv saved;		/* a saved plan to apply exactly, or null */
	const char *commit;	/* the spec commit, for the marker */
	const struct hl_progress *progress;	/* notes as hosts go */
	int allow_dirty;	/* clone from an uncommitted channel too */
	int dry_run;		/* every read and check, nothing changed */
	int yes;		/* destroy: do it */
};

/*
 * Apply the plan of the picked hosts (with o->saved: the saved plan's
 * hosts, refused (6) when anything it recorded no longer holds).  Create
 * what is missing (a clone of the host's template, configured, grown,
 * started, its host keys read into .hl/known_hosts; left stopped when
 * declared power: stopped), or resume a create an interrupted run left;
 * update in place, the declared power state made (started and waited
 * for, or shut down); a noop stays; blocked is refused (6).  What an earlier run left going on a VM is waited for
 * first.  Up to o->parallel hosts at a time, each in its own process;
 * one host's failure does not stop the others.  *doc {hosts: [{name,
 * node, vmid, action: created|updated|noop|failed, power, ip | changes
 * and reboot | error {message, code, reason}}]}; the worst status.
 * With o->dry_run: the same reads and checks (the vmid free, the
 * template there, the cluster), nothing sent that changes anything and
 * nothing waited for; the actions are would_create|would_update|noop|
 * failed and the document says dry_run: true.
 */
int hl_vm_apply(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_opts *o, jv *doc,
    struct hl_err *e);

/*
 * Destroy the picked hosts' VMs, only those hl made for them (tag and
 * description marker naming this lab and host): stop, delete with purge,
 * their .hl/known_hosts lines dropped.  Without o->yes: listed, exit 6.
 * With o->dry_run (yes or not): listed, the ownership and the cluster
 * checked, exit 0 unless a check fails, and dry_run: true.  *doc {hosts:
 * [{name, node, vmid, action: destroyed|would_destroy|absent|failed,
 * error}]}; the worst status.  Uses o->yes, o->dry_run, o->progress.
 */
int hl_vm_destroy(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_opts *o, jv *doc,
    struct hl_err *e);

#endif
