/*
 * Runway's verdicts on what the hosts use on each node: storages (content
 * types, free space), bridges (VLAN-aware when a host sets a tag), the
 * templates their channels point to, and their vmids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "runway/runway_impl.h"
#include "state/registry.h"

#define DEFAULT_MIN_FREE_GIB 10
#define DEFAULT_MIN_FREE_PERCENT 5

/* Storage types whose content is files (import needs one). */
static const char *const file_types[] = { "dir", "nfs", "cifs", "cephfs",
	"glusterfs", "btrfs", NULL };

static int
is_file_type(const char *type)
{
	for (int i = 0; file_types[i]; i++)
		if (strcmp(type, file_types[i]) == 0)
			return 1;
	return 0;
}

/* ---- storages, bridges ------------------------------------------------ */

/* needs: "images", "import", "snippets" the storage must hold. */
void
rw_check_storage(struct rw *c, const char *node, const char *storage, jv needs,
    struct hl_pve_req *list)
{
	char id[300];
	jv s, th, data;
	const char *content, *type;
	double total, avail, min_gib = DEFAULT_MIN_FREE_GIB,
	    min_pct = DEFAULT_MIN_FREE_PERCENT;
	struct hl_buf lack = { 0 };

	snprintf(id, sizeof(id), "storage:%s/%s", node, storage);
	if (list->rc < 0) {
		rw_add(c, id, "fail", jv_null(), "%s", list->err.msg);
		jv_free(needs);
		return;
	}
	s = rw_find(list->data, "storage", storage);
	if (jv_get_kind(s) == JV_KIND_NULL) {
		rw_add(c, id, "fail", jv_null(), "storage '%s' does not exist on "
		    "node %s", storage, node);
		jv_free(s);
		jv_free(needs);
		return;
	}
	th = hl_json_get(jv_copy(c->lab->runway), "storage");
	if (jv_get_kind(th) == JV_KIND_OBJECT) {
		if (jv_object_has(jv_copy(th), jv_string("min_free_gib")))
			min_gib = hl_pve_get_num(th, "min_free_gib", 0);
		if (jv_object_has(jv_copy(th), jv_string("min_free_percent")))
			min_pct = hl_pve_get_num(th, "min_free_percent", 0);
	}
	jv_free(th);
	content = hl_json_get_str(s, "content");
	type = hl_json_get_str(s, "type");
	total = hl_pve_get_num(s, "total", 0);
	avail = hl_pve_get_num(s, "avail", 0);
	data = jv_object_set(jv_object(), jv_string("type"),
	    jv_string(type ? type : ""));
	data = jv_object_set(data, jv_string("shared"),
	    jv_bool(hl_pve_get_num(s, "shared", 0) != 0));
	data = jv_object_set(data, jv_string("total"), jv_number(total));
	data = jv_object_set(data, jv_string("avail"), jv_number(avail));
	data = jv_object_set(data, jv_string("needs"), jv_copy(needs));
	jv_array_foreach(needs, i, need) {
		char pad[2048], w[64];

		snprintf(pad, sizeof(pad), ",%s,", content ? content : "");
		snprintf(w, sizeof(w), ",%s,", jv_string_value(need));
		if (strstr(pad, w) == NULL)
			hl_buf_printf(&lack, "%s%s", lack.len ? ", " : "",
			    jv_string_value(need));
		jv_free(need);
	}
	if (hl_pve_get_num(s, "active", 0) == 0)
		rw_add(c, id, "fail", data, "storage '%s' on %s is not active",
		    storage, node);
	else if (lack.len)
		rw_add(c, id, "fail", data, "storage '%s' on %s lacks content "
		    "type %s (it has %s)", storage, node, hl_buf_str(&lack),
		    content ? content : "none");
	else if (rw_has_str(jv_copy(needs), "import") && type &&
	    !is_file_type(type))
		rw_add(c, id, "fail", data, "storage '%s' on %s is of type %s: "
		    "import needs a file storage", storage, node, type);
	else if (avail < min_gib * (1 << 30) ||
	    (total > 0 && 100.0 * avail / total < min_pct))
		rw_add(c, id, "fail", data, "storage '%s' on %s has %.1f GiB "
		    "free (%.0f%%): below %.0f GiB or %.0f%% (layers/L0/"
		    "runway.yaml)", storage, node, avail / (1 << 30),
		    total > 0 ? 100.0 * avail / total : 0, min_gib, min_pct);
	else
		rw_add(c, id, "ok", data, "storage '%s' on %s: active, %s, "
		    "%.1f GiB free%s", storage, node, content ? content : "",
		    avail / (1 << 30), hl_pve_get_num(s, "shared", 0) ? ", shared" : "");
	hl_buf_free(&lack);
	jv_free(needs);
	jv_free(s);
}

void
rw_check_bridge(struct rw *c, const char *node, const char *bridge, int vlan,
    struct hl_pve_req *list)
{
	char id[300];
	jv b;

	snprintf(id, sizeof(id), "bridge:%s/%s", node, bridge);
	if (list->rc < 0) {
		rw_add(c, id, "fail", jv_null(), "%s", list->err.msg);
		return;
	}
	b = rw_find(list->data, "iface", bridge);
	if (jv_get_kind(b) == JV_KIND_NULL)
		rw_add(c, id, "fail", jv_null(), "bridge '%s' does not exist on "
		    "node %s", bridge, node);
	else if (hl_pve_get_num(b, "active", 0) == 0)
		rw_add(c, id, "fail", jv_null(), "bridge '%s' on %s is not "
		    "active", bridge, node);
	else if (vlan && hl_pve_get_num(b, "bridge_vlan_aware", 0) == 0)
		rw_add(c, id, "fail", jv_null(), "bridge '%s' on %s is not "
		    "VLAN-aware, and a host sets a VLAN tag", bridge, node);
	else
		rw_add(c, id, "ok", jv_null(), "bridge '%s' on %s is active%s",
		    bridge, node, vlan ? " and VLAN-aware" : "");
	jv_free(b);
}

/* ---- templates and vmids ---------------------------------------------- */

/*
 * The artifact a channel points to (layers/L1/artifacts/NAME/NODE/ID.json,
 * written by hl-template) names its template's vmid: that template must
 * be on the node.
 */
static void
check_artifact(struct rw *c, const char *id, const char *name,
    const char *node, const char *art, jv vms)
{
	char rel[1024];
	double vmid = -1;
	int found = 0;
	jv doc;

	doc = hl_registry_artifact(c->lab, name, node, art);
	snprintf(rel, sizeof(rel), "layers/L1/artifacts/%s/%s/%s.json", name,
	    node, art);
	if (jv_get_kind(doc) == JV_KIND_OBJECT)
		vmid = hl_pve_get_num(doc, "vmid", 0);
	jv_free(doc);
	if (vmid < 0) {
		rw_add(c, id, "warn", jv_null(), "%s is missing or names no "
		    "vmid", rel);
		return;
	}
	jv_array_foreach(vms, i, v) {
		const char *n = hl_json_get_str(v, "node");

		if (hl_pve_get_num(v, "vmid", 0) == vmid &&
		    hl_pve_get_num(v, "template", 0) == 1 && n &&
		    strcmp(n, node) == 0)
			found = 1;
		jv_free(v);
	}
	if (found)
		rw_add(c, id, "ok", jv_null(), "artifact %s: template %.0f is "
		    "on %s", art, vmid, node);
	else
		rw_add(c, id, "warn", jv_null(), "artifact %s: template %.0f is "
		    "not on %s (hl-template build %s makes it again)", art,
		    vmid, node, name);
}

void
rw_check_templates(struct rw *c, jv vms)
{
	jv channels = hl_registry_channels(c->lab), seen = jv_array();

	jv_array_foreach(c->hosts, i, h) {
		jv t = hl_json_get(jv_copy(h), "template");
		const char *name = hl_json_get_str(t, "name"),
		    *ch = hl_json_get_str(t, "channel"),
		    *node = hl_json_get_str(h, "node");
		char id[400], *art;

		if (name && ch && node) {
			snprintf(id, sizeof(id), "template:%s@%s/%s", name, ch,
			    node);
			if (!rw_has_str(jv_copy(seen), id)) {
				seen = jv_array_append(seen, jv_string(id));
				art = hl_registry_channel_artifact(channels, name,
				    ch, node);
				if (art == NULL)
					rw_add(c, id, "warn", jv_null(), "no "
					    "artifact of %s on channel %s for "
					    "%s yet: hl-template build %s makes "
					    "one", name, ch, node, name);
				else
					check_artifact(c, id, name, node, art,
					    vms);
				free(art);
			}
		}
		jv_free(t);
		jv_free(h);
	}
	jv_free(seen);
	jv_free(channels);
}

void
rw_check_vmid(struct rw *c, jv h, struct hl_pve_req *r, jv vms)
{
	const char *name = hl_json_get_str(h, "name");
	double vmid = hl_pve_get_num(h, "vmid", 0);
	char id[300], tag[200];
	jv vm = jv_null();

	snprintf(id, sizeof(id), "vmid:%s", name);
	if (r->rc == 0) {
		rw_add(c, id, "ok", jv_null(), "vmid %.0f is free", vmid);
		return;
	}
	if (r->err.reason != HL_E_EXISTS) {
		rw_add(c, id, "fail", jv_null(), "%s", r->err.msg);
		return;
	}
	snprintf(tag, sizeof(tag), "hl-%s", hl_json_str(c->lab->id) ?
	    hl_json_str(c->lab->id) : "");
	jv_array_foreach(vms, i, v) {
		if (hl_pve_get_num(v, "vmid", 0) == vmid && jv_get_kind(vm) == JV_KIND_NULL)
			vm = jv_copy(v);
		jv_free(v);
	}
	if (jv_get_kind(vm) == JV_KIND_NULL) {
		rw_add(c, id, "fail", jv_null(), "vmid %.0f is held by a VM this "
		    "token cannot see", vmid);
	} else {
		const char *tags = hl_json_get_str(vm, "tags"),
		    *vname = hl_json_get_str(vm, "name");
		char padded[4096], want_tag[256];

		snprintf(padded, sizeof(padded), ";%s;", tags ? tags : "");
		snprintf(want_tag, sizeof(want_tag), ";%s;", tag);
		if (strstr(padded, want_tag) && vname &&
		    strcmp(vname, name) == 0)
			rw_add(c, id, "ok", jv_null(), "vmid %.0f is %s, which hl "
			    "manages", vmid, name);
		else
			rw_add(c, id, "fail", jv_null(), "vmid %.0f is held by "
			    "VM '%s', which hl does not manage for %s", vmid,
			    vname ? vname : "?", name);
	}
	jv_free(vm);
}
