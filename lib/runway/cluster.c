/*
 * Runway's API checks: one batch of reads through curl multi (cluster
 * status, nodes, VMs, permissions per path, storages and networks per
 * node, nextid per vmid), then a verdict per resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/json.h"
#include "core/pos.h"
#include "runway/runway_impl.h"
#include "template/template.h"
#include "spec/yamldoc.h"

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

struct batch {
	struct hl_pve_req *r;
	char **paths;
	size_t n, cap;
};

static size_t
want(struct batch *b, const char *fmt, const char *a, const char *enc)
{
	struct hl_buf s = { 0 };

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 32;
		b->r = realloc(b->r, b->cap * sizeof(*b->r));
		b->paths = realloc(b->paths, b->cap * sizeof(*b->paths));
		if (b->r == NULL || b->paths == NULL)
			abort();
	}
	if (enc) {
		hl_buf_printf(&s, fmt, "");
		for (const char *c = enc; *c; c++)
			hl_buf_printf(&s, strchr("/@!: %&?=+#", *c) ?
			    "%%%02X" : "%c", (unsigned char)*c);
	} else {
		hl_buf_printf(&s, fmt, a);
	}
	b->paths[b->n] = strdup(hl_buf_str(&s));
	hl_buf_free(&s);
	memset(&b->r[b->n], 0, sizeof(b->r[b->n]));
	b->r[b->n].path = b->paths[b->n];
	return b->n++;
}

/* Consumes arr: whether it holds the string s. */
static int
has_str(jv arr, const char *s)
{
	int found = 0;

	jv_array_foreach(arr, i, v) {
		if (jv_get_kind(v) == JV_KIND_STRING &&
		    strcmp(jv_string_value(v), s) == 0)
			found = 1;
		jv_free(v);
	}
	jv_free(arr);
	return found;
}

static jv
add_unique(jv arr, const char *s)
{
	if (!has_str(jv_copy(arr), s))
		arr = jv_array_append(arr, jv_string(s));
	return arr;
}

/* The hosts' names using a node (for messages). */
static void
users_of(struct rw *c, const char *key, const char *val, struct hl_buf *b)
{
	jv_array_foreach(c->hosts, i, h) {
		const char *v = hl_json_get_str(h, key);

		if (v && strcmp(v, val) == 0)
			hl_buf_printf(b, "%s%s", b->len ? ", " : "",
			    hl_json_get_str(h, "name"));
		jv_free(h);
	}
}

/* Borrowing list (an array of objects): the one whose key is val. */
static jv
find(jv list, const char *key, const char *val)
{
	jv out = jv_null();

	if (jv_get_kind(list) != JV_KIND_ARRAY)
		return out;
	jv_array_foreach(list, i, o) {
		const char *v = hl_json_get_str(o, key);

		if (jv_get_kind(out) == JV_KIND_NULL && v && val &&
		    strcmp(v, val) == 0)
			out = jv_copy(o);
		jv_free(o);
	}
	return out;
}

/* ---- cluster identity ------------------------------------------------- */

static void
check_cluster(struct rw *c, struct hl_pve_req *status, struct hl_pve_req *nodes)
{
	jv cl, lab_nodes;
	const char *name;

	if (status->rc < 0) {
		rw_add(c, "cluster", "fail", jv_null(), "%s", status->err.msg);
		return;
	}
	cl = find(status->data, "type", "cluster");
	name = hl_json_get_str(cl, "name");
	if (name)
		c->facts = jv_object_set(c->facts, jv_string("cluster"),
		    jv_string(name));
	if (c->cfg->cluster) {
		if (name && strcmp(name, c->cfg->cluster) == 0)
			rw_add(c, "cluster", "ok", jv_null(), "cluster '%s' as "
			    "lab.yaml expects", name);
		else
			rw_add(c, "cluster", "fail", jv_null(), "this is %s%s%s, "
			    "not cluster '%s' that lab.yaml expects",
			    name ? "cluster '" : "a node outside any cluster",
			    name ? name : "", name ? "'" : "", c->cfg->cluster);
		jv_free(cl);
		return;
	}
	jv_free(cl);
	/* no cluster name: every node's pinned certificate fingerprint */
	lab_nodes = hl_json_get(jv_copy(c->lab->spec), "nodes");
	if (jv_get_kind(lab_nodes) == JV_KIND_OBJECT && nodes->rc == 0) {
		int bad = 0;

		jv_object_foreach(lab_nodes, k, v) {
			const char *want_fp = hl_json_get_str(v, "fingerprint");
			jv n = find(nodes->data, "node", jv_string_value(k));
			const char *fp = hl_json_get_str(n, "ssl_fingerprint");

			if (!want_fp || !fp || strcasecmp(want_fp, fp) != 0) {
				if (!bad)
					rw_add(c, "cluster", "fail", jv_null(),
					    "node %s's certificate is not the "
					    "one lab.yaml pins",
					    jv_string_value(k));
				bad = 1;
			}
			jv_free(n);
			jv_free(k);
			jv_free(v);
		}
		if (!bad)
			rw_add(c, "cluster", "ok", jv_null(), "every node's "
			    "certificate is the one lab.yaml pins");
	} else {
		rw_add(c, "cluster", "fail", jv_null(), "%s", nodes->rc ?
		    nodes->err.msg : "lab.yaml names no cluster identity");
	}
	jv_free(lab_nodes);
}

/* ---- privileges ------------------------------------------------------- */

static void
check_privileges(struct rw *c, struct batch *b, size_t first)
{
	struct hl_buf miss = { 0 }, unchecked = { 0 };
	size_t k = first;
	int failed = 0;

	jv_object_foreach(c->need, path, privs) {
		struct hl_pve_req *r = &b->r[k++];
		jv have = r->rc == 0 ? hl_json_get(jv_copy(r->data),
		    jv_string_value(path)) : jv_null();
		struct hl_buf lack = { 0 };

		if (r->rc < 0) {
			hl_buf_printf(&unchecked, "%s%s", unchecked.len ? "; " :
			    "", r->err.msg);
		} else {
			jv_array_foreach(privs, i, pv) {
				jv got = jv_get_kind(have) == JV_KIND_OBJECT ?
				    jv_object_get(jv_copy(have), jv_copy(pv)) :
				    jv_null();

				if (!jv_is_valid(got) ||
				    jv_get_kind(got) == JV_KIND_NULL ||
				    jv_get_kind(got) == JV_KIND_FALSE ||
				    (jv_get_kind(got) == JV_KIND_NUMBER &&
				    jv_number_value(got) == 0))
					hl_buf_printf(&lack, "%s%s",
					    lack.len ? ", " : "",
					    jv_string_value(pv));
				jv_free(got);
				jv_free(pv);
			}
			if (lack.len) {
				hl_buf_printf(&miss, "%s%s on %s",
				    miss.len ? "; " : "", hl_buf_str(&lack),
				    jv_string_value(path));
				failed = 1;
			}
		}
		hl_buf_free(&lack);
		jv_free(have);
		jv_free(path);
		jv_free(privs);
	}
	if (unchecked.len)
		rw_add(c, "privileges", "fail", jv_copy(c->need), "could not "
		    "check the privileges: %s", hl_buf_str(&unchecked));
	else if (failed)
		rw_add(c, "privileges", "fail", jv_copy(c->need), "the token "
		    "lacks %s (docs/hl-validate.md has the role to grant)",
		    hl_buf_str(&miss));
	else
		rw_add(c, "privileges", "ok", jv_copy(c->need), "the token has "
		    "every privilege hl needs for these hosts");
	hl_buf_free(&miss);
	hl_buf_free(&unchecked);
}

/* ---- nodes, storages, bridges -------------------------------------------- */

static void
check_node(struct rw *c, const char *node, struct hl_pve_req *nodes)
{
	char id[300];
	struct hl_buf who = { 0 };
	jv n;
	const char *st;

	snprintf(id, sizeof(id), "node:%s", node);
	users_of(c, "node", node, &who);
	if (nodes->rc < 0) {
		rw_add(c, id, "fail", jv_null(), "%s", nodes->err.msg);
		hl_buf_free(&who);
		return;
	}
	n = find(nodes->data, "node", node);
	st = hl_json_get_str(n, "status");
	if (jv_get_kind(n) == JV_KIND_NULL)
		rw_add(c, id, "fail", jv_null(), "node %s is not in the cluster "
		    "(hosts %s)", node, hl_buf_str(&who));
	else if (!st || strcmp(st, "online") != 0)
		rw_add(c, id, "fail", jv_null(), "node %s is %s (hosts %s)", node,
		    st ? st : "of unknown status", hl_buf_str(&who));
	else
		rw_add(c, id, "ok", jv_null(), "node %s is online", node);
	jv_free(n);
	hl_buf_free(&who);
}

/* needs: "images", "import", "snippets" the storage must hold. */
static void
check_storage(struct rw *c, const char *node, const char *storage, jv needs,
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
	s = find(list->data, "storage", storage);
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
	else if (has_str(jv_copy(needs), "import") && type &&
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

static void
check_bridge(struct rw *c, const char *node, const char *bridge, int vlan,
    struct hl_pve_req *list)
{
	char id[300];
	jv b;

	snprintf(id, sizeof(id), "bridge:%s/%s", node, bridge);
	if (list->rc < 0) {
		rw_add(c, id, "fail", jv_null(), "%s", list->err.msg);
		return;
	}
	b = find(list->data, "iface", bridge);
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

	doc = hl_tpl_artifact(c->lab, name, node, art);
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

static void
check_templates(struct rw *c, jv vms)
{
	jv channels = hl_tpl_channels(c->lab), seen = jv_array();

	jv_array_foreach(c->hosts, i, h) {
		jv t = hl_json_get(jv_copy(h), "template");
		const char *name = hl_json_get_str(t, "name"),
		    *ch = hl_json_get_str(t, "channel"),
		    *node = hl_json_get_str(h, "node");
		char id[400], *art;

		if (name && ch && node) {
			snprintf(id, sizeof(id), "template:%s@%s/%s", name, ch,
			    node);
			if (!has_str(jv_copy(seen), id)) {
				seen = jv_array_append(seen, jv_string(id));
				art = hl_tpl_channel_artifact(channels, name,
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

static void
check_vmid(struct rw *c, jv h, struct hl_pve_req *r, jv vms)
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
	if (r->status != 400 || !strstr(r->err.msg, "already exists")) {
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

/* ---- the batch ---------------------------------------------------------- */

void
rw_cluster_checks(struct rw *c)
{
	struct batch b = { 0 };
	size_t i_status, i_nodes, i_vms, i_perm, i;
	jv nodes = jv_array(), stores = jv_object(), bridges = jv_object();
	size_t *i_store, *i_net;
	size_t i_vmid;
	jv vms;
	int k;

	/* what the hosts use: nodes, node/storage -> needs, node/bridge */
	jv_array_foreach(c->hosts, hi, h) {
		const char *node = hl_json_get_str(h, "node"),
		    *st = hl_json_get_str(h, "storage"),
		    *br = hl_json_get_str(h, "bridge");
		jv def = rw_template(c->lab, h);
		char key[400];

		if (node) {
			nodes = add_unique(nodes, node);
			if (st) {
				snprintf(key, sizeof(key), "%s/%s", node, st);
				stores = jv_object_set(stores, jv_string(key),
				    add_unique(jv_object_has(jv_copy(stores),
				    jv_string(key)) ? jv_object_get(jv_copy(
				    stores), jv_string(key)) : jv_array(),
				    "images"));
			}
			if (br) {
				jv vl = jv_object_get(jv_copy(h),
				    jv_string("vlan"));
				jv old;

				snprintf(key, sizeof(key), "%s/%s", node, br);
				old = jv_object_get(jv_copy(bridges),
				    jv_string(key));
				bridges = jv_object_set(bridges, jv_string(key),
				    jv_bool(jv_get_kind(old) == JV_KIND_TRUE ||
				    jv_get_kind(vl) == JV_KIND_NUMBER));
				jv_free(old);
				jv_free(vl);
			}
		}
		if (node && jv_get_kind(def) == JV_KIND_OBJECT) {
			jv ts = hl_json_get(jv_copy(def), "storage");
			const char *agent = hl_json_get_str(def, "agent");
			const char *kinds[3] = { "disk", "import", "snippets" };
			const char *what[3] = { "images", "import", "snippets" };

			for (k = 0; k < 3; k++) {
				const char *s = jv_get_kind(ts) ==
				    JV_KIND_OBJECT ? hl_json_get_str(ts,
				    kinds[k]) : NULL;

				if (s == NULL || (k == 2 && (!agent ||
				    strcmp(agent, "install") != 0)))
					continue;
				snprintf(key, sizeof(key), "%s/%s", node, s);
				stores = jv_object_set(stores, jv_string(key),
				    add_unique(jv_object_has(jv_copy(stores),
				    jv_string(key)) ? jv_object_get(jv_copy(
				    stores), jv_string(key)) : jv_array(),
				    what[k]));
			}
			jv_free(ts);
		}
		jv_free(def);
		jv_free(h);
	}

	nodes = jv_sort(nodes, jv_copy(nodes));
	i_status = want(&b, "/cluster/status", NULL, NULL);
	i_nodes = want(&b, "/nodes", NULL, NULL);
	i_vms = want(&b, "/cluster/resources?type=vm", NULL, NULL);
	i_perm = b.n;
	jv_object_foreach(c->need, path, v) {
		want(&b, "/access/permissions?path=%s", NULL,
		    jv_string_value(path));
		jv_free(path);
		jv_free(v);
	}
	k = jv_array_length(jv_copy(nodes));
	i_store = calloc(k + 1, sizeof(*i_store));
	i_net = calloc(k + 1, sizeof(*i_net));
	jv_array_foreach(nodes, ni, n) {
		char fmt[300];

		snprintf(fmt, sizeof(fmt), "/nodes/%s/storage",
		    jv_string_value(n));
		i_store[ni] = want(&b, "%s", fmt, NULL);
		snprintf(fmt, sizeof(fmt), "/nodes/%s/network",
		    jv_string_value(n));
		i_net[ni] = want(&b, "%s", fmt, NULL);
		jv_free(n);
	}
	i_vmid = b.n;
	jv_array_foreach(c->hosts, hi, h) {
		char fmt[100];

		snprintf(fmt, sizeof(fmt), "/cluster/nextid?vmid=%.0f",
		    hl_pve_get_num(h, "vmid", 0));
		want(&b, "%s", fmt, NULL);
		jv_free(h);
	}

	hl_pve_get_all(c->p, b.r, b.n);

	check_cluster(c, &b.r[i_status], &b.r[i_nodes]);
	check_privileges(c, &b, i_perm);
	vms = b.r[i_vms].rc == 0 && jv_get_kind(b.r[i_vms].data) ==
	    JV_KIND_ARRAY ? jv_copy(b.r[i_vms].data) : jv_array();
	if (b.r[i_nodes].rc == 0)
		c->facts = jv_object_set(c->facts, jv_string("nodes"),
		    jv_copy(b.r[i_nodes].data));
	jv_array_foreach(nodes, ni, n) {
		const char *node = jv_string_value(n);
		size_t plen = strlen(node) + 1;

		check_node(c, node, &b.r[i_nodes]);
		jv_object_foreach(stores, key, needs) {
			const char *ks = jv_string_value(key);

			if (strncmp(ks, node, plen - 1) == 0 && ks[plen - 1] ==
			    '/')
				check_storage(c, node, ks + plen, jv_copy(needs),
				    &b.r[i_store[ni]]);
			jv_free(key);
			jv_free(needs);
		}
		jv_object_foreach(bridges, key, vlan) {
			const char *ks = jv_string_value(key);

			if (strncmp(ks, node, plen - 1) == 0 && ks[plen - 1] ==
			    '/')
				check_bridge(c, node, ks + plen,
				    jv_get_kind(vlan) == JV_KIND_TRUE,
				    &b.r[i_net[ni]]);
			jv_free(key);
			jv_free(vlan);
		}
		jv_free(n);
	}
	check_templates(c, vms);
	jv_array_foreach(c->hosts, hi, h) {
		check_vmid(c, h, &b.r[i_vmid + hi], vms);
		jv_free(h);
	}

	jv_free(vms);
	for (i = 0; i < b.n; i++) {
		jv_free(b.r[i].data);
		free(b.paths[i]);
	}
	free(b.r);
	free(b.paths);
	free(i_store);
	free(i_net);
	jv_free(nodes);
	jv_free(stores);
	jv_free(bridges);
}
