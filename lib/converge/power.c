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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "converge/converge_impl.h"
#include "core/clock.h"
#include "core/fanout.h"
#include "core/json.h"
#include "pve/pve.h"
#include "spec/spec.h"
#include "ssh/ssh.h"
#include "state/owner.h"

/* How long a host gets to answer ssh after its reboot (--timeout). */
#define CV_REBOOT_TIMEOUT 600
/* How long a clean shutdown gets before PVE stops the VM (seconds;
 * shutdown's --timeout). */
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
	/* the clean shutdown inside the reboot gets the whole budget; the
	 * task ends once the VM went down (PVE starts it again then, or
	 * already has): no ssh check can pass against the old boot */
	rc = hl_pve_run_task(x->p, "POST", path, jv_object_set(jv_object(),
	    jv_string("timeout"), jv_number(secs)), limit, x->name, &upid,
	    x->e);
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

/* Shut x's VM down: cleanly, stopped by PVE after --timeout seconds
 * (CV_SHUTDOWN_TIMEOUT). */
static int
shut_down(struct target *x)
{
	char path[300], st[32];
	double uptime;
	int secs = x->o->timeout > 0 ? (int)x->o->timeout : CV_SHUTDOWN_TIMEOUT;
	jv params;

	if (secs < x->o->timeout)
		secs++;
	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "shutting down VM "
	    "%d on %s (stopped hard after %d s)", x->vmid, x->node, secs);
	params = jv_object_set(jv_object_set(jv_object(),
	    jv_string("forceStop"), jv_true()), jv_string("timeout"),
	    jv_number(secs));
	vm_path(x, path, sizeof(path), "/status/shutdown");
	/* the task ends when the VM is off, the hard stop's time included */
	if (hl_pve_run_task(x->p, "POST", path, params, secs + 60, x->name,
	    NULL, x->e) < 0 || vm_status(x, st, sizeof(st), &uptime) < 0)
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

/* One run: what each host's job needs. */
struct run {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const struct hl_cv_power_opts *o;
	jv hostvars, vms;		/* borrowed */
	int act;
	const size_t *batch;		/* job -> host index */
	const char *batch_name;		/* NULL: a host on its own */
};

/* A host's entry before anything was done: {name, batch, away_s, node,
 * vmid}. */
static jv
entry_new(const char *name, const char *batch)
{
	return JV_OBJECT(jv_string("name"), jv_string(name),
	    jv_string("batch"), batch ? jv_string(batch) : jv_null(),
	    jv_string("away_s"), jv_null(), jv_string("node"), jv_null(),
	    jv_string("vmid"), jv_null());
}

/* entry (consumed) with its action, reason (and error when failed). */
static jv
entry_end(jv entry, const char *action, const char *reason,
    const struct hl_err *he)
{
	if (he)
		entry = jv_object_set(entry, jv_string("error"),
		    hl_json_err(he));
	entry = jv_object_set(entry, jv_string("action"), jv_string(action));
	return jv_object_set(entry, jv_string("reason"), jv_string(reason));
}

/*
 * One host's job: its entry, with "code" its exit status and "stop" true
 * when a failure may have left it down (the batches after it wait).
 */
static jv
power_host(size_t job, int forked, void *arg)
{
	const struct run *r = arg;
	const struct hl_host *h = &r->lab->hosts[r->batch[job]];
	struct hl_err he = { 0 };
	jv hv = hl_json_get(jv_copy(r->hostvars), h->name), entry;
	struct target x = { r->p, r->o, h->name, NULL, 0, { r->lab->root,
	    h->name, hl_json_get_str(hv, "ansible_host"), 22,
	    hl_json_get_str(hv, "ansible_user"),
	    hl_json_get_str(hv, "ansible_ssh_private_key_file") }, &he };
	const char *action = "skipped", *reason = "";
	int rc = forked ? hl_pve_forked(r->p, &he) : 0, stop = 0;

	entry = entry_new(h->name, r->batch_name);
	if (rc == 0)
		rc = one_host(&x, r->lab, h, r->vms, r->act, &action, &reason,
		    &entry);
	if (rc < 0) {
		hl_note(r->o->progress, HL_NOTE_ERROR, NULL, "%s", he.msg);
		/* a host that may be down stops the rest */
		stop = r->act && he.reason != HL_E_REFUSED;
	}
	entry = entry_end(entry, rc < 0 ? "failed" : action, rc < 0 ? he.msg :
	    reason, rc < 0 ? &he : NULL);
	entry = jv_object_set(entry, jv_string("code"), jv_number(rc < 0 ?
	    he.code : HL_EXIT_OK));
	entry = jv_object_set(entry, jv_string("stop"), jv_bool(stop));
	jv_free(hv);
	return entry;
}

/* A job whose process died: its host failed, and may be down. */
static jv
power_died(size_t job, const char *how, void *arg)
{
	const struct run *r = arg;
	const char *name = r->lab->hosts[r->batch[job]].name;
	struct hl_err he = { 0 };

	hl_err_set(&he, HL_E_INTERNAL, "%s: the process handling it %s",
	    name, how);
	hl_note(r->o->progress, HL_NOTE_ERROR, NULL, "%s", he.msg);
	return jv_object_set(jv_object_set(entry_end(entry_new(name,
	    r->batch_name), "failed", he.msg, &he), jv_string("code"),
	    jv_number(he.code)), jv_string("stop"), jv_true());
}

/*
 * Each picked host's reboot_batch, read once: [NAME or null] by host
 * index (null for the hosts not picked).
 */
static jv
batch_names(const struct hl_lab *lab, const unsigned char *picked)
{
	jv out = jv_array();

	for (size_t i = 0; i < lab->nhosts; i++) {
		jv hj = picked[i] ? hl_spec_host_json(lab, &lab->hosts[i]) :
		    jv_null();
		jv b = hl_json_get(jv_copy(hj), "reboot_batch");

		out = jv_array_append(out, jv_get_kind(b) == JV_KIND_STRING ?
		    b : (jv_free(b), jv_null()));
		jv_free(hj);
	}
	return out;
}

/*
 * The picked hosts from index i on that go with host i: i itself, and
 * with a reboot_batch (names, borrowed) the later picked hosts declaring
 * the same one (taken[] marks them).  Returns how many went into batch[].
 */
static size_t
batch_of(const struct hl_lab *lab, const unsigned char *picked,
    unsigned char *taken, size_t i, jv names, size_t *batch)
{
	jv name = jv_array_get(jv_copy(names), (int)i);
	size_t n = 0, j;

	batch[n++] = i;
	taken[i] = 1;
	for (j = i + 1; jv_get_kind(name) == JV_KIND_STRING &&
	    j < lab->nhosts; j++) {
		if (picked[j] && !taken[j] && jv_equal(jv_copy(name),
		    jv_array_get(jv_copy(names), (int)j))) {
			batch[n++] = j;
			taken[j] = 1;
		}
	}
	jv_free(name);
	return n;
}

int
hl_cv_power(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cv_power_opts *o, jv *res,
    struct hl_err *e)
{
	struct run r = { p, lab, o, jv_null(), jv_null(), o->yes &&
	    !o->dry_run, NULL, NULL };
	int code = HL_EXIT_OK, would = 0;
	jv missing = jv_null(), hosts = jv_array(),
	    names = batch_names(lab, picked);
	unsigned char *taken = calloc(lab->nhosts + 1, 1);
	size_t *batch = calloc(lab->nhosts + 1, sizeof(*batch));
	char failed[200] = "";
	size_t i;

	*res = jv_null();
	r.hostvars = cv_hosts(lab, picked, &missing);
	if (taken == NULL || batch == NULL) {
		hl_err_set(e, HL_E_INTERNAL, "out of memory");
		code = e->code;
		goto out;
	}
	if (hl_pve_vms(p, &r.vms, e) < 0) {
		code = e->code;
		goto out;
	}
	r.batch = batch;
	for (i = 0; i < lab->nhosts; i++) {
		jv bn, done;
		size_t n, k;
		int c;

		if (!picked[i] || taken[i])
			continue;
		bn = jv_array_get(jv_copy(names), (int)i);
		r.batch_name = jv_get_kind(bn) == JV_KIND_STRING ?
		    jv_string_value(bn) : NULL;
		n = batch_of(lab, picked, taken, i, names, batch);
		if (failed[0]) {
			char why[300];

			snprintf(why, sizeof(why), "not reached: %s failed "
			    "first", failed);
			for (k = 0; k < n; k++)
				hosts = jv_array_append(hosts, entry_end(
				    entry_new(lab->hosts[batch[k]].name,
				    r.batch_name), "skipped", why, NULL));
			jv_free(bn);
			continue;
		}
		if (n > 1 && r.act)
			hl_note(o->progress, HL_NOTE_PROGRESS, NULL, "batch %s: "
			    "%zu hosts at once", r.batch_name, n);
		/* a batch's hosts at once; a listing needs no processes */
		done = hl_fanout_collect(hl_fanout(n, r.act ? (int)n : 1,
		    power_host, &r), &c, power_died, &r);
		code = hl_exit_worse(code, c);
		jv_array_foreach(done, j, x) {
			(void)j;
			const char *action = hl_json_get_str(x, "action");

			if (action && strncmp(action, "would_", 6) == 0)
				would = 1;
			if (hl_json_get_kind(x, "stop") == JV_KIND_TRUE &&
			    !failed[0])
				snprintf(failed, sizeof(failed), "%s",
				    hl_json_get_str(x, "name"));
			hosts = jv_array_append(hosts, jv_object_delete(x,
			    jv_string("stop")));
		}
		jv_free(done);
		jv_free(bn);
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
	jv_free(names);
	free(taken);
	free(batch);
	jv_free(hosts);
	jv_free(r.vms);
	jv_free(missing);
	jv_free(r.hostvars);
	return code;
}
