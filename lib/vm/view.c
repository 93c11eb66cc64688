/*
 * L2's view of the cluster (vm_impl.h): the lab's VMs found by tag and
 * name in one resources call, their configs read in one batch, and for a
 * running VM what it runs with (pending and cloud-init put back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "state/owner.h"
#include "vm/vm_impl.h"

/*
 * A running VM's configuration as it runs: what waits in pending put back
 * to its current value, and the cloud-init options to the ones its drive
 * was generated from (GET .../pending and .../cloudinit).
 */
static jv
current_config(jv conf, jv pending, jv ci)
{
	jv lists[2] = { pending, ci };

	for (int l = 0; l < 2; l++) {
		if (jv_get_kind(lists[l]) != JV_KIND_ARRAY) {
			jv_free(lists[l]);
			continue;
		}
		jv_array_foreach(lists[l], i, it) {
			jv key = hl_json_get(jv_copy(it), "key"),
			    val = hl_json_get(jv_copy(it), "value");
			int changes = jv_object_has(jv_copy(it),
			    jv_string("pending")) || jv_object_has(jv_copy(it),
			    jv_string("delete"));

			if (jv_get_kind(key) != JV_KIND_STRING || !changes) {
				jv_free(key);
				jv_free(val);
			} else if (jv_get_kind(val) == JV_KIND_NULL) {
				jv_free(val);
				conf = jv_object_delete(conf, key);
			} else {
				conf = jv_object_set(conf, key, val);
			}
			jv_free(it);
		}
		jv_free(lists[l]);
	}
	return conf;
}

int
read_view(struct hl_pve *p, const struct hl_lab *lab, struct view *v,
    struct hl_err *e)
{
	char path[200];
	jv names = jv_array(), paths = jv_array(), run = jv_array(),
	    runpaths = jv_array(), extra = jv_object();
	int rc = 0;

	v->managed = jv_object();
	v->configs = jv_object();
	v->current = jv_object();
	if (hl_pve_vms(p, &v->vms, e) < 0)
		goto out_err;
	jv_array_foreach(v->vms, i, vm) {
		const char *name = hl_json_get_str(vm, "name"),
		    *st = hl_json_get_str(vm, "status");

		/* a clone still has its template's hl-template tag until its
		 * configuration: templates are told by template=1 */
		if (name && hl_owner_tagged(hl_json_get_str(vm, "tags"),
		    hl_json_str(lab->id)) &&
		    hl_pve_get_num(vm, "template", 0) == 0 &&
		    !jv_object_has(jv_copy(v->managed), jv_string(name))) {
			v->managed = jv_object_set(v->managed,
			    jv_string(name), jv_copy(vm));
			snprintf(path, sizeof(path), "/nodes/%s/qemu/%.0f",
			    hl_json_get_str(vm, "node"), hl_pve_get_num(vm,
			    "vmid", -1));
			names = jv_array_append(names, jv_string(name));
			paths = jv_array_append(paths, jv_string_fmt(
			    "%s/config", path));
			if (st && strcmp(st, "running") == 0) {
				run = jv_array_append(run, jv_string_fmt(
				    "%s\n1", name));
				run = jv_array_append(run, jv_string_fmt(
				    "%s\n2", name));
				runpaths = jv_array_append(runpaths,
				    jv_string_fmt("%s/pending", path));
				runpaths = jv_array_append(runpaths,
				    jv_string_fmt("%s/cloudinit", path));
			}
		}
		jv_free(vm);
	}
	/* the configs, and for running VMs what waits for a reboot */
	paths = jv_array_concat(paths, jv_copy(runpaths));
	names = jv_array_concat(names, jv_copy(run));
	if (hl_pve_get_map(p, jv_copy(names), jv_copy(paths), &extra, e) < 0)
		goto out_err;
	jv_object_foreach(v->managed, name, res) {
		jv conf = hl_json_get(jv_copy(extra), jv_string_value(name));
		char k1[300], k2[300];

		snprintf(k1, sizeof(k1), "%s\n1", jv_string_value(name));
		snprintf(k2, sizeof(k2), "%s\n2", jv_string_value(name));
		if (jv_object_has(jv_copy(extra), jv_string(k1)))
			v->current = jv_object_set(v->current, jv_copy(name),
			    current_config(jv_copy(conf), hl_json_get(
			    jv_copy(extra), k1), hl_json_get(jv_copy(extra),
			    k2)));
		v->configs = jv_object_set(v->configs, name, conf);
		jv_free(res);
	}
	goto out;
out_err:
	rc = -1;
out:
	jv_free(names);
	jv_free(paths);
	jv_free(run);
	jv_free(runpaths);
	jv_free(extra);
	return rc;
}

void
free_view(struct view *v)
{
	jv_free(v->vms);
	jv_free(v->managed);
	jv_free(v->configs);
	jv_free(v->current);
}

