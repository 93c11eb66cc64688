/*
 * The lab as a whole: loads every spec file through yamldoc and schema,
 * works out each host's configuration (defaults, then persona, then host),
 * and runs the lab-wide rules of rules.c over the result.  docs/spec.md is
 * the operator's version of this file.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "spec/check.h"
#include "core/json.h"
#include "spec/schema.h"
#include "spec/spec.h"
#include "spec/yamldoc.h"
#include "spec/spec_impl.h"

static const char *const host_keys[N_KEYS - N_SETTINGS] = { "kind", "vmid",
	"ip", "mac", "address", "port", "host_key" };

const char *
hl_spec_key_name(int k)
{
	return k < N_SETTINGS ? hl_schema_settings[k] :
	    host_keys[k - N_SETTINGS];
}

/* Keys of the "show" object beside those of enum key. */
enum out_key { O_NAME, O_PERSONA, O_KIND, O_SOURCE, O_FILE, O_LINE, O_MEMORY,
	O_DISK, O_N };

static const char *const out_names[O_N] = { "name", "persona", "kind",
	"source", "file", "line", "memory_mib", "disk_gib" };

/* Key names as jv strings, made once per lab: lookups and output share them. */
struct hl_spec_keys {
	jv keys[N_KEYS];		/* hl_spec_key_name() */
	jv out[O_N];			/* the rest of host_json() */
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

struct hl_pos
hl_spec_layer_pos(const struct layer *l, const char *key,
    struct hl_pos fallback)
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

/* ---- runway thresholds ------------------------------------------------ */

static void
load_runway(struct loader *L)
{
	struct hl_pos_table *pt;
	char *path = NULL;
	jv r;

	if (asprintf(&path, "%s/layers/L0/runway.yaml", L->lab->root) < 0)
		return;
	if (access(path, F_OK) == 0) {
		r = load_file(L, "layers/L0/runway.yaml", HL_SCHEMA_RUNWAY, &pt);
		if (jv_is_valid(r)) {
			jv_free(L->lab->runway);
			L->lab->runway = r;
		} else {
			jv_free(r);
		}
	}
	free(path);
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
		if (strcmp(hl_spec_key_name(k), name) == 0)
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
struct hl_pos
hl_spec_key_pos(struct loader *L, size_t i, int k)
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
	pos = hl_spec_layer_pos(&l, hl_spec_key_name(k), h->pos);
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
require(struct loader *L, const struct hl_host *h,
    const struct hl_host_info *in, int k)
{
	/* Without lab.yaml, a missing key may be a default: say nothing. */
	if (L->no_defaults && k < N_SETTINGS)
		return;
	if (in->set & (1ull << k))
		return;
	if (k < N_SETTINGS)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s' (set it on the host, in persona "
		    "'%s' or in lab.yaml defaults)", h->name, hl_spec_key_name(k),
		    h->persona);
	else
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s'", h->name, hl_spec_key_name(k));
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
		    !jv_object_has(jv_copy(hl->obj), jv_string(hl_spec_key_name(k))))
			continue;
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
		    hl_spec_layer_pos(hl, hl_spec_key_name(k), h->pos), NULL,
		    "'%s' does not apply to a host of kind %s", hl_spec_key_name(k),
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
		    hl_spec_key_pos(L, (size_t)(h - L->lab->hosts), K_SSH_KEYS), NULL,
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
	lab->runway = jv_object();
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
		lab->keys->keys[k] = jv_string(hl_spec_key_name(k));
	for (k = 0; k < O_N; k++)
		lab->keys->out[k] = jv_string(out_names[k]);

	lab->spec = load_file(&L, "lab.yaml", HL_SCHEMA_LAB, &pt);
	if (!jv_is_valid(lab->spec)) {
		jv_free(lab->spec);
		lab->spec = jv_object();
		L.no_defaults = 1;
	}
	lab->id = or_null(jv_object_get(jv_copy(lab->spec), jv_string("id")));
	load_templates(&L);
	hl_rules_templates(&L);
	load_runway(&L);

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
		hl_rules_lab(&L, pt);
	}
	hl_rules_hosts(&L);

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
	jv_free(lab->runway);
	hl_diag_free(&lab->diag);
	free(lab->root);
	free(lab);
}
