/*
 * The rules that span the lab's files, run once every file is loaded:
 * template vmid ranges, references between files (templates, nodes, SSH
 * key files, the CA file), lab-wide uniqueness (vmid, address, MAC),
 * addresses inside their gateway's subnet, the cluster identity, mirror
 * entries.  docs/spec.md states each for the operator.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "spec/check.h"
#include "core/json.h"
#include "spec/spec_impl.h"
#include "spec/lab.h"
#include "spec/sshkey.h"

static double
number_at(jv o, const char *key)
{
	jv v = jv_getpath(jv_copy(o), JV_ARRAY(jv_string(key)));
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;

	jv_free(v);
	return d;
}

/* Template vmid ranges: well-formed and apart from each other. */
void
hl_rules_templates(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	jv keys = jv_keys(jv_copy(lab->templates));
	int i, j, n = jv_array_length(jv_copy(keys));

	for (i = 0; i < n; i++) {
		jv a = jv_array_get(jv_copy(keys), i);
		jv ra = jv_getpath(jv_copy(lab->templates), JV_ARRAY(jv_copy(a),
		    jv_string("vmids")));
		double af = number_at(ra, "first"), al = number_at(ra, "last");
		char rel[PATH_MAX];
		struct hl_pos at = { NULL, 0, 0 };
		size_t f;

		snprintf(rel, sizeof(rel), "layers/L1/templates/%s.yaml",
		    jv_string_value(a));
		for (f = 0; f < lab->nfiles; f++)
			if (strcmp(hl_pos_table_file(lab->files[f]), rel) == 0 &&
			    hl_pos_get(lab->files[f], ".vmids", NULL, &at) == 0)
				break;
		if (af >= 0 && al >= 0) {
			if (af > al)
				hl_diag_add(&lab->diag, HL_DIAG_ERROR, at,
				    ".vmids", "vmid range %.0f-%.0f is empty: "
				    "'first' is above 'last'", af, al);
			for (j = i + 1; j < n; j++) {
				jv b = jv_array_get(jv_copy(keys), j);
				jv rb = jv_getpath(jv_copy(lab->templates),
				    JV_ARRAY(jv_copy(b), jv_string("vmids")));
				double bf = number_at(rb, "first");
				double bl = number_at(rb, "last");

				if (bf >= 0 && bl >= 0 && af <= bl && bf <= al)
					hl_diag_add(&lab->diag, HL_DIAG_ERROR,
					    at, ".vmids", "vmid range %.0f-%.0f "
					    "overlaps template '%s' (%.0f-%.0f)",
					    af, al, jv_string_value(b), bf, bl);
				jv_free(b);
				jv_free(rb);
			}
		}
		jv_free(a);
		jv_free(ra);
	}
	jv_free(keys);
}

/* The template whose vmid range holds vmid, or NULL. */
static const char *
template_holding(struct hl_lab *lab, double vmid, jv *name)
{
	int it;

	for (it = jv_object_iter(lab->templates);
	    jv_object_iter_valid(lab->templates, it);
	    it = jv_object_iter_next(lab->templates, it)) {
		jv t = jv_object_iter_value(lab->templates, it);
		jv f = jv_getpath(jv_copy(t), JV_ARRAY(jv_string("vmids"),
		    jv_string("first")));
		jv l = jv_getpath(t, JV_ARRAY(jv_string("vmids"),
		    jv_string("last")));
		int in = jv_get_kind(f) == JV_KIND_NUMBER &&
		    jv_get_kind(l) == JV_KIND_NUMBER &&
		    vmid >= jv_number_value(f) && vmid <= jv_number_value(l);

		jv_free(f);
		jv_free(l);
		if (in) {
			*name = jv_object_iter_key(lab->templates, it);
			return jv_string_value(*name);
		}
	}
	return NULL;
}

/* Reports a second use of value (keyed by what) among the hosts. */
static void
unique(struct loader *L, jv *seen, size_t i, int k, const char *what,
    const char *value)
{
	struct hl_lab *lab = L->lab;
	jv prev = jv_object_get(jv_copy(*seen), jv_string(value));

	if (jv_is_valid(prev)) {
		size_t j = (size_t)jv_number_value(prev);

		struct hl_pos first = hl_spec_key_pos(L, j, k);

		hl_diag_add2(&lab->diag, HL_DIAG_ERROR, hl_spec_key_pos(L, i, k), first,
		    NULL, "%s %s of host '%s' is already used by host '%s' "
		    "(%s:%d)", what, value, lab->hosts[i].name,
		    lab->hosts[j].name, first.file, first.line);
	} else {
		*seen = jv_object_set(*seen, jv_string(value),
		    jv_number((double)i));
	}
	jv_free(prev);
}

static void
check_keyfile(struct loader *L, const char *file, size_t host)
{
	char *path = NULL;
	const char *why = NULL;
	struct hl_pos at;
	int line = 0;

	if (jv_object_has(jv_copy(L->keyfiles), jv_string(file)))
		return;
	at = hl_spec_key_pos(L, host, K_SSH_KEYS);
	L->keyfiles = jv_object_set(L->keyfiles, jv_string(file), jv_true());
	path = hl_lab_path(L->lab->root, file);
	if (path && hl_sshkey_check_file(path, &line, &why) == 0) {
		if (line == 0)
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, at, NULL,
			    "SSH key file '%s' %s%s", file, why,
			    strncmp(file, ".hl/", 4) == 0 ? " (run 'just "
			    "setup' to make the example key pair)" : "");
		else
			hl_diag_add2(&L->lab->diag, HL_DIAG_ERROR,
			    (struct hl_pos){ file, line, 1 }, at, NULL,
			    "SSH key file '%s' line %d %s (named at %s:%d)",
			    file, line, why, at.file, at.line);
	}
	free(path);
}

static void
check_subnet(struct loader *L, size_t i)
{
	struct hl_host_info *in = L->lab->hosts[i].info;
	const char *ip = hl_json_str(in->val[K_IP]);
	const char *gw = hl_json_str(in->val[K_GATEWAY]);
	uint32_t a, g, mask;
	int prefix;

	if (ip == NULL || !hl_check_cidr(ip, &a, &prefix))
		return;
	mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	if (prefix <= 30 && ((a & ~mask) == 0 || (a & ~mask) == ~mask))
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, hl_spec_key_pos(L, i, K_IP), NULL,
		    "%s is the %s address of its subnet", ip,
		    (a & ~mask) == 0 ? "network" : "broadcast");
	if (gw == NULL || !hl_check_ipv4(gw, &g))
		return;
	if ((g & mask) != (a & mask)) {
		struct hl_pos gpos = hl_spec_key_pos(L, i, K_GATEWAY);

		hl_diag_add2(&L->lab->diag, HL_DIAG_ERROR, hl_spec_key_pos(L, i, K_IP),
		    gpos, NULL, "%s of host '%s' is outside the subnet of its "
		    "gateway %s (%s:%d)", ip, L->lab->hosts[i].name, gw,
		    gpos.file, gpos.line);
	} else if (g == a)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, hl_spec_key_pos(L, i, K_IP), NULL,
		    "host '%s' has its gateway's address %s",
		    L->lab->hosts[i].name, gw);
}

void
hl_rules_hosts(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	jv vmids = jv_object(), ips = jv_object(), macs = jv_object();
	jv nodes = jv_object_get(jv_copy(lab->spec), jv_string("nodes"));
	size_t i;

	for (i = 0; i < lab->nhosts; i++) {
		struct hl_host *h = &lab->hosts[i];
		struct hl_host_info *in = L->lab->hosts[i].info;
		const char *s;
		int j, n;

		if (h->external)
			continue;
		if (jv_get_kind(in->val[K_VMID]) == JV_KIND_NUMBER) {
			double vmid = jv_number_value(in->val[K_VMID]);
			char key[32];
			jv tname = jv_invalid();

			snprintf(key, sizeof(key), "%.0f", vmid);
			unique(L, &vmids, i, K_VMID, "vmid", key);
			if (template_holding(lab, vmid, &tname))
				hl_diag_add(&lab->diag, HL_DIAG_ERROR,
				    hl_spec_key_pos(L, i, K_VMID), NULL, "vmid %s of host '%s' "
				    "is inside the vmid range of template '%s'",
				    key, h->name, jv_string_value(tname));
			jv_free(tname);
		}
		s = hl_json_str(in->val[K_IP]);
		if (s && strcmp(s, "dhcp") != 0) {
			char addr[16];

			snprintf(addr, sizeof(addr), "%.*s",
			    (int)strcspn(s, "/"), s);
			unique(L, &ips, i, K_IP, "address", addr);
			check_subnet(L, i);
		}
		if ((s = hl_json_str(in->val[K_MAC])) != NULL)
			unique(L, &macs, i, K_MAC, "MAC", s);
		if (jv_get_kind(in->val[K_TEMPLATE]) == JV_KIND_OBJECT) {
			const char *t = hl_json_get_str(in->val[K_TEMPLATE],
			    "name");

			jv sn = jv_getpath(jv_copy(lab->templates), JV_ARRAY(
			    jv_string(t), jv_string("storage"),
			    jv_string("snippets")));

			if (!jv_object_has(jv_copy(lab->templates),
			    jv_string(t)))
				hl_diag_add(&lab->diag, HL_DIAG_ERROR,
				    hl_spec_key_pos(L, i, K_TEMPLATE), NULL, "host '%s' uses "
				    "template '%s', which has no "
				    "layers/L1/templates/%s.yaml", h->name, t, t);
			/* each VM's apt proxy is a vendor-data snippet on
			 * the snippets storage its template names */
			else if (hl_json_get_kind(lab->spec, "apt_proxy") ==
			    JV_KIND_STRING && jv_get_kind(sn) != JV_KIND_STRING)
				hl_diag_add(&lab->diag, HL_DIAG_ERROR,
				    hl_spec_key_pos(L, i, K_TEMPLATE), NULL, "host '%s' uses "
				    "template '%s', which names no snippets "
				    "storage (storage.snippets): lab.yaml sets "
				    "apt_proxy, which each VM gets in a vendor-data "
				    "snippet there", h->name, t);
			jv_free(sn);
		}
		s = hl_json_str(in->val[K_NODE]);
		if (s && jv_get_kind(nodes) == JV_KIND_OBJECT &&
		    !jv_object_has(jv_copy(nodes), jv_string(s)))
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, hl_spec_key_pos(L, i, K_NODE),
			    NULL, "host '%s' is placed on node '%s', which "
			    "lab.yaml does not declare", h->name, s);
		n = jv_is_valid(in->val[K_SSH_KEYS]) ?
		    jv_array_length(jv_copy(in->val[K_SSH_KEYS])) : 0;
		for (j = 0; j < n; j++) {
			jv f = jv_array_get(jv_copy(in->val[K_SSH_KEYS]), j);

			check_keyfile(L, jv_string_value(f), i);
			jv_free(f);
		}
	}
	jv_free(vmids);
	jv_free(ips);
	jv_free(macs);
	jv_free(nodes);
}

/* lab.yaml on its own: identity, default node, CA file, mirror entries. */
void
hl_rules_lab(struct loader *L, struct hl_pos_table *pt)
{
	struct hl_lab *lab = L->lab;
	jv pve = jv_object_get(jv_copy(lab->spec), jv_string("pve"));
	jv nodes = jv_object_get(jv_copy(lab->spec), jv_string("nodes"));
	jv mirror = jv_object_get(jv_copy(lab->spec), jv_string("mirror"));
	jv ca, defnode;
	struct hl_pos at = { hl_pos_table_file(pt), 1, 1 };
	const char *s;
	int it, pinned = 1;

	if (jv_get_kind(pve) == JV_KIND_OBJECT &&
	    jv_get_kind(nodes) == JV_KIND_OBJECT) {
		for (it = jv_object_iter(nodes); jv_object_iter_valid(nodes, it);
		    it = jv_object_iter_next(nodes, it)) {
			jv nd = jv_object_iter_value(nodes, it);

			pinned &= jv_object_has(nd, jv_string("fingerprint"));
		}
		if (!jv_object_has(jv_copy(pve), jv_string("cluster")) &&
		    (!pinned || jv_object_length(jv_copy(nodes)) == 0)) {
			hl_pos_get(pt, ".pve", &at, NULL);
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, at, ".pve",
			    "no cluster identity: set 'cluster' (the cluster "
			    "name) or a 'fingerprint' on every node");
		}
	}
	ca = jv_getpath(jv_copy(lab->spec), JV_ARRAY(jv_string("pve"),
	    jv_string("tls"), jv_string("ca_file")));
	if ((s = hl_json_str(ca)) != NULL) {
		char *path = NULL;
		struct stat st;

		path = hl_lab_path(lab->root, s);
		int rc = path ? stat(path, &st) : 0, err = errno;

		if (path && (rc < 0 || !S_ISREG(st.st_mode))) {
			hl_pos_get(pt, ".pve.tls.ca_file", NULL, &at);
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, at,
			    ".pve.tls.ca_file", "CA file '%s' %s", s,
			    rc < 0 && err == ENOENT ? "does not exist" :
			    "is not a readable file");
		}
		free(path);
	}
	defnode = jv_getpath(jv_copy(lab->spec), JV_ARRAY(jv_string("defaults"),
	    jv_string("node")));
	s = hl_json_str(defnode);
	if (s && jv_get_kind(nodes) == JV_KIND_OBJECT &&
	    !jv_object_has(jv_copy(nodes), jv_string(s))) {
		hl_pos_get(pt, ".defaults.node", NULL, &at);
		hl_diag_add(&lab->diag, HL_DIAG_ERROR, at, ".defaults.node",
		    "default node '%s' is not declared under 'nodes'", s);
	}
	for (it = jv_get_kind(mirror) == JV_KIND_OBJECT ?
	    jv_object_iter(mirror) : -1;
	    it >= 0 && jv_object_iter_valid(mirror, it);
	    it = jv_object_iter_next(mirror, it)) {
		jv url = jv_object_iter_key(mirror, it);
		int used = 0, t;

		for (t = jv_object_iter(lab->templates);
		    jv_object_iter_valid(lab->templates, t);
		    t = jv_object_iter_next(lab->templates, t)) {
			jv src = jv_getpath(jv_object_iter_value(lab->templates,
			    t), JV_ARRAY(jv_string("source"), jv_string("url")));

			used |= jv_equal(src, jv_copy(url));
		}
		if (!used) {
			struct hl_buf b = { 0 };

			hl_buf_adds(&b, ".mirror");
			hl_path_key(&b, jv_string_value(url));
			hl_pos_get(pt, hl_buf_str(&b), &at, NULL);
			hl_diag_add(&lab->diag, HL_DIAG_WARNING, at,
			    hl_buf_str(&b), "mirror entry matches no template "
			    "source URL");
			hl_buf_free(&b);
		}
		jv_free(url);
	}
	jv_free(ca);
	jv_free(defnode);
	jv_free(pve);
	jv_free(nodes);
	jv_free(mirror);
}

