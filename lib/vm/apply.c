/*
 * hl-vm apply: make each VM as its plan says, hosts in parallel workers.
 * update: in place; what needs a reboot waits for --reboot.  What an
 * earlier run left going on a VM is waited for first.  (create.c makes
 * new VMs.)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fanout.h"
#include "core/json.h"
#include "core/lock.h"
#include "core/num.h"
#include "core/progress.h"
#include "ssh/known_hosts.h"
#include "state/git.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/*
 * Whether the plan's changes hold a field still to be written (flag
 * NULL), or any change with flag set.
 */
static int
changed(jv changes, const char *field, const char *flag)
{
	int hit = 0;

	jv_array_foreach(changes, i, c) {
		const char *f = hl_json_get_str(c, "field");
		jv b = flag ? hl_json_get(jv_copy(c), flag) :
		    jv_bool(!jv_object_has(jv_copy(c), jv_string("pending")));

		if (f && (field ? strcmp(f, field) == 0 : 1) &&
		    jv_get_kind(b) == JV_KIND_TRUE)
			hit = 1;
		jv_free(b);
		jv_free(c);
	}
	return hit;
}

/* Apply an update in place; what needs a reboot waits for --reboot. */
int
vm_update(struct host *x, jv plan, jv conf, jv *res)
{
	jv changes = hl_json_get(jv_copy(plan), "changes"), all, params;
	static const struct {
		const char *field, *option;
	} map[] = {
		{ "cores", "cores" }, { "memory_mib", "memory" },
		{ "bridge", "net0" }, { "vlan", "net0" }, { "mac", "net0" },
		{ "ip", "ipconfig0" }, { "nameserver", "nameserver" },
		{ "searchdomain", "searchdomain" }, { "user", "ciuser" },
		{ "ssh_keys", "sshkeys" }, { "tags", "tags" },
		{ "onboot", "onboot" }, { "cicustom", "cicustom" },
	};
	char path[300], desc[600], *art, *mac = vm_own_mac(conf);
	size_t i;
	int running, reboot = 0, rotates = 0, off = declared_stopped(x->h);

	/* a dry run refuses another cluster where the writes would */
	if (x->o->dry_run && hl_pve_check_cluster(x->p, x->e) < 0) {
		free(mac);
		jv_free(changes);
		return -1;
	}
	/* the VM's own MAC stays unless one is declared */
	all = vm_options(x, 1, mac);
	free(mac);
	params = jv_object();
	for (i = 0; i < sizeof(map) / sizeof(*map); i++) {
		jv v;

		if (!changed(changes, map[i].field, NULL))
			continue;
		v = hl_json_get(jv_copy(all), map[i].option);
		/* an option hl no longer declares (cicustom) goes */
		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(v);
			params = jv_object_set(params, jv_string("delete"),
			    jv_string(map[i].option));
		} else {
			params = jv_object_set(params, jv_string(
			    map[i].option), v);
		}
	}
	jv_free(all);
	/* the snippet a new cicustom names is there before it is named */
	if (changed(changes, "cicustom", NULL) && vm_vendor_put(x) < 0) {
		jv_free(params);
		goto fail;
	}
	/* the spec commit is refreshed only along with another change */
	if (jv_object_length(jv_copy(params)) > 0) {
		art = hl_owner_get(hl_json_get_str(conf, "description"),
		    "artifact");
		vm_description(x, art, 0, desc, sizeof(desc));
		free(art);
		params = jv_object_set(params, jv_string("description"),
		    jv_string(desc));
		vm_path(x, path, sizeof(path), "/config");
		if (x->o->dry_run) {
			vm_note(x, "would write VM %d's config", x->vmid);
			jv_free(params);
		} else if (vm_task(x, "POST", path, params, HL_PVE_WRITE) < 0)
			goto fail;
	} else {
		jv_free(params);
	}
	if (changed(changes, "disk_gib", NULL) && x->o->dry_run)
		vm_note(x, "would grow VM %d's disk to %.0fG", x->vmid,
		    hl_pve_get_num(x->h, "disk_gib", 0));
	else if (changed(changes, "disk_gib", NULL)) {
		char size[32];

		snprintf(size, sizeof(size), "%.0fG", hl_pve_get_num(x->h,
		    "disk_gib", 0));
		vm_path(x, path, sizeof(path), "/resize");
		if (vm_task(x, "PUT", path, jv_object_set(jv_object_set(
		    jv_object(), jv_string("disk"), jv_string("scsi0")),
		    jv_string("size"), jv_string(size)), HL_PVE_WRITE) < 0)
			goto fail;
	}
	running = vm_running(x);
	if (running < 0)
		goto fail;
	reboot = running && changed(changes, NULL, "reboot_needed");
	rotates = changed(changes, NULL, "rotates_host_keys");
	*res = jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string(x->o->dry_run ? "would_update" : "updated")),
	    jv_string("changes"), jv_copy(changes));
	*res = jv_object_set(*res, jv_string("power"), jv_string(off ?
	    "stopped" : "running"));
	/* the declared power state: a start takes every change written
	 * above, a stopped VM takes them when it next starts */
	if (running != !off && x->o->dry_run) {
		vm_note(x, "would %s VM %d", off ? "shut down" : "start",
		    x->vmid);
		*res = jv_object_set(*res, jv_string("reboot"),
		    jv_string("not needed"));
	} else if (running != !off) {
		if (off ? vm_power_off(x) < 0 : vm_power_on(x) < 0) {
			jv_free(*res);
			*res = jv_null();
			goto fail;
		}
		*res = jv_object_set(*res, jv_string("reboot"),
		    jv_string("not needed"));
	} else if (reboot && x->o->reboot && x->o->dry_run) {
		vm_note(x, "would reboot VM %d for its changes", x->vmid);
		*res = jv_object_set(*res, jv_string("reboot"),
		    jv_string("would reboot"));
	} else if (reboot && x->o->reboot) {
		char turn[4200];
		int lock, rc;

		/* one host down at a time: each reboot waits for the one
		 * before to come back (hosts are applied in parallel) */
		snprintf(turn, sizeof(turn), "%s/.hl/reboot", x->lab->root);
		lock = hl_lock_file(turn);
		vm_note(x, "rebooting VM %d for its changes", x->vmid);
		vm_path(x, path, sizeof(path), "/status/reboot");
		rc = vm_task(x, "POST", path, jv_null(), HL_PVE_ONCE) < 0 ||
		    vm_wait_booted(x) < 0 || (rotates &&
		    vm_read_host_keys(x) < 0) ? -1 : 0;
		if (rc == 0)
			vm_note(x, "VM %d is back", x->vmid);
		hl_unlock_file(lock);
		if (rc < 0) {
			jv_free(*res);
			*res = jv_null();
			goto fail;
		}
		*res = jv_object_set(*res, jv_string("reboot"),
		    jv_string("done"));
	} else {
		*res = jv_object_set(*res, jv_string("reboot"), jv_string(
		    reboot ? "pending: --reboot applies it" : "not needed"));
		if (reboot)
			vm_note(x, "VM %d takes some changes at its next "
			    "boot: apply --reboot reboots it", x->vmid);
	}
	jv_free(changes);
	return 0;
fail:
	jv_free(changes);
	return -1;
}

/*
 * Wait out what an interrupted run left going on the host's VM (found by
 * name or by the declared vmid): its tasks among active (node -> the
 * node's active tasks) are waited for, not dispatched again, and its
 * lock (a clone still copying) must clear.
 * Returns 1 when it waited (the view is stale), 0 when nothing was going
 * on, -1 with x->e set.
 */
int
vm_settle(struct host *x, struct view *v, jv active)
{
	jv res = hl_json_get(jv_copy(v->managed), x->name), tasks;
	const char *node, *lock;
	double t0 = hl_clock(), limit = x->o->timeout > 0 ? x->o->timeout :
	    VM_AGENT_TIMEOUT;
	int vmid, waited = 0;

	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		jv_free(res);
		res = jv_null();
		jv_array_foreach(v->vms, i, vm) {
			if (hl_pve_get_num(vm, "vmid", -1) == x->vmid &&
			    jv_get_kind(res) == JV_KIND_NULL)
				res = jv_copy(vm);
			jv_free(vm);
		}
	}
	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		jv_free(res);
		return 0;
	}
	node = hl_json_get_str(res, "node");
	vmid = (int)hl_pve_get_num(res, "vmid", -1);
	tasks = node ? hl_json_get(jv_copy(active), node) : jv_null();
	if (jv_get_kind(tasks) == JV_KIND_ARRAY) {
		jv_array_foreach(tasks, i, t) {
			struct hl_err ignore;
			const char *upid = hl_json_get_str(t, "upid"),
			    *id = hl_json_get_str(t, "id");

			long tid = -1;

			if (upid && id && hl_num_long(id, 0, 999999999, &tid) ==
			    0 && tid == vmid) {
				vm_note(x, "waiting for the task "
				    "%s an earlier run left", upid);
				hl_pve_task_wait(x->p, upid, limit, NULL,
				    &ignore);
				waited = 1;
			}
			jv_free(t);
		}
	}
	jv_free(tasks);
	lock = hl_json_get_str(res, "lock");
	if (lock)
		vm_note(x, "VM %d is locked (%s): waiting", vmid, lock);
	if (lock && node) {
		jv conf;
		int w = hl_pve_wait_unlocked(x->p, node, vmid,
		    limit - (hl_clock() - t0), &conf, x->e);

		waited = 1;
		jv_free(conf);
		/* 2: gone, a failed clone removes itself */
		if (w < 0 || w == 1) {
			jv_free(res);
			return w < 0 ? -1 : hl_err_set(x->e, HL_E_FAILED, "%s: "
			    "VM %d is still locked after %.0f s with no task "
			    "of hl's running", x->name, vmid, limit);
		}
	}
	jv_free(res);
	return waited;
}

/* The active tasks of the nodes the picked hosts live on: node -> list. */
int
vm_active_tasks(struct hl_pve *p, const struct hl_lab *lab, const size_t *index,
    size_t n, jv *active, struct hl_err *e)
{
	jv nodes = jv_array(), paths = jv_array();
	size_t i;

	for (i = 0; i < n; i++) {
		jv h = hl_spec_host_json(lab, &lab->hosts[index[i]]);

		if (hl_json_get_str(h, "node"))
			nodes = jv_array_append(nodes, hl_json_get(jv_copy(h),
			    "node"));
		jv_free(h);
	}
	nodes = hl_json_sorted_unique(nodes);
	jv_array_foreach(nodes, k, node) {
		paths = jv_array_append(paths, jv_string_fmt(
		    "/nodes/%s/tasks?source=active&limit=1000",
		    jv_string_value(node)));
		jv_free(node);
	}
	return hl_pve_get_map(p, nodes, paths, active, e);
}

struct run {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const struct hl_vm_opts *o;
	struct view *v;
	jv channels;
	size_t *index;		/* job -> host */
	jv active;		/* node -> its active tasks, read once */
};

/* One host's apply: its result, with "code" its exit status. */
static jv
apply_host(size_t job, int forked, void *arg)
{
	struct run *r = arg;
	size_t i = r->index[job];
	struct hl_err e = { 0 };
	struct host x = { r->p, r->lab, r->o, jv_null(), NULL, NULL, 0, &e,
	    r->o->progress };
	struct view own = VIEW_INIT, *v = r->v;
	jv plan, res = jv_null();
	const char *action;
	int pending = 0, rc = 0;

	x.h = hl_spec_host_json(r->lab, &r->lab->hosts[i]);
	x.name = r->lab->hosts[i].name;
	x.node = hl_json_get_str(x.h, "node");
	x.vmid = (int)hl_pve_get_num(x.h, "vmid", 0);
	if (forked)
		rc = hl_pve_forked(r->p, &e);
	/* what another run left going is waited for, then looked at anew;
	 * a dry run waits for nothing and says what it sees now */
	if (rc == 0 && !r->o->dry_run &&
	    (rc = vm_settle(&x, v, r->active)) > 0) {
		v = &own;
		rc = read_view(r->p, r->lab, v, &e);
	}
	plan = plan_host(r->lab, x.h, v, r->channels, &pending);
	action = hl_json_get_str(plan, "action");
	if (rc < 0)
		;
	else if (action && strcmp(action, "create") == 0) {
		jv conf = hl_json_get_kind(plan, "resume") == JV_KIND_TRUE ? hl_json_get(jv_copy(v->configs), x.name) :
		    jv_null();

		rc = vm_create(&x, r->channels, v->vms, conf, &res);
		jv_free(conf);
	}
	else if (action && strcmp(action, "noop") == 0)
		res = jv_object_set(jv_object_set(jv_object(),
		    jv_string("action"), jv_string("noop")), jv_string("power"),
		    jv_string(declared_stopped(x.h) ? "stopped" : "running"));
	else if (action && strcmp(action, "update") == 0) {
		jv conf = hl_json_get(jv_copy(v->configs), x.name);

		x.vmid = (int)hl_pve_get_num(plan, "vmid", x.vmid);
		rc = vm_update(&x, plan, conf, &res);
		jv_free(conf);
	} else
		rc = hl_err_set(&e, HL_E_REFUSED, "%s: %s", x.name,
		    hl_json_get_str(plan, "reason") ?
		    hl_json_get_str(plan, "reason") : "blocked");
	if (rc < 0) {
		jv_free(res);
		res = vm_failed(x.progress, x.name, &e);
	}
	res = jv_object_set(res, jv_string("name"), jv_string(x.name));
	res = jv_object_set(res, jv_string("node"), x.node ?
	    jv_string(x.node) : jv_null());
	res = jv_object_set(res, jv_string("vmid"), jv_number(x.vmid));
	res = jv_object_set(res, jv_string("code"), jv_number(rc < 0 ?
	    e.code : HL_EXIT_OK));
	jv_free(plan);
	jv_free(x.h);
	free_view(&own);
	return res;
}

/* A host whose worker died: its entry. */
static jv
apply_died(size_t job, const char *how, void *arg)
{
	struct run *r = arg;
	const struct hl_host *h = &r->lab->hosts[r->index[job]];
	struct hl_err de;
	jv res;

	hl_err_set(&de, HL_E_INTERNAL, "%s: its worker %s; run apply again to "
	    "converge", h->name, how);
	res = jv_object_set(vm_failed(r->o->progress, h->name, &de),
	    jv_string("name"), jv_string(h->name));
	return jv_object_set(res, jv_string("code"), jv_number(de.code));
}

/*
 * DESIGN.md 2.2: the channel and the artifact a create clones from must be
 * committed, so the VM's marker names a template the repository records.
 * Refuses (6) naming the first that is not.
 */
static int
committed(const struct hl_lab *lab, const struct view *v, jv channels,
    const size_t *index, size_t n, struct hl_err *e)
{
	const char **paths = calloc(n + 2, sizeof(*paths)), *first = NULL;
	char **own = calloc(n + 1, sizeof(*own));
	size_t i, k = 0;
	int rc = 0, ok;

	if (paths == NULL || own == NULL) {
		rc = hl_err_set(e, HL_E_INTERNAL, "out of memory");
		goto out;
	}
	paths[k++] = "layers/L1/channels.yaml";
	for (i = 0; i < n; i++) {
		const struct hl_host *hh = &lab->hosts[index[i]];
		jv h, tpl;
		char *art;

		if (jv_object_has(jv_copy(v->managed), jv_string(hh->name)))
			continue;	/* not a create */
		h = hl_spec_host_json(lab, hh);
		tpl = hl_json_get(jv_copy(h), "template");
		art = hl_registry_host_artifact(channels, h, NULL);
		if (art && asprintf(&own[i], "layers/L1/artifacts/%s/%s/%s.json",
		    hl_json_get_str(tpl, "name"), hl_json_get_str(h, "node"),
		    art) > 0)
			paths[k++] = own[i];
		free(art);
		jv_free(tpl);
		jv_free(h);
	}
	if (k == 1)
		goto out;	/* no create: nothing is cloned */
	ok = hl_git_committed(lab->root, paths, &first, e);
	if (ok < 0)
		rc = -1;
	else if (ok == 0)
		rc = hl_err_set(e, HL_E_REFUSED, "%s is not committed: a VM is "
		    "made only from a template the repository records (hl-template "
		    "promote commits it), or --allow-dirty", first);
out:
	for (i = 0; own && i < n; i++)
		free(own[i]);
	free(own);
	free(paths);
	return rc;
}

int
hl_vm_apply(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_opts *o, jv *doc,
    struct hl_err *e)
{
	struct view v = VIEW_INIT;
	struct run r = { p, lab, o, &v, hl_registry_channels(lab), NULL,
	    jv_object() };
	jv hosts = jv_array();
	unsigned char *mine = NULL;
	int code = HL_EXIT_OK;
	size_t i, n = 0;

	*doc = jv_null();
	mine = calloc(lab->nhosts + 1, 1);
	r.index = calloc(lab->nhosts + 1, sizeof(*r.index));
	if (mine == NULL || r.index == NULL) {
		code = hl_err_set(e, HL_E_INTERNAL, "out of memory") < 0 ?
		    e->code : 0;
		goto out;
	}
	if (read_view(p, lab, &v, e) < 0 ||
	    (jv_get_kind(o->saved) == JV_KIND_OBJECT &&
	    saved_check(lab, o->saved, &v, r.channels, o->commit, mine,
	    o->progress, e) < 0)) {
		code = e->code;
		goto out;
	}
	if (jv_get_kind(o->saved) != JV_KIND_OBJECT)
		memcpy(mine, picked, lab->nhosts);
	for (i = 0; i < lab->nhosts; i++)
		if (mine[i] && !lab->hosts[i].external)
			r.index[n++] = i;
	if ((!o->allow_dirty && committed(lab, &v, r.channels, r.index, n,
	    e) < 0) || vm_active_tasks(p, lab, r.index, n, &r.active, e) < 0) {
		code = e->code;
		goto out;
	}
	jv_free(hosts);
	hosts = hl_fanout_collect(hl_fanout(n, o->parallel ? o->parallel : 4,
	    apply_host, &r), &code, apply_died, &r);
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (o->dry_run)
		*doc = jv_object_set(*doc, jv_string("dry_run"), jv_true());
	hosts = jv_null();
out:
	jv_free(hosts);
	free(mine);
	free(r.index);
	free_view(&v);
	jv_free(r.channels);
	jv_free(r.active);
	return code;
}

