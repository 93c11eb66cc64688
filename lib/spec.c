/*
 * The lab as a whole: loads every spec file through yamldoc and schema,
 * then applies the rules that span files: precedence, references between
 * files, lab-wide uniqueness, addresses inside their gateway's subnet,
 * SSH key files.  docs/spec.md is the operator's version of this file.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "check.h"
#include "json.h"
#include "schema.h"
#include "spec.h"
#include "sshkey.h"
#include "yamldoc.h"

/* Every key a host has, in the order of hl_schema_settings, then its own. */
enum key {
	K_TEMPLATE, K_NODE, K_STORAGE, K_BRIDGE, K_VLAN, K_POOL, K_CORES,
	K_MEMORY, K_DISK, K_TAGS, K_GATEWAY, K_DNS, K_SEARCH, K_USER,
	K_SSH_KEYS,
	N_SETTINGS,
	K_KIND = N_SETTINGS, K_VMID, K_IP, K_MAC, K_ADDRESS, K_PORT, K_HOST_KEY,
	N_KEYS
};

static const char *const host_keys[N_KEYS - N_SETTINGS] = { "kind", "vmid",
	"ip", "mac", "address", "port", "host_key" };

/* Keys that only mean something for kind: vm (the rest: both kinds). */
static const unsigned long long vm_only = (1ull << K_TEMPLATE) |
	(1ull << K_NODE) | (1ull << K_STORAGE) | (1ull << K_BRIDGE) |
	(1ull << K_VLAN) | (1ull << K_POOL) | (1ull << K_CORES) |
	(1ull << K_MEMORY) | (1ull << K_DISK) | (1ull << K_GATEWAY) |
	(1ull << K_DNS) | (1ull << K_SEARCH) | (1ull << K_SSH_KEYS) |
	(1ull << K_VMID) | (1ull << K_IP) | (1ull << K_MAC);
static const unsigned long long external_only = (1ull << K_ADDRESS) |
	(1ull << K_PORT) | (1ull << K_HOST_KEY);

static const char *
key_name(int k)
{
	return k < N_SETTINGS ? hl_schema_settings[k] :
	    host_keys[k - N_SETTINGS];
}

/* One level of a host's configuration: defaults, persona or host. */
struct layer {
	jv obj;				/* borrowed */
	struct hl_pos_table *pt;
	const char *base;		/* path of obj in its file */
	struct hl_pos pos;		/* where obj is */
};

/* Keys of the "show" object beside those of enum key. */
enum out_key { O_NAME, O_PERSONA, O_KIND, O_SOURCE, O_FILE, O_LINE, O_MEMORY,
	O_DISK, O_N };

static const char *const out_names[O_N] = { "name", "persona", "kind",
	"source", "file", "line", "memory_mib", "disk_gib" };

/* Key names as jv strings, made once per lab: lookups and output share them. */
struct hl_spec_keys {
	jv keys[N_KEYS];		/* key_name() */
	jv out[O_N];			/* the rest of host_json() */
};

enum level { L_DEFAULTS, L_PERSONA, L_HOST, L_UNSET = 0xff };

/* What the lab keeps per host beyond struct hl_host. */
struct hl_host_info {
	unsigned long long set;		/* keys set at some level, valid or not */
	jv val[N_KEYS];			/* effective values; invalid = unset */
	unsigned char from[N_KEYS];	/* the level that set each key */
	struct hl_pos_table *pt;	/* the host's persona file */
};

struct loader {
	struct hl_lab *lab;
	const struct layer *defaults;
	const jv *keys;			/* the lab's key strings */
	struct hl_schema_ctx sc;
	size_t cap;
	int no_defaults;		/* lab.yaml unreadable: defaults unknown */
	jv host_at;			/* host name -> index, for duplicates */
	jv keyfiles;			/* SSH key files already checked */
};

static struct hl_pos_table *
keep_table(struct hl_lab *lab, struct hl_pos_table *pt)
{
	struct hl_pos_table **p;

	if (pt == NULL)
		return NULL;
	p = realloc(lab->files, (lab->nfiles + 1) * sizeof(*p));
	if (p == NULL) {
		hl_pos_table_free(pt);
		return NULL;
	}
	lab->files = p;
	lab->files[lab->nfiles++] = pt;
	return pt;
}

/* Load one spec file; jv_invalid() when it yields no usable document. */
static jv
load_file(struct loader *L, const char *rel, enum hl_schema_doc kind,
    struct hl_pos_table **ptp)
{
	char *path = NULL;
	jv doc;

	*ptp = NULL;
	if (asprintf(&path, "%s/%s", L->lab->root, rel) < 0)
		return jv_invalid();
	doc = hl_yamldoc_load(path, rel, &L->lab->diag, ptp);
	free(path);
	*ptp = keep_table(L->lab, *ptp);
	if (*ptp == NULL || !jv_is_valid(doc)) {
		jv_free(doc);
		return jv_invalid();
	}
	return hl_schema_check(&L->sc, kind, doc, *ptp);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The NAME.yaml files of dir, sorted; others get a warning so nothing in
 * a spec directory is silently skipped.  *n gets the count.
 */
static char **
list_yaml(struct loader *L, const char *dir, size_t *n)
{
	char *path = NULL, **names = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if (asprintf(&path, "%s/%s", L->lab->root, dir) < 0)
		return NULL;
	d = opendir(path);
	free(path);
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char rel[PATH_MAX];

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".gitkeep") == 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0 ||
		    de->d_name[0] == '.') {
			hl_diag_add(&L->lab->diag, HL_DIAG_WARNING,
			    (struct hl_pos){ NULL, 0, 0 }, NULL,
			    "'%s' is ignored: spec files are NAME.yaml", rel);
			continue;
		}
		if (*n == cap) {
			char **p;

			cap = cap ? cap * 2 : 16;
			p = realloc(names, cap * sizeof(*p));
			if (p == NULL)
				break;
			names = p;
		}
		names[(*n)++] = strndup(de->d_name, len - 5);
	}
	closedir(d);
	if (names)
		qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

static void
free_list(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

static struct hl_pos
layer_pos(const struct layer *l, const char *key, struct hl_pos fallback)
{
	struct hl_buf b = { 0 };
	struct hl_pos pos;

	hl_buf_adds(&b, l->base);
	hl_path_key(&b, key);
	if (hl_pos_get(l->pt, hl_buf_str(&b), NULL, &pos) < 0)
		pos = fallback.line ? fallback : l->pos;
	hl_buf_free(&b);
	return pos;
}

/* ---- templates ------------------------------------------------------ */

static void
load_templates(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	size_t n, i;
	char **names = list_yaml(L, "layers/L1/templates", &n);

	for (i = 0; i < n; i++) {
		char rel[PATH_MAX];
		struct hl_pos_table *pt;
		struct hl_pos top = { NULL, 0, 0 };
		jv t;

		snprintf(rel, sizeof(rel), "layers/L1/templates/%s.yaml",
		    names[i]);
		t = load_file(L, rel, HL_SCHEMA_TEMPLATE, &pt);
		if (pt)
			hl_pos_get(pt, "", NULL, &top);
		top.file = pt ? hl_pos_table_file(pt) : NULL;
		if (!hl_check_ident(names[i])) {
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, top, NULL,
			    "template name '%s' (the file name) is not a name "
			    "of [a-z0-9][a-z0-9_-]{0,62}", names[i]);
			jv_free(t);
			continue;
		}
		if (!jv_is_valid(t))
			continue;
		lab->templates = jv_object_set(lab->templates,
		    jv_string(names[i]), t);
	}
	free_list(names, n);
}

/* Borrows o: o[key] when it is a number, else -1. */
static double
number_at(jv o, const char *key)
{
	jv v = jv_getpath(jv_copy(o), JV_ARRAY(jv_string(key)));
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;

	jv_free(v);
	return d;
}

/* Template vmid ranges: well-formed and apart from each other. */
static void
check_template_ranges(struct loader *L)
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

/* ---- hosts ---------------------------------------------------------- */

static struct hl_host *
new_host(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	struct hl_host *h;

	if (lab->nhosts == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 64;

		h = realloc(lab->hosts, cap * sizeof(*h));
		if (h == NULL)
			return NULL;
		lab->hosts = h;
		L->cap = cap;
	}
	h = &lab->hosts[lab->nhosts];
	memset(h, 0, sizeof(*h));
	h->tags = jv_null();
	h->info = calloc(1, sizeof(*h->info));
	return h->info ? h : NULL;
}

static int
key_index(const char *name)
{
	int k;

	for (k = 0; k < N_KEYS; k++)
		if (strcmp(key_name(k), name) == 0)
			return k;
	return -1;
}

/*
 * Lay level l of a host's configuration over in: each key it sets replaces
 * the value below, except tags, which accumulate.  Where a value was set is
 * looked up only when a problem needs it (key_pos).
 */
static void
overlay(struct hl_host_info *in, const struct layer *l, enum level level)
{
	int it;

	if (jv_get_kind(l->obj) != JV_KIND_OBJECT)
		return;
	for (it = jv_object_iter(l->obj); jv_object_iter_valid(l->obj, it);
	    it = jv_object_iter_next(l->obj, it)) {
		jv key = jv_object_iter_key(l->obj, it);
		int k = key_index(jv_string_value(key));
		jv v;

		jv_free(key);
		if (k < 0)
			continue;	/* "hosts", or unknown (reported) */
		v = jv_object_iter_value(l->obj, it);
		in->set |= 1ull << k;
		in->from[k] = (unsigned char)level;
		/* null: set, but invalid (reported already) */
		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(v);
			v = jv_invalid();
		} else if (k == K_TAGS && jv_is_valid(in->val[k])) {
			v = jv_array_concat(jv_copy(in->val[k]), v);
		}
		if (k == K_TAGS && jv_is_valid(v))
			v = hl_json_sorted_unique(v);
		jv_free(in->val[k]);
		in->val[k] = v;
	}
}

/* An empty configuration, or a copy of base (a persona's, below its hosts). */
static void
info_init(struct hl_host_info *in, const struct hl_host_info *base)
{
	int k;

	in->set = base ? base->set : 0;
	in->pt = base ? base->pt : NULL;
	for (k = 0; k < N_KEYS; k++) {
		in->val[k] = base ? jv_copy(base->val[k]) : jv_invalid();
		in->from[k] = base ? base->from[k] : L_UNSET;
	}
}

static void
info_free(struct hl_host_info *in)
{
	int k;

	for (k = 0; in && k < N_KEYS; k++)
		jv_free(in->val[k]);
}

/* Where host i's key k was set; the host's own line when nowhere. */
static struct hl_pos
key_pos(struct loader *L, size_t i, int k)
{
	const struct hl_host *h = &L->lab->hosts[i];
	const struct hl_host_info *in = h->info;
	struct hl_buf base = { 0 };
	struct layer l = { .pos = h->pos };
	struct hl_pos pos;

	switch (in->from[k]) {
	case L_DEFAULTS:
		l = *L->defaults;
		break;
	case L_PERSONA:
		l.pt = in->pt;
		l.base = "";
		break;
	case L_HOST:
		hl_buf_adds(&base, ".hosts");
		hl_path_key(&base, h->name);
		l.pt = in->pt;
		l.base = hl_buf_str(&base);
		break;
	default:
		return h->pos;
	}
	pos = layer_pos(&l, key_name(k), h->pos);
	hl_buf_free(&base);
	return pos;
}

static jv
or_null(jv v)
{
	return jv_is_valid(v) ? v : jv_null();
}

jv
hl_spec_host_json(const struct hl_lab *lab, const struct hl_host *h)
{
	const struct hl_spec_keys *K = lab->keys;
	const struct hl_host_info *in = h->info;
	jv o = jv_object();
	int k;

	o = jv_object_set(o, jv_copy(K->out[O_NAME]), jv_string(h->name));
	o = jv_object_set(o, jv_copy(K->out[O_PERSONA]), jv_string(h->persona));
	o = jv_object_set(o, jv_copy(K->out[O_KIND]),
	    jv_string(h->external ? "external" : "vm"));
	o = jv_object_set(o, jv_copy(K->out[O_SOURCE]), jv_object_set(
	    jv_object_set(jv_object(), jv_copy(K->out[O_FILE]),
	    jv_string(h->pos.file)), jv_copy(K->out[O_LINE]),
	    jv_number(h->pos.line)));
	for (k = 0; k < N_KEYS; k++) {
		unsigned long long bit = 1ull << k;
		jv name = jv_copy(K->keys[k]), v = jv_copy(in->val[k]);

		if (k == K_KIND || (h->external && (vm_only & bit)) ||
		    (!h->external && (external_only & bit))) {
			jv_free(name);
			jv_free(v);
			continue;
		}
		/* Sizes carry their unit in the name. */
		if (k == K_MEMORY || k == K_DISK) {
			jv_free(name);
			name = jv_copy(K->out[k == K_MEMORY ? O_MEMORY : O_DISK]);
		}
		if (!jv_is_valid(v) && (k == K_TAGS || k == K_DNS ||
		    k == K_SSH_KEYS)) {
			jv_free(v);
			v = jv_array();
		}
		if (!jv_is_valid(v) && k == K_IP) {
			jv_free(v);
			v = jv_string("dhcp");
		}
		if (!jv_is_valid(v) && k == K_PORT) {
			jv_free(v);
			v = jv_number(22);
		}
		o = jv_object_set(o, name, or_null(v));
	}
	return o;
}

static void
require(struct loader *L, const struct hl_host *h, const struct hl_host_info *in,
    int k)
{
	/* Without lab.yaml, a missing key may be a default: say nothing. */
	if (L->no_defaults && k < N_SETTINGS)
		return;
	if (in->set & (1ull << k))
		return;
	if (k < N_SETTINGS)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s' (set it on the host, in persona "
		    "'%s' or in lab.yaml defaults)", h->name, key_name(k),
		    h->persona);
	else
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s'", h->name, key_name(k));
}

/* Host-level keys that do not apply to the host's kind. */
static void
check_kind_keys(struct loader *L, const struct hl_host *h,
    const struct layer *hl)
{
	int k;

	for (k = 0; k < N_KEYS; k++) {
		unsigned long long bit = 1ull << k;

		if (!((h->external ? vm_only : external_only) & bit) ||
		    !jv_object_has(jv_copy(hl->obj), jv_string(key_name(k))))
			continue;
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
		    layer_pos(hl, key_name(k), h->pos), NULL,
		    "'%s' does not apply to a host of kind %s", key_name(k),
		    h->external ? "external" : "vm");
	}
}

/* The keys a host of its kind must end up with. */
static void
check_required(struct loader *L, const struct hl_host *h,
    const struct hl_host_info *in)
{
	static const int vm[] = { K_VMID, K_TEMPLATE, K_NODE, K_STORAGE,
		K_BRIDGE, K_CORES, K_MEMORY, K_DISK, K_USER, K_SSH_KEYS };
	static const int external[] = { K_ADDRESS, K_HOST_KEY, K_USER };
	const int *need = h->external ? external : vm;
	size_t i, n = h->external ? sizeof(external) / sizeof(external[0]) :
	    sizeof(vm) / sizeof(vm[0]);

	for (i = 0; i < n; i++)
		require(L, h, in, need[i]);
	if (!h->external && jv_is_valid(in->val[K_SSH_KEYS]) &&
	    jv_array_length(jv_copy(in->val[K_SSH_KEYS])) == 0)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
		    key_pos(L, (size_t)(h - L->lab->hosts), K_SSH_KEYS), NULL,
		    "host '%s' has an empty 'ssh_keys' list", h->name);
}

static void
add_host(struct loader *L, const char *persona, const char *name,
    const struct hl_host_info *base, const struct layer *layers)
{
	struct hl_lab *lab = L->lab;
	struct hl_host *h = new_host(L);
	struct hl_host_info *in;
	jv prev;

	if (h == NULL)
		return;
	in = h->info;
	h->pos = layers[2].pos;
	prev = jv_object_get(jv_copy(L->host_at), jv_string(name));
	if (jv_is_valid(prev)) {
		const struct hl_host *first = &lab->hosts[(int)jv_number_value(
		    prev)];

		hl_diag_add2(&lab->diag, HL_DIAG_ERROR, h->pos, first->pos, NULL,
		    "host '%s' is declared twice (also in %s:%d)", name,
		    first->pos.file, first->pos.line);
		jv_free(prev);
		free(h->info);
		h->info = NULL;
		return;
	}
	jv_free(prev);
	h->name = strdup(name);
	h->persona = strdup(persona);
	info_init(in, base);
	overlay(in, &layers[L_HOST], L_HOST);
	h->external = jv_is_valid(in->val[K_KIND]) &&
	    strcmp(jv_string_value(in->val[K_KIND]), "external") == 0;
	/* A bad kind is reported; guessing one would only add noise. */
	if (!(in->set & (1ull << K_KIND)) || jv_is_valid(in->val[K_KIND])) {
		check_kind_keys(L, h, &layers[L_HOST]);
		check_required(L, h, in);
	}
	h->tags = jv_copy(in->val[K_TAGS]);
	L->host_at = jv_object_set(L->host_at, jv_string(name),
	    jv_number((double)lab->nhosts));
	lab->nhosts++;
}

static void
load_personas(struct loader *L, struct layer *defaults)
{
	struct hl_lab *lab = L->lab;
	size_t n, i;
	char **names = list_yaml(L, "personas", &n);

	for (i = 0; i < n; i++) {
		char rel[PATH_MAX];
		struct hl_pos_table *pt;
		struct layer layers[3];
		struct hl_host_info base;
		jv p, hosts;
		int it;

		snprintf(rel, sizeof(rel), "personas/%s.yaml", names[i]);
		p = load_file(L, rel, HL_SCHEMA_PERSONA, &pt);
		if (pt == NULL)
			continue;
		layers[0] = *defaults;
		layers[1] = (struct layer){ p, pt, "", { NULL, 0, 0 } };
		hl_pos_get(pt, "", NULL, &layers[1].pos);
		layers[1].pos.file = hl_pos_table_file(pt);
		if (!hl_check_ident(names[i])) {
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, layers[1].pos,
			    NULL, "persona name '%s' (the file name) is not a "
			    "name of [a-z0-9][a-z0-9_-]{0,62}", names[i]);
			jv_free(p);
			continue;
		}
		if (!jv_is_valid(p))
			continue;
		hosts = jv_object_get(jv_copy(p), jv_string("hosts"));
		if (jv_get_kind(hosts) != JV_KIND_OBJECT ||
		    jv_object_length(jv_copy(hosts)) == 0)
			hl_diag_add(&lab->diag, HL_DIAG_WARNING, layers[1].pos,
			    NULL, "persona '%s' has no hosts", names[i]);
		if (jv_get_kind(hosts) != JV_KIND_OBJECT) {
			jv_free(hosts);
			hosts = jv_object();
		}
		/* What the persona gives its hosts, worked out once. */
		info_init(&base, NULL);
		base.pt = pt;
		overlay(&base, &layers[L_DEFAULTS], L_DEFAULTS);
		overlay(&base, &layers[L_PERSONA], L_PERSONA);
		for (it = jv_object_iter(hosts); jv_object_iter_valid(hosts, it);
		    it = jv_object_iter_next(hosts, it)) {
			jv k = jv_object_iter_key(hosts, it);
			jv h = jv_object_iter_value(hosts, it);
			struct hl_buf path = { 0 };

			hl_buf_adds(&path, ".hosts");
			hl_path_key(&path, jv_string_value(k));
			layers[2] = (struct layer){ h, pt, hl_buf_str(&path),
			    layers[1].pos };
			hl_pos_get(pt, hl_buf_str(&path), &layers[2].pos, NULL);
			add_host(L, names[i], jv_string_value(k), &base, layers);
			hl_buf_free(&path);
			jv_free(k);
			jv_free(h);
		}
		info_free(&base);
		jv_free(hosts);
		jv_free(p);
	}
	free_list(names, n);
}

/* ---- lab-wide rules ----------------------------------------------- */

/* Reports a second use of value (keyed by what) among the hosts. */
static void
unique(struct loader *L, jv *seen, size_t i, int k, const char *what,
    const char *value)
{
	struct hl_lab *lab = L->lab;
	jv prev = jv_object_get(jv_copy(*seen), jv_string(value));

	if (jv_is_valid(prev)) {
		size_t j = (size_t)jv_number_value(prev);

		struct hl_pos first = key_pos(L, j, k);

		hl_diag_add2(&lab->diag, HL_DIAG_ERROR, key_pos(L, i, k), first,
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
	at = key_pos(L, host, K_SSH_KEYS);
	L->keyfiles = jv_object_set(L->keyfiles, jv_string(file), jv_true());
	if (file[0] == '/')
		path = strdup(file);
	else if (asprintf(&path, "%s/%s", L->lab->root, file) < 0)
		path = NULL;
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
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, key_pos(L, i, K_IP), NULL,
		    "%s is the %s address of its subnet", ip,
		    (a & ~mask) == 0 ? "network" : "broadcast");
	if (gw == NULL || !hl_check_ipv4(gw, &g))
		return;
	if ((g & mask) != (a & mask)) {
		struct hl_pos gpos = key_pos(L, i, K_GATEWAY);

		hl_diag_add2(&L->lab->diag, HL_DIAG_ERROR, key_pos(L, i, K_IP),
		    gpos, NULL, "%s of host '%s' is outside the subnet of its "
		    "gateway %s (%s:%d)", ip, L->lab->hosts[i].name, gw,
		    gpos.file, gpos.line);
	} else if (g == a)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, key_pos(L, i, K_IP), NULL,
		    "host '%s' has its gateway's address %s",
		    L->lab->hosts[i].name, gw);
}

static void
check_hosts(struct loader *L)
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
				    key_pos(L, i, K_VMID), NULL, "vmid %s of host '%s' "
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

			if (!jv_object_has(jv_copy(lab->templates),
			    jv_string(t)))
				hl_diag_add(&lab->diag, HL_DIAG_ERROR,
				    key_pos(L, i, K_TEMPLATE), NULL, "host '%s' uses "
				    "template '%s', which has no "
				    "layers/L1/templates/%s.yaml", h->name, t, t);
		}
		s = hl_json_str(in->val[K_NODE]);
		if (s && jv_get_kind(nodes) == JV_KIND_OBJECT &&
		    !jv_object_has(jv_copy(nodes), jv_string(s)))
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, key_pos(L, i, K_NODE),
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
static void
check_lab(struct loader *L, struct hl_pos_table *pt)
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

		if (s[0] == '/')
			path = strdup(s);
		else if (asprintf(&path, "%s/%s", lab->root, s) < 0)
			path = NULL;
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

/* Problems in file, line, column order. */
static jv
sorted(jv arr)
{
	jv keys = jv_array();
	int i, n = jv_array_length(jv_copy(arr));

	for (i = 0; i < n; i++) {
		jv e = jv_array_get(jv_copy(arr), i);

		keys = jv_array_append(keys, JV_ARRAY(
		    jv_object_get(jv_copy(e), jv_string("file")),
		    jv_object_get(jv_copy(e), jv_string("line")),
		    jv_object_get(jv_copy(e), jv_string("col")),
		    jv_number(i)));
		jv_free(e);
	}
	return jv_sort(arr, keys);
}

static int
cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct hl_host *)a)->name,
	    ((const struct hl_host *)b)->name);
}

int
hl_spec_load(const char *root, struct hl_lab **out, struct hl_err *e)
{
	struct loader L = { 0 };
	struct hl_lab *lab;
	struct hl_pos_table *pt = NULL;
	struct layer defaults;
	int k;

	*out = NULL;
	lab = calloc(1, sizeof(*lab));
	if (lab == NULL)
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	lab->root = realpath(root, NULL);
	if (lab->root == NULL) {
		free(lab);
		return hl_err_set(e, HL_EXIT_LAB, "cannot use lab '%s': %s",
		    root, strerror(errno));
	}
	hl_diag_init(&lab->diag);
	lab->templates = jv_object();
	L.lab = lab;
	L.sc = (struct hl_schema_ctx){ lab->root, &lab->diag, jv_object() };
	L.host_at = jv_object();
	L.keyfiles = jv_object();
	lab->keys = calloc(1, sizeof(*lab->keys));
	if (lab->keys == NULL) {
		hl_spec_free(lab);
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	}
	for (k = 0; k < N_KEYS; k++)
		lab->keys->keys[k] = jv_string(key_name(k));
	for (k = 0; k < O_N; k++)
		lab->keys->out[k] = jv_string(out_names[k]);
	L.keys = lab->keys->keys;

	lab->spec = load_file(&L, "lab.yaml", HL_SCHEMA_LAB, &pt);
	if (!jv_is_valid(lab->spec)) {
		jv_free(lab->spec);
		lab->spec = jv_object();
		L.no_defaults = 1;
	}
	lab->id = or_null(jv_object_get(jv_copy(lab->spec), jv_string("id")));
	load_templates(&L);
	check_template_ranges(&L);

	defaults.obj = jv_object_get(jv_copy(lab->spec), jv_string("defaults"));
	if (jv_get_kind(defaults.obj) != JV_KIND_OBJECT) {
		/* Present but not a mapping (reported): defaults unknown. */
		if (jv_get_kind(defaults.obj) == JV_KIND_NULL)
			L.no_defaults = 1;
		jv_free(defaults.obj);
		defaults.obj = jv_object();
	}
	defaults.pt = pt;
	defaults.base = ".defaults";
	defaults.pos = (struct hl_pos){ "lab.yaml", 1, 1 };
	if (pt)
		hl_pos_get(pt, ".defaults", NULL, &defaults.pos);
	L.defaults = &defaults;
	if (pt) {
		load_personas(&L, &defaults);
		check_lab(&L, pt);
	}
	check_hosts(&L);

	if (lab->nhosts > 0)
		qsort(lab->hosts, lab->nhosts, sizeof(*lab->hosts), cmp_host);
	lab->diag.errors = sorted(lab->diag.errors);
	lab->diag.warnings = sorted(lab->diag.warnings);
	jv_free(defaults.obj);
	jv_free(L.sc.warned);
	jv_free(L.host_at);
	jv_free(L.keyfiles);
	*out = lab;
	return 0;
}

void
hl_spec_free(struct hl_lab *lab)
{
	size_t i;
	int k;

	if (lab == NULL)
		return;
	for (i = 0; i < lab->nhosts; i++) {
		struct hl_host *h = &lab->hosts[i];

		free(h->name);
		free(h->persona);
		jv_free(h->tags);
		info_free(h->info);
		free(h->info);
	}
	free(lab->hosts);
	for (k = 0; lab->keys && k < N_KEYS; k++)
		jv_free(lab->keys->keys[k]);
	for (k = 0; lab->keys && k < O_N; k++)
		jv_free(lab->keys->out[k]);
	free(lab->keys);
	for (i = 0; i < lab->nfiles; i++)
		hl_pos_table_free(lab->files[i]);
	free(lab->files);
	jv_free(lab->id);
	jv_free(lab->spec);
	jv_free(lab->templates);
	hl_diag_free(&lab->diag);
	free(lab->root);
	free(lab);
}
