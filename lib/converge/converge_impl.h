/*
 * Internal to the converge room: the inventory's parts (inventory.c), the
 * run's directory and child (run.c), and Ansible's events read into
 * per-host results (events.c).
 */
#ifndef HL_CONVERGE_IMPL_H
#define HL_CONVERGE_IMPL_H

#include <jv.h>

#include "converge/converge.h"
#include "core/progress.h"

struct hl_lab;

/* The vars of each picked host Ansible can reach: {NAME: {vars}}; the
 * names of those it cannot (no address) into *missing. */
jv cv_hosts(const struct hl_lab *lab, const unsigned char *picked,
    jv *missing);

/* {GROUP: [HOST...]} from hostvars (consumed). */
jv cv_groups(jv hostvars);

/* The SSH options pinning host's key in .hl/known_hosts, as one string
 * for ansible_ssh_common_args. */
jv cv_ssh_args(const char *root, const char *host);

/* What a run reads from Ansible's JSON lines as they come. */
struct cv_events {
	int check;
	const struct hl_progress *progress;
	jv hosts;			/* NAME -> result so far */
	jv task;			/* the current task: {role, task, hl,
					 * handler} */
	jv version;			/* Ansible's, from hl's first task */
	double t0;			/* the play's start (hl_clock) */
};

/* A host's result before any event: every count 0. */
jv cv_host_new(const char *name);

void cv_events_init(struct cv_events *ev, jv names);
void cv_events_free(struct cv_events *ev);

/* One line of ansible.posix.jsonl's output (a callback for hl_proc). */
void cv_event_line(void *ctx, const char *line, size_t len);

#endif
