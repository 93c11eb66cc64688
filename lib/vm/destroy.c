/*
 * hl-vm destroy: only the VMs hl made for the host (tag and marker), stop
 * then purge, their .hl/known_hosts lines dropped.
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
#include "core/num.h"
#include "core/progress.h"
#include "ssh/known_hosts.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

int
hl_vm_destroy(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_opts *o, jv *doc,
    struct hl_err *err)
{
	const struct hl_progress *progress = o->progress;
	int yes = o->yes && !o->dry_run;	/* a dry run never does it */
	struct view v = VIEW_INIT;
	struct hl_err e = { 0 };
	jv hosts = jv_array();
	int code = HL_EXIT_OK, would = 0;
	size_t i;

	*doc = jv_null();
	if (read_view(p, lab, &v, err) < 0) {
		code = err->code;
		goto out;
	}
	for (i = 0; i < lab->nhosts; i++) {
		struct host x = { p, lab, NULL, jv_null(), lab->hosts[i].name,
		    NULL, 0, &e, progress };
		jv res = hl_json_get(jv_copy(v.managed), x.name), conf, out;
		const char *action = "absent";
		int rc = 0;

		if (!picked[i] || lab->hosts[i].external) {
			jv_free(res);
			continue;
		}
		memset(&e, 0, sizeof(e));
		conf = hl_json_get(jv_copy(v.configs), x.name);
		if (jv_get_kind(res) == JV_KIND_OBJECT) {
			x.node = hl_json_get_str(res, "node");
			x.vmid = (int)hl_pve_get_num(res, "vmid", 0);
			/* tag and marker both: hl made it for this host */
			if (!hl_owner_is(res, conf, hl_json_str(lab->id),
			    "host", x.name))
				rc = hl_err_set(&e, HL_E_REFUSED, "%s: VM %d "
				    "has no marker of this lab and host: not "
				    "hl's to destroy", x.name, x.vmid);
			else if (!yes) {
				action = "would_destroy";
				if (o->dry_run)
					vm_note(&x, "would destroy VM %d on %s",
					    x.vmid, x.node);
			} else {
				char path[300];

				vm_path(&x, path, sizeof(path), "/status/stop");
				if (vm_task(&x, "POST", path, jv_null(),
				    HL_PVE_ONCE) == 0) {
					snprintf(path, sizeof(path), "/nodes/%s/"
					    "qemu/%d?purge=1&destroy-"
					    "unreferenced-disks=1", x.node,
					    x.vmid);
					rc = vm_task(&x, "DELETE", path, jv_null(),
					    HL_PVE_ONCE);
				} else {
					rc = -1;
				}
				if (rc == 0) {
					struct hl_err ke;

					action = "destroyed";
					vm_note(&x, "destroyed VM %d on %s",
					    x.vmid, x.node);
					if (hl_known_hosts_set(lab->root,
					    x.name, NULL, &ke) < 0 ||
					    hl_known_hosts_set_address(
					    lab->root, x.name, NULL, &ke) < 0)
						hl_note(progress,
						    HL_NOTE_WARNING, x.name,
						    "%s", ke.msg);
				}
			}
		}
		out = jv_object_set(jv_object(), jv_string("name"),
		    jv_string(x.name));
		out = jv_object_set(out, jv_string("node"), x.node ?
		    jv_string(x.node) : jv_null());
		out = jv_object_set(out, jv_string("vmid"), x.vmid ?
		    jv_number(x.vmid) : jv_null());
		if (rc < 0) {
			jv f = vm_failed(progress, x.name, &e);

			out = jv_object_merge(out, f);
			code = hl_exit_worse(code, e.code);
		} else {
			out = jv_object_set(out, jv_string("action"),
			    jv_string(action));
			if (strcmp(action, "would_destroy") == 0) {
				if (!o->dry_run)
					code = hl_exit_worse(code,
					    HL_EXIT_REFUSED);
				would = 1;
			}
		}
		hosts = jv_array_append(hosts, out);
		jv_free(conf);
		jv_free(res);
	}
	/* a dry run refuses another cluster where the stop would */
	if (o->dry_run && would && hl_pve_check_cluster(p, err) < 0) {
		code = err->code;
		goto out;
	}
	if (!yes && would && !o->dry_run)
		hl_err_set(err, HL_E_REFUSED, "destroy would remove the listed "
		    "VMs: --yes to do it");
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (o->dry_run)
		*doc = jv_object_set(*doc, jv_string("dry_run"), jv_true());
	hosts = jv_null();
out:
	jv_free(hosts);
	free_view(&v);
	return code;
}
