/*
 * Runway's API checks: one batch of reads through curl multi (cluster
 * status, nodes, VMs, permissions per path, storages and networks per
 * node, nextid per vmid), then a verdict per resource: the cluster's
 * identity, the token's privileges and the nodes here, what the hosts use
 * on them in resources.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "runway/runway_impl.h"

struct batch {
	struct hl_pve_req *r;
	char **paths;
	size_t n, cap;
	int oom;		/* out of memory: the batch is not sent */
};

/*
 * Adds the read of fmt with a (or with enc percent-encoded) to b; its
 * index.  Out of memory, sets b->oom and may add nothing.
 */
static size_t
want(struct batch *b, const char *fmt, const char *a, const char *enc)
{
	struct hl_buf s = { 0 };

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 32;
		struct hl_pve_req *r = realloc(b->r, cap * sizeof(*r));
		char **paths = r ? realloc(b->paths, cap * sizeof(*paths)) :
		    NULL;

		if (r)
			b->r = r;
		if (paths == NULL) {
			b->oom = 1;
			return 0;
		}
		b->paths = paths;
		b->cap = cap;
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
	if (b->paths[b->n] == NULL)
		b->oom = 1;
	hl_buf_free(&s);
	memset(&b->r[b->n], 0, sizeof(b->r[b->n]));
	b->r[b->n].path = b->paths[b->n];
	return b->n++;
}

int
rw_has_str(jv arr, const char *s)
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
	if (!rw_has_str(jv_copy(arr), s))
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

jv
rw_find(jv list, const char *key, const char *val)
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
	jv cl;
	const char *name;
	struct hl_err e;

	if (status->rc < 0) {
		rw_add(c, "cluster", "fail", jv_null(), "%s", status->err.msg);
		return;
	}
	cl = rw_find(status->data, "type", "cluster");
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
	/* no cluster name: every node's pinned certificate fingerprint (a
	 * single node outside any cluster has only that), as the tools'
	 * guard checks it before their first change */
	if (c->cfg->pins == NULL || nodes->rc != 0) {
		rw_add(c, "cluster", "fail", jv_null(), "%s", nodes->rc ?
		    nodes->err.msg : "lab.yaml names no cluster identity");
	} else if (hl_pve_check_pins(c->cfg->pins, nodes->data, &e) < 0) {
		rw_add(c, "cluster", "fail", jv_null(), "%s", e.msg);
	} else {
		rw_add(c, "cluster", "ok", jv_null(), "%s, and every node's "
		    "certificate is the one lab.yaml pins", name ?
		    "a cluster lab.yaml does not name" : "a single node");
	}
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

/* ---- nodes -------------------------------------------------------------- */

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
	n = rw_find(nodes->data, "node", node);
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

/* ---- the batch ---------------------------------------------------------- */

void
rw_cluster_checks(struct rw *c)
{
	struct batch b = { 0 };
	size_t i_status, i_nodes, i_vms, i_perm, i;
	jv nodes = jv_array(), stores = jv_object(), bridges = jv_object();
	size_t *i_store, *i_net;
	size_t i_vmid;
	jv vms = jv_null();
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

				/* snippets: the agent's vendor-data, and each
				 * VM's apt proxy (L2) */
				if (s == NULL || (k == 2 && (!agent ||
				    strcmp(agent, "install") != 0) &&
				    hl_json_get_kind(c->lab->spec, "apt_proxy") !=
				    JV_KIND_STRING))
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
	if (i_store == NULL || i_net == NULL) {
		b.oom = 1;
		goto done;
	}
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
	if (b.oom)
		goto done;

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
				rw_check_storage(c, node, ks + plen,
				    jv_copy(needs), &b.r[i_store[ni]]);
			jv_free(key);
			jv_free(needs);
		}
		jv_object_foreach(bridges, key, vlan) {
			const char *ks = jv_string_value(key);

			if (strncmp(ks, node, plen - 1) == 0 && ks[plen - 1] ==
			    '/')
				rw_check_bridge(c, node, ks + plen,
				    jv_get_kind(vlan) == JV_KIND_TRUE,
				    &b.r[i_net[ni]]);
			jv_free(key);
			jv_free(vlan);
		}
		jv_free(n);
	}
	rw_check_templates(c, vms);
	jv_array_foreach(c->hosts, hi, h) {
		rw_check_vmid(c, h, &b.r[i_vmid + hi], vms);
		jv_free(h);
	}

done:
	if (b.oom)
		rw_add(c, "cluster", "fail", jv_null(), "out of memory: "
		    "the API checks were not run");
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
