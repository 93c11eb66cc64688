/*
 * Boot disks (capture.h): vzdump through the Proxmox API for the hosts
 * with boot_capture (appliances no template rebuilds), to lab.yaml's
 * capture.boot storage; the captures listed; one put back over the
 * host's VM (hl's, by tag and marker), its vmid and MAC kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "core/clock.h"
#include "core/exit.h"
#include "core/json.h"
#include "pve/pve.h"
#include "spec/lab.h"
#include "spec/spec.h"
#include "state/owner.h"
#include "state/registry.h"

/* How long a VM may take to be back after a boot-restore. */
#define BOOT_WAIT_S 300

struct bctx {
	struct hl_pve *p;
	const struct hl_cp_opts *o;
	const char *storage, *mode;
	int keep;
	const char *name, *node;
	int vmid;
	struct hl_err *e;
};

/* A task started by METHOD path, waited for. */
static int
task(struct bctx *x, const char *method, const char *path, jv params)
{
	return hl_pve_run_task(x->p, method, path, params, 0, x->name, NULL,
	    x->e);
}

/* The VM's backups on the storage, oldest first: [{volid, size, ctime}]. */
static int
backups(struct bctx *x, jv *list)
{
	char path[400];
	jv data, out = jv_array();

	snprintf(path, sizeof(path), "/nodes/%s/storage/%s/content?"
	    "content=backup&vmid=%d", x->node, x->storage, x->vmid);
	*list = jv_null();
	if (hl_pve_get(x->p, path, &data, x->e) < 0)
		return -1;
	if (jv_get_kind(data) == JV_KIND_ARRAY)
		jv_array_foreach(data, i, b) {
			if (hl_json_get_str(b, "volid"))
				out = jv_array_append(out, JV_OBJECT(
				    jv_string("volid"), hl_json_get(jv_copy(b),
				    "volid"), jv_string("size"),
				    hl_json_get(jv_copy(b), "size"),
				    jv_string("ctime"), hl_json_get(jv_copy(b),
				    "ctime")));
			jv_free(b);
		}
	jv_free(data);
	/* oldest first: sorted by ctime, then volid (whose name carries the
	 * time too) */
	{
		jv keys = jv_array();

		jv_array_foreach(out, i, b) {
			keys = jv_array_append(keys, JV_ARRAY(hl_json_get(
			    jv_copy(b), "ctime"), hl_json_get(jv_copy(b),
			    "volid")));
			jv_free(b);
		}
		*list = jv_sort(out, keys);
	}
	return 0;
}

/* boot: vzdump of the VM, then the captures past keep removed. */
static int
boot_one(struct bctx *x, jv *entry)
{
	char path[1100];
	jv params, list, last, pruned = jv_array();
	double t0 = hl_clock();
	int n;

	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "vzdump of VM %d "
	    "on %s to %s (%s)", x->vmid, x->node, x->storage, x->mode);
	snprintf(path, sizeof(path), "/nodes/%s/vzdump", x->node);
	params = JV_OBJECT(jv_string("vmid"), jv_number(x->vmid),
	    jv_string("storage"), jv_string(x->storage), jv_string("mode"),
	    jv_string(x->mode), jv_string("compress"), jv_string("zstd"));
	if (task(x, "POST", path, params) < 0 || backups(x, &list) < 0)
		return -1;
	n = jv_array_length(jv_copy(list));
	if (n == 0) {
		jv_free(list);
		return hl_err_set(x->e, HL_E_FAILED, "%s: vzdump ended, but %s "
		    "holds no backup of VM %d", x->name, x->storage, x->vmid);
	}
	last = jv_array_get(jv_copy(list), n - 1);
	*entry = jv_object_set(*entry, jv_string("volid"),
	    hl_json_get(jv_copy(last), "volid"));
	*entry = jv_object_set(*entry, jv_string("size"),
	    hl_json_get(jv_copy(last), "size"));
	jv_free(last);
	/* the oldest beyond keep go */
	for (int i = 0; i + x->keep < n; i++) {
		jv b = jv_array_get(jv_copy(list), i);
		char vol[600];

		if (hl_pve_segment(hl_json_get_str(b, "volid"), vol,
		    sizeof(vol)) < 0) {
			jv_free(b);
			continue;	/* no volid of PVE's is that long */
		}
		snprintf(path, sizeof(path), "/nodes/%s/storage/%s/content/%s",
		    x->node, x->storage, vol);
		/* an imgdel task: waited for, so the list after it is true */
		if (task(x, "DELETE", path, jv_null()) < 0) {
			jv_free(b);
			jv_free(list);
			jv_free(pruned);
			return -1;
		}
		pruned = jv_array_append(pruned, hl_json_get(b, "volid"));
	}
	jv_free(list);
	*entry = jv_object_set(*entry, jv_string("pruned"), pruned);
	*entry = jv_object_set(*entry, jv_string("action"),
	    jv_string("captured"));
	*entry = jv_object_set(*entry, jv_string("duration_s"),
	    jv_number((double)(long)((hl_clock() - t0) * 10 + 0.5) / 10));
	return 0;
}

/* The capture o->volid names (the latest when NULL or "latest"): {volid,
 * size, ctime}; or -1 with x->e. */
static int
pick_capture(struct bctx *x, jv *pick)
{
	const char *volid = x->o->volid && strcmp(x->o->volid, "latest") != 0 ?
	    x->o->volid : NULL;
	jv list;
	int n;

	*pick = jv_null();
	if (backups(x, &list) < 0)
		return -1;
	n = jv_array_length(jv_copy(list));
	jv_array_foreach(list, i, b) {
		if (volid == NULL ? i == n - 1 :
		    strcmp(hl_json_get_str(b, "volid"), volid) == 0) {
			jv_free(*pick);
			*pick = b;
		} else
			jv_free(b);
	}
	jv_free(list);
	if (jv_get_kind(*pick) != JV_KIND_OBJECT) {
		jv_free(*pick);
		*pick = jv_null();
		return hl_err_set(x->e, HL_E_FAILED, "%s: %s is not a boot "
		    "capture of VM %d on %s (hl-capture boot-list %s)", x->name,
		    volid ? volid : "latest", x->vmid, x->storage, x->name);
	}
	return 0;
}

/*
 * boot --as-template NAME: the capture restored to a new VM of NAME's
 * vmid range (unique: MACs and ids its own), marked and tagged as an hl
 * template, converted to a template, and recorded as an artifact of NAME
 * on the node, as hl-template build records one: promotable like any
 * other.  What a failure left is removed.
 */
static int
template_one(struct bctx *x, const struct hl_lab *lab, jv *entry)
{
	const char *name = x->o->as_template;
	jv def = hl_json_get(jv_copy(lab->templates), name), pick, a, defaults;
	const char *src = NULL;
	char path[400], digest[65], id[32], buf[1024], tag[300];
	double t0 = hl_clock();
	int vmid = 0, rc = -1;

	if (jv_get_kind(def) == JV_KIND_OBJECT) {
		jv b = jv_getpath(jv_copy(def), JV_ARRAY(jv_string("source"),
		    jv_string("boot_capture")));

		src = jv_get_kind(b) == JV_KIND_STRING &&
		    strcmp(jv_string_value(b), x->name) == 0 ? x->name : NULL;
		jv_free(b);
	}
	if (src == NULL) {
		jv_free(def);
		return hl_err_set(x->e, HL_E_LAB, "%s: no template definition "
		    "made from its boot capture: layers/L1/templates/%s.yaml "
		    "with source: {boot_capture: %s}", x->name, name, x->name);
	}
	if (pick_capture(x, &pick) < 0) {
		jv_free(def);
		return -1;
	}
	*entry = jv_object_set(*entry, jv_string("volid"),
	    hl_json_get(jv_copy(pick), "volid"));
	{
		jv r = hl_json_get(jv_copy(def), "vmids");
		int first = (int)hl_pve_get_num(r, "first", 0),
		    last = (int)hl_pve_get_num(r, "last", -1);

		int got = hl_pve_free_vmid(x->p, first, last, &vmid, x->e);

		jv_free(r);
		if (got > 0)
			hl_err_set(x->e, HL_E_FAILED, "template %s: every vmid "
			    "of its range %d-%d is taken", name, first, last);
		if (got != 0)
			goto out;	/* rc -1, no VM made */
	}
	hl_registry_digest(lab, name, digest);
	hl_registry_new_id(id, sizeof(id));
	defaults = hl_json_get(jv_copy(lab->spec), "defaults");
	{
		jv d = jv_getpath(jv_copy(def), JV_ARRAY(jv_string("storage"),
		    jv_string("disk")));
		jv params = JV_OBJECT(jv_string("vmid"), jv_number(vmid),
		    jv_string("archive"), hl_json_get(jv_copy(pick), "volid"),
		    jv_string("unique"), jv_true());

		if (jv_get_kind(d) == JV_KIND_STRING)
			params = jv_object_set(params, jv_string("storage"), d);
		else
			jv_free(d);
		if (hl_json_get_str(defaults, "pool"))
			params = jv_object_set(params, jv_string("pool"),
			    hl_json_get(jv_copy(defaults), "pool"));
		hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "restoring "
		    "%s to VM %d, for template %s", hl_json_get_str(pick,
		    "volid"), vmid, name);
		snprintf(path, sizeof(path), "/nodes/%s/qemu", x->node);
		rc = task(x, "POST", path, params);
	}
	jv_free(defaults);
	if (rc < 0) {
		vmid = 0;	/* a failed restore leaves no VM */
		goto out;
	}
	/* hl's template from now on: its tag and marker, not the host's */
	hl_owner_tag(hl_json_str(lab->id), tag, sizeof(tag));
	hl_owner_marker(buf, sizeof(buf), hl_json_str(lab->id), "template",
	    name, "digest", digest, "artifact", id, (char *)NULL);
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/config", x->node,
	    vmid);
	{
		char vname[64];
		jv data;

		snprintf(vname, sizeof(vname), "%s-%.8s", name, digest);
		rc = hl_pve_call(x->p, HL_PVE_ONCE, "PUT", path, JV_OBJECT(
		    jv_string("name"), jv_string(vname), jv_string("tags"),
		    jv_string_fmt("%s;hl-template", tag),
		    jv_string("description"), jv_string(buf),
		    jv_string("delete"), jv_string("onboot")), &data, NULL,
		    x->e);
		jv_free(data);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/template",
		    x->node, vmid);
		rc = task(x, "POST", path, jv_object());
	}
	if (rc < 0)
		goto out;
	{
		jv st = jv_getpath(jv_copy(def), JV_ARRAY(jv_string("storage"),
		    jv_string("disk")));
		struct hl_registry_made m = { id, name, x->node, digest,
			jv_get_kind(st) == JV_KIND_STRING ? jv_string_value(st) :
			NULL, vmid, x->o->commit, x->o->version };

		a = hl_registry_artifact_new(&m, JV_OBJECT(
		    jv_string("boot_capture"), JV_OBJECT(jv_string("host"),
		    jv_string(x->name), jv_string("volid"),
		    hl_json_get(jv_copy(pick), "volid"))));
		jv_free(st);
	}
	rc = hl_registry_write(lab, a, x->e);
	if (rc == 0) {
		*entry = jv_object_set(*entry, jv_string("action"),
		    jv_string("template"));
		*entry = jv_object_set(*entry, jv_string("template"),
		    jv_string(name));
		*entry = jv_object_set(*entry, jv_string("artifact"), a);
		*entry = jv_object_set(*entry, jv_string("duration_s"),
		    jv_number((double)(long)((hl_clock() - t0) * 10 + 0.5) /
		    10));
		hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "template %s: "
		    "artifact %s on %s (VM %d); hl-template promote %s makes "
		    "hosts use it", name, id, x->node, vmid, name);
	} else
		jv_free(a);
out:
	if (rc < 0 && vmid > 0) {
		/* what this made goes: the VM restored from the capture */
		struct hl_err de = { 0 };
		struct hl_err *keep = x->e;

		x->e = &de;
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d?purge=1",
		    x->node, vmid);
		task(x, "DELETE", path, jv_null());
		x->e = keep;
	}
	jv_free(pick);
	jv_free(def);
	return rc < 0 ? -1 : 0;
}

/* boot-restore: the VM stopped, the capture restored over it (force: its
 * vmid; its MAC as archived), started, and back (the agent answers). */
static int
restore_one(struct bctx *x, jv *entry)
{
	char path[400];
	jv pick, st;
	double t0 = hl_clock();
	int rc;

	if (pick_capture(x, &pick) < 0)
		return -1;
	*entry = jv_object_set(*entry, jv_string("volid"),
	    hl_json_get(jv_copy(pick), "volid"));
	if (!x->o->yes) {
		jv_free(pick);
		return hl_err_set(x->e, HL_E_REFUSED, "%s: boot-restore replaces "
		    "VM %d's disks with the capture: add --yes", x->name,
		    x->vmid);
	}
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/status/current",
	    x->node, x->vmid);
	rc = hl_pve_get(x->p, path, &st, x->e);
	if (rc == 0 && strcmp(hl_json_get_str(st, "status") ?
	    hl_json_get_str(st, "status") : "", "running") == 0) {
		hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "stopping VM "
		    "%d", x->vmid);
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/status/stop",
		    x->node, x->vmid);
		rc = task(x, "POST", path, jv_null());
	}
	jv_free(st);
	if (rc == 0) {
		hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "restoring %s "
		    "over VM %d", hl_json_get_str(pick, "volid"), x->vmid);
		snprintf(path, sizeof(path), "/nodes/%s/qemu", x->node);
		rc = task(x, "POST", path, JV_OBJECT(jv_string("vmid"),
		    jv_number(x->vmid), jv_string("archive"),
		    hl_json_get(jv_copy(pick), "volid"), jv_string("force"),
		    jv_true()));
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/status/start",
		    x->node, x->vmid);
		rc = task(x, "POST", path, jv_null());
	}
	if (rc == 0) {
		rc = hl_pve_wait_booted(x->p, x->node, x->vmid, BOOT_WAIT_S,
		    x->e);
		if (rc == 1)
			rc = hl_err_set(x->e, HL_E_TIMEOUT, "%s: VM %d not back "
			    "within %d s of its boot-restore", x->name, x->vmid,
			    BOOT_WAIT_S);
	}
	jv_free(pick);
	if (rc < 0)
		return -1;
	*entry = jv_object_set(*entry, jv_string("action"),
	    jv_string("restored"));
	*entry = jv_object_set(*entry, jv_string("duration_s"),
	    jv_number((double)(long)((hl_clock() - t0) * 10 + 0.5) / 10));
	hl_note(x->o->progress, HL_NOTE_PROGRESS, x->name, "VM %d is back",
	    x->vmid);
	return 0;
}

int
hl_cp_boot(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cp_opts *o, jv *res,
    struct hl_err *e)
{
	jv boot = jv_getpath(jv_copy(lab->spec), JV_ARRAY(jv_string("capture"),
	    jv_string("boot"))), vms = jv_null(), hosts = jv_array();
	struct bctx x = { .p = p, .o = o };
	int code = 0;

	*res = jv_null();
	x.storage = hl_json_get_str(boot, "storage");
	x.mode = hl_json_get_str(boot, "mode") ? hl_json_get_str(boot, "mode") :
	    "snapshot";
	x.keep = hl_json_get_kind(boot, "keep") == JV_KIND_NUMBER ?
	    (int)jv_number_value(hl_json_get(jv_copy(boot), "keep")) : 3;
	if (x.storage == NULL) {
		jv_free(boot);
		jv_free(hosts);
		return hl_err_set(e, HL_E_LAB, "lab.yaml has no capture.boot: "
		    "no storage for boot disks"), e->code;
	}
	if (hl_pve_vms(p, &vms, e) < 0) {
		jv_free(boot);
		jv_free(hosts);
		return e->code;
	}
	for (size_t i = 0; i < lab->nhosts; i++) {
		const struct hl_host *h = &lab->hosts[i];
		jv hj, vm = jv_null(), entry;
		struct hl_err he = { 0 };
		int rc = 0;

		if (picked && !picked[i])
			continue;
		hj = hl_spec_host_json(lab, h);
		entry = jv_object_set(jv_object(), jv_string("name"),
		    jv_string(h->name));
		x.name = h->name;
		x.e = &he;
		if (hl_json_get_kind(hj, "boot_capture") != JV_KIND_TRUE) {
			if (o->verb == HL_CP_BOOT_RESTORE || o->as_template)
				rc = hl_err_set(&he, HL_E_REFUSED, "%s: not a "
				    "boot_capture host", h->name);
			else {
				entry = jv_object_set(entry, jv_string("action"),
				    jv_string("none"));
				entry = jv_object_set(entry, jv_string("reason"),
				    jv_string("its boot disk is not captured "
				    "(boot_capture)"));
			}
		} else if (o->verb == HL_CP_BOOT && o->as_template) {
			/* the captures of the host's vmid on its node, whether
			 * its VM is there or not */
			x.node = hl_json_get_str(hj, "node");
			x.vmid = (int)hl_pve_get_num(hj, "vmid", 0);
			entry = jv_object_set(entry, jv_string("node"),
			    jv_string(x.node ? x.node : ""));
			entry = jv_object_set(entry, jv_string("vmid"),
			    jv_number(x.vmid));
			rc = x.node && x.vmid > 0 ? template_one(&x, lab,
			    &entry) : hl_err_set(&he, HL_E_LAB, "%s: no node "
			    "and vmid in its specs", h->name);
		} else if ((rc = hl_owner_find(p, vms, hl_json_str(lab->id),
		    h->name, &vm, &he)) == 0) {
			x.node = hl_json_get_str(vm, "node");
			x.vmid = (int)hl_pve_get_num(vm, "vmid", 0);
			entry = jv_object_set(entry, jv_string("node"),
			    jv_string(x.node));
			entry = jv_object_set(entry, jv_string("vmid"),
			    jv_number(x.vmid));
			if (o->verb == HL_CP_BOOT)
				rc = boot_one(&x, &entry);
			else if (o->verb == HL_CP_BOOT_RESTORE)
				rc = restore_one(&x, &entry);
			else {
				jv list;

				rc = backups(&x, &list);
				entry = jv_object_set(entry,
				    jv_string("captures"), rc == 0 ? list :
				    (jv_free(list), jv_array()));
			}
		}
		if (rc < 0) {
			hl_note(o->progress, HL_NOTE_ERROR, NULL, "%s", he.msg);
			entry = jv_object_set(entry, jv_string("error"),
			    hl_json_err(&he));
			code = hl_exit_worse(code, he.code);
		}
		hosts = jv_array_append(hosts, entry);
		jv_free(vm);
		jv_free(hj);
	}
	jv_free(vms);
	jv_free(boot);
	*res = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (code > 1)
		hl_err_set(e, code == HL_EXIT_REFUSED ? HL_E_REFUSED :
		    HL_E_FAILED, "%s", code == HL_EXIT_REFUSED ? "refused on "
		    "a host (see its error)" : "failed on a host (see its "
		    "error)");
	return code;
}
