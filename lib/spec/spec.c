/*
 * The lab as a whole: loads every spec file through yamldoc and schema
 * (L4's stacks through spec_stacks.c), hands each host to spec_hosts.c to
 * work out its configuration (defaults, then persona, then host), and runs
 * the lab-wide rules of rules.c over the result.  docs/spec.md is the operator's version of this file.
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

jv
hl_spec_load_yaml(struct loader *L, const char *rel, struct hl_pos_table **ptp)
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
	return doc;
}

jv
hl_spec_load_file(struct loader *L, const char *rel, enum hl_schema_doc kind,
    struct hl_pos_table **ptp)
{
	jv doc = hl_spec_load_yaml(L, rel, ptp);

	if (!jv_is_valid(doc))
		return doc;
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
		r = hl_spec_load_file(L, "layers/L0/runway.yaml",
		    HL_SCHEMA_RUNWAY, &pt);
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
		t = hl_spec_load_file(L, rel, HL_SCHEMA_TEMPLATE, &pt);
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

/* ---- personas and their hosts ------------------------------------------ */

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
		p = hl_spec_load_file(L, rel, HL_SCHEMA_PERSONA, &pt);
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
		hl_spec_info_init(&base, NULL);
		base.pt = pt;
		hl_spec_overlay(&base, &layers[L_DEFAULTS], L_DEFAULTS);
		hl_spec_overlay(&base, &layers[L_PERSONA], L_PERSONA);
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
			hl_spec_add_host(L, names[i], jv_string_value(k), &base,
			    layers);
			hl_buf_free(&path);
			jv_free(k);
			jv_free(h);
		}
		hl_spec_info_free(&base);
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

	*out = NULL;
	lab = calloc(1, sizeof(*lab));
	if (lab == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	lab->root = realpath(root, NULL);
	if (lab->root == NULL) {
		free(lab);
		return hl_err_set(e, HL_E_LAB, "cannot use lab '%s': %s",
		    root, strerror(errno));
	}
	hl_diag_init(&lab->diag);
	lab->templates = jv_object();
	lab->runway = jv_object();
	lab->stacks = jv_object();
	L.lab = lab;
	L.sc = (struct hl_schema_ctx){ lab->root, &lab->diag, jv_object() };
	L.host_at = jv_object();
	L.keyfiles = jv_object();
	L.stack_uses = jv_object();
	lab->keys = hl_spec_keys_new();
	if (lab->keys == NULL) {
		hl_spec_free(lab);
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	}

	lab->spec = hl_spec_load_file(&L, "lab.yaml", HL_SCHEMA_LAB, &pt);
	if (!jv_is_valid(lab->spec)) {
		jv_free(lab->spec);
		lab->spec = jv_object();
		L.no_defaults = 1;
	}
	lab->id = jv_object_get(jv_copy(lab->spec), jv_string("id"));
	if (!jv_is_valid(lab->id))
		lab->id = jv_null();
	load_templates(&L);
	hl_rules_templates(&L);
	load_runway(&L);
	hl_spec_load_stacks(&L);

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
		hl_rules_capture(&L, pt);
	}
	hl_rules_hosts(&L);
	hl_rules_stacks(&L);

	if (lab->nhosts > 0)
		qsort(lab->hosts, lab->nhosts, sizeof(*lab->hosts), cmp_host);
	lab->diag.errors = sorted(lab->diag.errors);
	lab->diag.warnings = sorted(lab->diag.warnings);
	jv_free(defaults.obj);
	jv_free(L.sc.warned);
	jv_free(L.host_at);
	jv_free(L.keyfiles);
	jv_free(L.stack_uses);
	*out = lab;
	return 0;
}

void
hl_spec_free(struct hl_lab *lab)
{
	size_t i;

	if (lab == NULL)
		return;
	for (i = 0; i < lab->nhosts; i++) {
		struct hl_host *h = &lab->hosts[i];

		free(h->name);
		free(h->persona);
		jv_free(h->tags);
		hl_spec_info_free(h->info);
		free(h->info);
	}
	free(lab->hosts);
	hl_spec_keys_free(lab->keys);
	for (i = 0; i < lab->nfiles; i++)
		hl_pos_table_free(lab->files[i]);
	free(lab->files);
	jv_free(lab->id);
	jv_free(lab->spec);
	jv_free(lab->templates);
	jv_free(lab->runway);
	jv_free(lab->stacks);
	hl_diag_free(&lab->diag);
	free(lab->root);
	free(lab);
}
