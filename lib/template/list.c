/* hl-template list: artifacts, channels, whether each template still
 * exists and which VMs were cloned from it (their description marker). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "state/owner.h"
#include "state/registry.h"
#include "template/template_impl.h"

/* The description in the config read from path, or "". */
static const char *
desc_of(jv configs, const char *path)
{
	jv conf = hl_json_get(jv_copy(configs), path);
	const char *d = hl_json_get_str(conf, "description");

	jv_free(conf);	/* d stays valid: configs holds the value */
	return d ? d : "";
}

/* Whether the VM at path's marker names artifact id. */
static int
is_clone(jv configs, const char *path, const char *id)
{
	char *art = hl_owner_get(desc_of(configs, path), "artifact");
	int yes = art && strcmp(art, id) == 0;

	free(art);
	return yes;
}

/* Every VM, and the configs of those tagged hl-<labid> by their path. */
static int
cluster_view(struct hl_pve *p, const struct hl_lab *lab, jv *vms, jv *descs,
    struct hl_err *e)
{
	jv paths = jv_array();
	int rc;

	*vms = jv_array();
	*descs = jv_object();
	jv_free(*vms);
	rc = hl_pve_vms(p, vms, e);
	if (rc == 0) {
		jv_array_foreach(*vms, i, v) {
			if (hl_owner_tagged(hl_json_get_str(v, "tags"),
			    hl_json_str(lab->id)))
				paths = jv_array_append(paths, jv_string_fmt(
				    "/nodes/%s/qemu/%.0f/config",
				    hl_json_get_str(v, "node"), hl_pve_get_num(v, "vmid",
				    0)));
			jv_free(v);
		}
		rc = hl_pve_get_map(p, jv_copy(paths), jv_copy(paths), descs, e);
	}
	jv_free(paths);
	return rc;
}

int
hl_tpl_list(struct hl_pve *p, const struct hl_lab *lab, const char *only,
    jv *doc, struct hl_err *e)
{
	jv vms = jv_null(), descs = jv_null(), out = jv_array(),
	    channels = jv_null();
	int code = HL_EXIT_OK;

	*doc = jv_null();
	if (only && hl_tpl_known(lab, only, e) < 0) {
		code = e->code;
		goto out;
	}
	if (cluster_view(p, lab, &vms, &descs, e) < 0) {
		code = e->code;
		goto out;
	}
	channels = hl_registry_channels(lab);
	jv_object_foreach(lab->templates, name, def) {
		const char *nm = jv_string_value(name);
		jv arts, list = jv_array();

		if (only && strcmp(only, nm) != 0) {
			jv_free(name);
			jv_free(def);
			continue;
		}
		arts = hl_registry_artifacts(lab, nm, NULL);
		jv_array_foreach(arts, i, a) {
			const char *node = hl_json_get_str(a, "node"),
			    *id = hl_json_get_str(a, "id");
			double vmid = hl_pve_get_num(a, "vmid", -1);
			int exists = 0;
			jv clones = jv_array();

			jv_array_foreach(vms, k, v) {
				const char *vn = hl_json_get_str(v, "node");
				char path[128];

				if (vn && node && strcmp(vn, node) == 0 &&
				    hl_pve_get_num(v, "vmid", -2) == vmid &&
				    hl_pve_get_num(v, "template", 0) == 1)
					exists = 1;
				snprintf(path, sizeof(path),
				    "/nodes/%s/qemu/%.0f/config", vn ? vn : "",
				    hl_pve_get_num(v, "vmid", 0));
				if (hl_pve_get_num(v, "template", 0) == 0 && id &&
				    is_clone(descs, path, id))
					clones = jv_array_append(clones,
					    jv_number(hl_pve_get_num(v, "vmid", 0)));
				jv_free(v);
			}
			a = jv_object_set(a, jv_string("exists"),
			    jv_bool(exists));
			a = jv_object_set(a, jv_string("clones"), clones);
			list = jv_array_append(list, a);
		}
		jv_free(arts);
		out = jv_array_append(out, jv_object_set(jv_object_set(
		    jv_object_set(jv_object(), jv_string("name"),
		    jv_copy(name)), jv_string("artifacts"), list),
		    jv_string("channels"), hl_json_get(jv_copy(channels), nm)));
		jv_free(name);
		jv_free(def);
	}
	*doc = jv_object_set(jv_object(), jv_string("templates"), out);
	out = jv_null();
out:
	jv_free(out);
	jv_free(channels);
	jv_free(vms);
	jv_free(descs);
	return code;
}
