/*
 * A VM's declared power state (power: running | stopped) made true: a
 * start waited for as a create waits (cloud-init done, host keys read),
 * or a clean shutdown that PVE turns into a hard stop after a timeout.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/* How long a clean shutdown gets before PVE stops the VM (seconds). */
#define VM_SHUTDOWN_TIMEOUT 60

int
vm_running(struct host *x)
{
	char path[300];
	const char *st;
	jv cur;
	int yes;

	vm_path(x, path, sizeof(path), "/status/current");
	if (hl_pve_get(x->p, path, &cur, x->e) < 0) {
		jv_free(cur);
		return -1;
	}
	st = hl_json_get_str(cur, "status");
	yes = st && strcmp(st, "running") == 0;
	jv_free(cur);
	return yes;
}

/* Whether the VM runs, read without touching x->e: 1, 0, or -1. */
static int
running_quietly(struct host *x)
{
	struct hl_err e2, *keep = x->e;
	int r;

	x->e = &e2;
	r = vm_running(x);
	x->e = keep;
	return r;
}

/* Whether a start that answered with an error happened after all. */
static int
started(struct host *x)
{
	return running_quietly(x) == 1;
}

/* Whether a shutdown that answered with an error happened after all. */
static int
halted(struct host *x)
{
	return running_quietly(x) == 0;
}

int
vm_start(struct host *x)
{
	char path[300];

	vm_path(x, path, sizeof(path), "/status/start");
	return vm_task_check(x, "POST", path, jv_null(), HL_PVE_ONCE, started);
}

int
vm_power_on(struct host *x)
{
	vm_note(x, "starting VM %d (declared power: running)", x->vmid);
	/* whatever changed while it was down (its identity included) is
	 * at this boot: the host keys are read again as for a new VM */
	if (vm_start(x) < 0 || vm_wait_booted(x) < 0 ||
	    vm_read_host_keys(x) < 0)
		return -1;
	vm_note(x, "VM %d is up; its host keys are in .hl/known_hosts",
	    x->vmid);
	return 0;
}

int
vm_power_off(struct host *x)
{
	char path[300];
	double limit = VM_SHUTDOWN_TIMEOUT;
	int secs;
	jv params;

	if (x->o->timeout > 0 && x->o->timeout < limit)
		limit = x->o->timeout;
	secs = (int)limit;
	if (secs < limit)
		secs++;
	/* forceStop: a guest that ignores the ACPI request is stopped
	 * after the timeout, rather than the task failing and the VM
	 * left running */
	params = jv_object_set(jv_object_set(jv_object(),
	    jv_string("forceStop"), jv_true()), jv_string("timeout"),
	    jv_number(secs));
	vm_note(x, "shutting down VM %d (declared power: stopped; stopped "
	    "hard after %d s)", x->vmid, secs);
	vm_path(x, path, sizeof(path), "/status/shutdown");
	if (vm_task_check(x, "POST", path, params, HL_PVE_ONCE, halted) < 0)
		return -1;
	vm_note(x, "VM %d is stopped", x->vmid);
	return 0;
}
