/*
 * Reboot and shutdown (converge.h): each host's VM through Proxmox, one
 * host after the other.  A reboot is done when the host answers ssh again
 * with the key .hl/known_hosts holds for it, after the reboot task said
 * the VM went down and before the next host's reboot is asked for; the
 * guest's own word (a reboot from inside, its boot id) is never relied on.
 * The first host that fails stops the run: the hosts after it are left
 * alone.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "converge/converge_impl.h"
#include "core/clock.h"
#include "core/json.h"
#include "pve/pve.h"
#include "spec/spec.h"
#include "ssh/ssh.h"
#include "state/owner.h"

/* How long a host gets to answer ssh after its reboot (--timeout). */
#define CV_REBOOT_TIMEOUT 600
/* How long a clean shutdown gets before PVE stops the VM (seconds). */
#define CV_SHUTDOWN_TIMEOUT 60

/* One host being rebooted or shut down. */
struct target {
	struct hl_pve *p;
	const struct hl_cv_power_opts *o;
	const char *name, *node;
	int vmid;
	struct hl_ssh_host ssh;		/* address NULL: none known */
	struct hl_err *e;
};

/* Now, as "2026-01-31T12:00:00.123Z". */
static jv
now_utc(void)
{
	struct timespec ts;
	struct tm tm;
	char s[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	return jv_string_fmt("%s.%03ldZ", s, ts.tv_nsec / 1000000);
}

/* "/nodes/NODE/qemu/VMID" and rest into out. */
static void
vm_path(const struct target *x, char *out, size_t len, const char *rest)
{
	snprintf(out, len, "/nodes/%s/qemu/%d%s", x->node, x->vmid, rest);
}

/*
 * The host's VM among vms (borrowed): the one of its name with the lab's
 * tag, whose marker names this lab and host.  *vm gets the resource entry.
 * Returns 0, or -1 with e: HL_E_REFUSED for a VM of its name that is not
 * hl's, HL_E_FAILED when there is none.
 */
static int
find_vm(struct target *x, const struct hl_lab *lab, jv vms, jv *vm)
{
	int rc = hl_owner_find(x->p, vms, hl_json_str(lab->id), x->name, vm,
	    x->e);

	if (jv_get_kind(*vm) == JV_KIND_OBJECT) {
		x->node = hl_json_get_str(*vm, "node");
		x->vmid = (int)hl_pve_get_num(*vm, "vmid", 0);
	}
	return rc;
}

/* GET status/current: its status ("running") into st (len bytes), its
 * uptime into *uptime. */
static int
vm_status(struct target *x, char *st, size_t len, double *uptime)
{
	char path[300];
	jv cur;

	vm_path(x, path, sizeof(path), "/status/current");
	if (hl_pve_get(x->p, path, &cur, x->e) < 0) {
		jv_free(cur);
		return -1;
	}
	snprintf(st, len, "%s", hl_json_get_str(cur, "status") ?
	    hl_json_get_str(cur, "status") : "unknown");
	*uptime = hl_pve_get_num(cur, "uptime", 0);
	jv_free(cur);
	return 0;
}

/*
 * Before a reboot: the host answers ssh with its key now (else nothing
 * would tell the reboot's end), and with --only-if-needed whether it
 * says it needs one.  *needed 1 or 0; -1 with x->e.
 */
static int
reboot_needed(struct target *x, int *needed)
{
	char *test[] = { "test", "-e", "/var/run/reboot-required", NULL },
	    *yes[] = { "true", NULL };
	int rc;

	if (x->ssh.address == NULL)
		return hl_err_set(x->e, HL_E_SSH, "%s: no address to reach it "
		    "at over ssh (a DHCP host hl-vm has not seen running)",
		    x->name);
	rc = hl_ssh_run(&x->ssh, x->o->only_if_needed ? test : yes, 30, NULL,
	    x->e);
	if (rc < 0) {
		char msg[sizeof(x->e->msg)];

		snprintf(msg, sizeof(msg), "%s", x->e->msg);
		return hl_err_set(x->e, x->e->reason, "not rebooting %s, which "
		    "must answer ssh first: %s", x->name, msg);
	}
	if (rc != 0 && !(x->o->only_if_needed && rc == 1))
		return hl_err_set(x->e, HL_E_FAILED, "%s: a check over ssh "
		    "exited %d", x->name, rc);
	*needed = rc == 0;
	return 0;
}

/* Until the host answers ssh with its pinned key, or deadline. */
static int
wait_ssh(struct target *x, double t0, double deadline)
{
	char *argv[] = { "true", NULL };
	struct hl_err se = { 0 };
	double next_note = hl_clock() + 15, left;
	int rc;

	snprintf(se.msg, sizeof(se.msg), "not tried");
	while ((left = deadline - hl_clock()) > 0) {
		rc = hl_ssh_run(&x->ssh, argv, left < 20 ? left : 20, NULL,
		    &se);
		if (rc == 0)
			return 0;
		/* a wrong key will not come right by waiting */
		if (rc == HL_SSH_BADKEY)
			return hl_err_set(x->e, HL_E_SSH, "%s, after its reboot",
			    se.msg);
		if (hl_clock() >= next_note) {
			hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name,
			    "waiting for ssh (%.0f s since the reboot)",
			    hl_clock() - t0);
			next_note = hl_clock() + 15;
		}
		left = deadline - hl_clock();
		hl_sleep(left < 1 ? (left > 0 ? left : 0) : 1);
	}
	return hl_err_set(x->e, HL_E_TIMEOUT, "%s did not answer ssh within "
	    "%.0f s of its reboot (last try: %s)", x->name, deadline - t0,
	    se.msg);
}

/* Reboot x's VM and wait until it is back: *entry gets the times. */
static int
reboot(struct target *x, jv *entry)
{
	double limit = x->o->timeout > 0 ? x->o->timeout : CV_REBOOT_TIMEOUT;
	double t0, uptime, away;
	char path[300], st[32];
	int rc, secs = (int)limit;
	jv upid;

	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "rebooting VM %d "
	    "on %s", x->vmid, x->node);
	*entry = jv_object_set(*entry, jv_string("requested_at"), now_utc());
	if (secs < limit)
		secs++;
	t0 = hl_clock();
	vm_path(x, path, sizeof(path), "/status/reboot");
	/* the clean shutdown inside the reboot gets the whole budget */
	if (hl_pve_call(x->p, HL_PVE_ONCE, "POST", path, jv_object_set(
	    jv_object(), jv_string("timeout"), jv_number(secs)), &upid,
	    NULL, x->e) < 0) {
		jv_free(upid);
		return -1;
	}
	/* the task ends once the VM went down (PVE starts it again then,
	 * or already has): no ssh check can pass against the old boot */
	rc = jv_get_kind(upid) == JV_KIND_STRING ? hl_pve_task_wait(x->p,
	    jv_string_value(upid), limit, x->name, x->e) : 0;
	if (rc < 0 && x->e->reason == HL_E_TIMEOUT)
		hl_err_set(x->e, HL_E_TIMEOUT, "%s: VM %d did not go down within "
		    "%.0f s (task %s)", x->name, x->vmid, limit,
		    jv_string_value(upid));
	jv_free(upid);
	if (rc < 0)
		return -1;
	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "VM %d went down; "
	    "waiting for ssh with its known host key", x->vmid);
	if (wait_ssh(x, t0, t0 + limit) < 0)
		return -1;
	away = hl_clock() - t0;
	/* what answered is this boot: the VM's uptime began after the
	 * request (a second's slack: PVE counts whole seconds) */
	if (vm_status(x, st, sizeof(st), &uptime) < 0)
		return -1;
	if (strcmp(st, "running") != 0 || uptime > away + 1)
		return hl_err_set(x->e, HL_E_FAILED, "%s answers ssh, but VM %d "
		    "is %s with an uptime of %.0f s: not this reboot's boot",
		    x->name, x->vmid, st, uptime);
	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "back on ssh after "
	    "%.1f s", away);
	*entry = jv_object_set(*entry, jv_string("back_at"), now_utc());
	*entry = jv_object_set(*entry, jv_string("away_s"),
	    jv_number((double)(long)(away * 10 + 0.5) / 10));
	return 0;
}

/* Shut x's VM down: cleanly, stopped by PVE after CV_SHUTDOWN_TIMEOUT. */
static int
shut_down(struct target *x)
{
	char path[300], st[32];
	double uptime;
	jv upid, params;
	int rc;

	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "shutting down VM "
	    "%d on %s (stopped hard after %d s)", x->vmid, x->node,
	    CV_SHUTDOWN_TIMEOUT);
	params = jv_object_set(jv_object_set(jv_object(),
	    jv_string("forceStop"), jv_true()), jv_string("timeout"),
	    jv_number(CV_SHUTDOWN_TIMEOUT));
	vm_path(x, path, sizeof(path), "/status/shutdown");
	if (hl_pve_call(x->p, HL_PVE_ONCE, "POST", path, params, &upid, NULL,
	    x->e) < 0) {
		jv_free(upid);
		return -1;
	}
	rc = jv_get_kind(upid) == JV_KIND_STRING ? hl_pve_task_wait(x->p,
	    jv_string_value(upid), 0, x->name, x->e) : 0;
	jv_free(upid);
	if (rc < 0 || vm_status(x, st, sizeof(st), &uptime) < 0)
		return -1;
	if (strcmp(st, "stopped") != 0)
		return hl_err_set(x->e, HL_E_FAILED, "%s: VM %d is %s after its "
		    "shutdown", x->name, x->vmid, st);
	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "VM %d is stopped",
	    x->vmid);
	return 0;
}

/*
 * One host: found, checked, and (act) rebooted or shut down.  *action and
 * *reason say what became of it; -1 with x->e when it failed.
 */
static int
one_host(struct target *x, const struct hl_lab *lab, const struct hl_host *h,
    jv vms, int act, const char **action, const char **reason, jv *entry)
{
	int rb = x->o->what == HL_CV_REBOOT, needed = 1;
	double uptime;
	char st[32];
	jv vm = jv_null();
	int rc;

	if (h->external)
		return hl_err_set(x->e, HL_E_REFUSED, "%s: an external host: "
		    "hl-converge reboots and shuts down VMs through Proxmox "
		    "only", x->name);
	rc = find_vm(x, lab, vms, &vm);
	if (rc == 0) {
		*entry = jv_object_set(jv_object_set(*entry, jv_string("node"),
		    jv_string(x->node)), jv_string("vmid"), jv_number(x->vmid));
		rc = vm_status(x, st, sizeof(st), &uptime);
	}
	if (rc == 0 && strcmp(st, "running") != 0) {
		*action = "skipped";
		*reason = rb ? "not running" : "already stopped";
	} else if (rc == 0 && rb && (x->o->only_if_needed || act) &&
	    (rc = reboot_needed(x, &needed)) == 0 && !needed) {
		*action = "skipped";
		*reason = "not needed";
	} else if (rc == 0) {
		*reason = !rb ? "requested" : x->o->only_if_needed ?
		    "/var/run/reboot-required" : "requested";
		*action = rb ? "would_reboot" : "would_shut_down";
		if (!act && x->o->dry_run)
			hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name,
			    "would %s VM %d on %s", rb ? "reboot" : "shut down",
			    x->vmid, x->node);
		if (act) {
			rc = rb ? reboot(x, entry) : shut_down(x);
			*action = rb ? "rebooted" : "shut_down";
		}
	}
	jv_free(vm);
	return rc;
}

int
hl_cv_power(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cv_power_opts *o, jv *res,
    struct hl_err *e)
{
	int act = o->yes && !o->dry_run, code = HL_EXIT_OK, would = 0;
	jv vms = jv_null(), missing = jv_null(), hostvars, hosts = jv_array();
	char failed[200] = "";
	size_t i;

	*res = jv_null();
	hostvars = cv_hosts(lab, picked, &missing);
	if (hl_pve_vms(p, &vms, e) < 0) {
		code = e->code;
		goto out;
	}
	for (i = 0; i < lab->nhosts; i++) {
		const struct hl_host *h = &lab->hosts[i];
		struct hl_err he = { 0 };
		jv hv = hl_json_get(jv_copy(hostvars), h->name), entry;
		struct target x = { p, o, h->name, NULL, 0, { lab->root,
		    h->name, hl_json_get_str(hv, "ansible_host"), 22,
		    hl_json_get_str(hv, "ansible_user"),
		    hl_json_get_str(hv, "ansible_ssh_private_key_file") }, &he };
		const char *action = "skipped", *reason = "";
		char why[300];

		if (!picked[i]) {
			jv_free(hv);
			continue;
		}
		entry = jv_object_set(jv_object(), jv_string("name"),
		    jv_string(h->name));
		entry = jv_object_set(entry, jv_string("away_s"), jv_null());
		entry = jv_object_set(entry, jv_string("node"), jv_null());
		entry = jv_object_set(entry, jv_string("vmid"), jv_null());
		if (failed[0]) {
			snprintf(why, sizeof(why), "not reached: %s failed "
			    "first", failed);
			reason = why;
		} else if (one_host(&x, lab, h, vms, act, &action, &reason,
		    &entry) < 0) {
			hl_note(o->progress, HL_NOTE_ERROR, NULL, "%s", he.msg);
			action = "failed";
			reason = he.msg;
			entry = jv_object_set(entry, jv_string("error"),
			    hl_json_err(&he));
			code = hl_exit_worse(code, he.code);
			/* a host that may be down stops the rest */
			if (act && he.reason != HL_E_REFUSED)
				snprintf(failed, sizeof(failed), "%s", h->name);
		} else if (strncmp(action, "would_", 6) == 0) {
			would = 1;
		}
		entry = jv_object_set(entry, jv_string("action"),
		    jv_string(action));
		entry = jv_object_set(entry, jv_string("reason"),
		    jv_string(reason));
		hosts = jv_array_append(hosts, entry);
		jv_free(hv);
	}
	/* a dry run refuses another cluster where the real run would */
	if (o->dry_run && would && hl_pve_check_cluster(p, e) < 0) {
		code = e->code;
		goto out;
	}
	if (would && !o->dry_run) {
		code = hl_exit_worse(code, HL_EXIT_REFUSED);
		hl_err_set(e, HL_E_REFUSED, "the listed hosts would be %s: "
		    "--yes to do it", o->what == HL_CV_REBOOT ? "rebooted" :
		    "shut down");
	}
	*res = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (o->dry_run)
		*res = jv_object_set(*res, jv_string("dry_run"), jv_true());
	hosts = jv_null();
out:
	jv_free(hosts);
	jv_free(vms);
	jv_free(missing);
	jv_free(hostvars);
	return code;
}
