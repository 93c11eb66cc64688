/*
 * Drift from Git (drift.h): per host and layer, the commit last applied
 * against HEAD, the files changed in between mapped to the layer they
 * affect.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/proc.h"
#include "drift/drift.h"
#include "spec/spec.h"
#include "state/git.h"
#include "state/hostrec.h"
#include "state/registry.h"

static const char *const layers[] = { "L2", "L3", "L4", NULL };
static const char *const actions[] = { "apply", "converge", "deploy" };

/* The layer a key of a host's configuration belongs to (a bit per layer:
 * 1 L2, 2 L3, 4 L4; 0: none). */
static int
key_layers(const char *k)
{
	static const struct { const char *key; int layers; } map[] = {
		{ "name", 0 }, { "source", 0 }, { "kind", 0 }, { "data", 0 },
		{ "boot_capture", 0 }, { "reboot_batch", 0 }, { "roles", 2 }, { "vars", 2 },
		{ "persona", 2 }, { "tags", 3 }, { "stacks", 4 }, { "env", 4 },
		{ NULL, 0 } };

	for (int i = 0; map[i].key; i++)
		if (strcmp(map[i].key, k) == 0)
			return map[i].layers;
	return 1;
}

/* A commit's specs, loaded once a run: the lab's files at it written to
 * a directory of their own, beside a link to today's .hl/ (what {from:
 * .hl/...} reads). */
struct then {
	char commit[64];
	char dir[PATH_MAX];
	struct hl_lab *lab;	/* NULL: they do not load */
	jv changed;		/* the files changed since: [PATH] */
};

struct ctx {
	const struct hl_lab *lab;
	const struct hl_drift_opts *o;
	struct then *then;
	size_t nthen;
};

static void
rm_tree(const char *dir)
{
	char *argv[] = { "rm", "-rf", "--", (char *)dir, NULL };
	struct hl_err e = { 0 };

	hl_proc_run(argv, 60, NULL, NULL, &e);
}

static struct then *
then_at(struct ctx *c, const char *commit, struct hl_err *e)
{
	struct then *t;
	char link[PATH_MAX + 8], target[PATH_MAX];
	struct hl_err le = { 0 };

	for (size_t i = 0; i < c->nthen; i++)
		if (strcmp(c->then[i].commit, commit) == 0)
			return &c->then[i];
	t = realloc(c->then, (c->nthen + 1) * sizeof(*t));
	if (t == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory"), NULL;
	c->then = t;
	t = &c->then[c->nthen];
	memset(t, 0, sizeof(*t));
	snprintf(t->commit, sizeof(t->commit), "%s", commit);
	t->changed = hl_git_changed(c->lab->root, commit, e);
	if (!jv_is_valid(t->changed))
		return NULL;
	c->nthen++;
	snprintf(t->dir, sizeof(t->dir), "%s/.hl/drift.XXXXXX", c->lab->root);
	if (mkdtemp(t->dir) == NULL) {
		t->dir[0] = '\0';
		return hl_err_set(e, HL_E_INTERNAL, "a directory under .hl/: %s",
		    strerror(errno)), NULL;
	}
	snprintf(link, sizeof(link), "%s/.hl", t->dir);
	snprintf(target, sizeof(target), "%s/.hl", c->lab->root);
	if (hl_git_export(c->lab->root, commit, t->dir, e) < 0)
		return NULL;
	if (symlink(target, link) < 0)
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", link,
		    strerror(errno)), NULL;
	if (hl_spec_load(t->dir, &t->lab, &le) < 0)
		t->lab = NULL;	/* unknown: every layer is needed */
	return t;
}

/* The host's configuration in lab (null when the lab lacks it). */
static jv
host_in(const struct hl_lab *lab, const char *name)
{
	for (size_t i = 0; lab && i < lab->nhosts; i++)
		if (strcmp(lab->hosts[i].name, name) == 0)
			return hl_spec_host_json(lab, &lab->hosts[i]);
	return jv_null();
}

/* Whether the array a (borrowed) holds the string s. */
static int
holds(jv a, const char *s)
{
	int found = 0;

	if (jv_get_kind(a) == JV_KIND_ARRAY)
		jv_array_foreach(a, i, v) {
			found |= hl_json_str(v) && strcmp(hl_json_str(v), s) == 0;
			jv_free(v);
		}
	return found;
}

/* Whether path is below prefix/NAME/ for a NAME of names (borrowed). */
static int
below_one(const char *path, const char *prefix, jv names)
{
	size_t pl = strlen(prefix);
	int in = 0;

	if (jv_get_kind(names) == JV_KIND_ARRAY)
		jv_array_foreach(names, i, v) {
			const char *n = hl_json_str(v);
			size_t nl = n ? strlen(n) : 0;

			in |= n && strncmp(path, prefix, pl) == 0 &&
			    strncmp(path + pl, n, nl) == 0 &&
			    path[pl + nl] == '/';
			jv_free(v);
		}
	return in;
}

/* below_one over the key's names in both configurations. */
static int
below_either(const char *path, const char *prefix, const char *key, jv now,
    jv was)
{
	jv a = hl_json_get(jv_copy(now), key), b = hl_json_get(jv_copy(was),
	    key);
	int in = below_one(path, prefix, a) || below_one(path, prefix, b);

	jv_free(a);
	jv_free(b);
	return in;
}

/* The template name of a host's configuration (borrowed), or NULL. */
static const char *
template_of(jv h)
{
	jv t = hl_json_get(jv_copy(h), "template");
	const char *s = hl_json_get_str(t, "name");

	jv_free(t);	/* h keeps the string */
	return s;
}

/*
 * One layer (li: 0 L2, 1 L3, 2 L4) of a host that applied it at then:
 * {files, keys} behind what it needs, and *rebuild for template drift.
 */
static jv
layer_since(struct ctx *c, struct then *t, int li, jv now, jv was,
    int *rebuild)
{
	jv files = jv_array(), keys = jv_array(), all;
	const char *persona_now = hl_json_get_str(now, "persona"),
	    *persona_was = hl_json_get_str(was, "persona"),
	    *tpl = template_of(now), *tpl_was = template_of(was);
	int bit = 1 << li, keyed = 0;

	if (jv_get_kind(was) != JV_KIND_OBJECT) {
		/* not a host then: all of it is new */
		jv_free(keys);
		return JV_OBJECT(jv_string("files"), files, jv_string("keys"),
		    jv_string("new"));
	}
	/* the configuration, key by key */
	all = jv_object_merge(jv_copy(now), jv_copy(was));
	jv_object_foreach(all, k, v) {
		jv a = hl_json_get(jv_copy(now), jv_string_value(k)),
		    b = hl_json_get(jv_copy(was), jv_string_value(k));
		int same = jv_equal(a, b);	/* consumes both */

		if ((key_layers(jv_string_value(k)) & bit) && !same) {
			keys = jv_array_append(keys, jv_copy(k));
			keyed = 1;
		}
		jv_free(k);
		jv_free(v);
	}
	jv_array_foreach(t->changed, i, p) {
		const char *path = jv_string_value(p);
		char f[PATH_MAX];
		int hit = 0;

		if (keyed && (strcmp(path, "lab.yaml") == 0 ||
		    (snprintf(f, sizeof(f), "personas/%s.yaml", persona_now ?
		    persona_now : ""), strcmp(path, f) == 0) ||
		    (snprintf(f, sizeof(f), "personas/%s.yaml", persona_was ?
		    persona_was : ""), strcmp(path, f) == 0)))
			hit = 1;
		if (li == 0 && tpl && ((snprintf(f, sizeof(f),
		    "layers/L1/templates/%s.yaml", tpl), strcmp(path, f) == 0) ||
		    (tpl_was && (snprintf(f, sizeof(f),
		    "layers/L1/templates/%s.yaml", tpl_was),
		    strcmp(path, f) == 0)))) {
			hit = 1;
			*rebuild = 1;
		}
		if (li == 0 && strcmp(path, "layers/L1/channels.yaml") == 0 &&
		    t->lab) {
			jv cn = hl_registry_channels(c->lab),
			    cw = hl_registry_channels(t->lab);
			char *an = hl_registry_host_artifact(cn, now, NULL),
			    *aw = hl_registry_host_artifact(cw, was, NULL);

			if ((an == NULL) != (aw == NULL) || (an && aw &&
			    strcmp(an, aw) != 0)) {
				hit = 1;
				*rebuild = 1;
			}
			free(an);
			free(aw);
			jv_free(cn);
			jv_free(cw);
		}
		if ((li == 1 && below_either(path, "layers/L3/roles/", "roles",
		    now, was)) || (li == 2 && below_either(path,
		    "layers/L4/stacks/", "stacks", now, was)))
			hit = 1;
		if (hit)
			files = jv_array_append(files, jv_copy(p));
		jv_free(p);
	}
	/* the template's keys are the template's files' (a rebuild) */
	if (li == 0 && holds(keys, "template"))
		*rebuild = 1;
	jv_free(all);
	return JV_OBJECT(jv_string("files"), files, jv_string("keys"), keys);
}

/* Whether a layer's {files, keys} (borrowed) says something changed. */
static int
changed(jv l)
{
	jv f = hl_json_get(jv_copy(l), "files"), k = hl_json_get(jv_copy(l),
	    "keys");
	int c = (jv_get_kind(f) == JV_KIND_ARRAY && jv_array_length(
	    jv_copy(f)) > 0) || jv_get_kind(k) == JV_KIND_STRING ||
	    (jv_get_kind(k) == JV_KIND_ARRAY && jv_array_length(jv_copy(k)) >
	    0);

	jv_free(f);
	jv_free(k);
	return c;
}

/* Whether the host has the layer at all: L2 a VM, L3 roles, L4 stacks
 * (now or when it was applied). */
static int
has_layer(int li, jv now, jv rec)
{
	jv l = li == 1 ? hl_json_get(jv_copy(now), "roles") :
	    hl_json_get(jv_copy(now), "stacks");
	int has;

	if (li == 0)
		has = strcmp(hl_json_get_str(now, "kind") ?
		    hl_json_get_str(now, "kind") : "vm", "external") != 0;
	else
		has = (jv_get_kind(l) == JV_KIND_ARRAY &&
		    jv_array_length(jv_copy(l)) > 0) ||
		    hl_json_get_kind(rec, layers[li]) == JV_KIND_OBJECT;
	jv_free(l);
	return has;
}

static int
one_host(struct ctx *c, const struct hl_host *h, jv *out, struct hl_err *e)
{
	jv now = hl_spec_host_json(c->lab, h), rec = hl_hostrec_read(c->lab,
	    h->name), ls = jv_object();
	int rebuild = 0, needs = 0;

	for (int li = 0; layers[li]; li++) {
		jv applied = jv_getpath(jv_copy(rec), JV_ARRAY(
		    jv_string(layers[li]), jv_string("applied"),
		    jv_string("commit"))), l;
		const char *at = hl_json_str(applied);
		const char *action = "none";

		if (!has_layer(li, now, rec)) {
			l = JV_OBJECT(jv_string("applied"), applied,
			    jv_string("files"), jv_array(), jv_string("keys"),
			    jv_array(), jv_string("action"), jv_string("none"));
			ls = jv_object_set(ls, jv_string(layers[li]), l);
			continue;
		}
		if (at == NULL) {
			l = JV_OBJECT(jv_string("files"), jv_array(),
			    jv_string("keys"), jv_array(), jv_string("reason"),
			    jv_string("never applied by hl (or its VM was "
			    "destroyed since)"));
			action = actions[li];
		} else if (c->o->head && strcmp(at, c->o->head) == 0) {
			l = JV_OBJECT(jv_string("files"), jv_array(),
			    jv_string("keys"), jv_array());
		} else {
			struct then *t = then_at(c, at, e);
			jv was;

			if (t == NULL) {
				jv_free(applied);
				jv_free(ls);
				jv_free(now);
				jv_free(rec);
				return -1;
			}
			was = t->lab ? host_in(t->lab, h->name) : jv_object();
			l = layer_since(c, t, li, now, was, &rebuild);
			jv_free(was);
			if (t->lab == NULL) {
				l = jv_object_set(l, jv_string("reason"),
				    jv_string("the specs at that commit do not "
				    "load: the layer is needed whole"));
				action = actions[li];
			}
			if (changed(l))
				action = actions[li];
		}
		if (li == 0 && rebuild && strcmp(action, "none") != 0)
			action = "rebuild";
		needs |= strcmp(action, "none") != 0;
		l = jv_object_set(l, jv_string("applied"), applied);
		l = jv_object_set(l, jv_string("action"), jv_string(action));
		ls = jv_object_set(ls, jv_string(layers[li]), l);
	}
	*out = JV_OBJECT(jv_string("name"), jv_string(h->name),
	    jv_string("layers"), ls, jv_string("rebuild_suggested"),
	    jv_bool(rebuild));
	jv_free(now);
	jv_free(rec);
	return needs;
}

/* ---- live: the tools' own view ---------------------------------------- */

/* bindir/tool verb NAMES... --progress=json: its document, or -1 with e.
 * The tools are hl's own: they get the endpoint's HL_PVE_* variables. */
static int
ask(struct ctx *c, const char *tool, const char *verb, jv names, jv *doc,
    struct hl_err *e)
{
	extern char **environ;
	int n = jv_array_length(jv_copy(names)), k = 0, rc;
	char **argv = calloc((size_t)n + 5, sizeof(*argv)), **set,
	    path[PATH_MAX];
	struct hl_buf out = { 0 }, err = { 0 };
	struct hl_proc_spec ps = { 0 };
	size_t ne = 0;

	for (char **v = environ; *v; v++)
		ne++;
	set = calloc(ne + 1, sizeof(*set));
	*doc = jv_null();
	if (argv == NULL || set == NULL) {
		free(argv);
		free(set);
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	}
	ne = 0;
	for (char **v = environ; *v; v++)
		if (strncmp(*v, "HL_PVE_", 7) == 0)
			set[ne++] = *v;
	snprintf(path, sizeof(path), "%s/%s", c->o->bindir, tool);
	argv[k++] = path;
	argv[k++] = (char *)verb;
	argv[k++] = "--progress=json";
	jv_array_foreach(names, i, v) {
		argv[k++] = (char *)hl_json_str(v);	/* names keeps it */
		jv_free(v);
	}
	ps.argv = argv;
	ps.set = set;
	ps.timeout_s = 1800;
	ps.out = &out;
	ps.err = &err;
	ps.out_cap = 64u << 20;
	rc = hl_proc_spawn(&ps, e);
	free(argv);
	free(set);
	if (rc >= 0) {
		*doc = jv_parse(hl_buf_str(&out));
		if (jv_get_kind(*doc) != JV_KIND_OBJECT ||
		    hl_json_get_kind(*doc, "hosts") != JV_KIND_ARRAY) {
			jv_free(*doc);
			*doc = jv_null();
			rc = hl_err_set(e, HL_E_FAILED, "%s %s gave no result "
			    "(exit %d)", tool, verb, rc);
		} else
			rc = 0;
	}
	hl_buf_free(&out);
	hl_buf_free(&err);
	return rc;
}

/* Whether a tool's entry for a host (borrowed) says the layer li needs
 * running: L2 an action other than noop, L3 a changed or failed task, L4
 * a stack that is not unchanged. */
static int
live_needs(int li, jv entry)
{
	int needs = 0;

	if (jv_get_kind(entry) != JV_KIND_OBJECT)
		return 0;
	if (hl_json_get_kind(entry, "error") == JV_KIND_OBJECT)
		return 1;
	if (li == 0)
		return strcmp(hl_json_get_str(entry, "action") ?
		    hl_json_get_str(entry, "action") : "", "noop") != 0;
	if (li == 1) {
		jv ch = hl_json_get(jv_copy(entry), "changed"),
		    f = hl_json_get(jv_copy(entry), "failed");

		needs = (jv_get_kind(ch) == JV_KIND_NUMBER &&
		    jv_number_value(ch) > 0) || (jv_get_kind(f) ==
		    JV_KIND_NUMBER && jv_number_value(f) > 0);
		jv_free(ch);
		jv_free(f);
		return needs;
	}
	{
		jv st = hl_json_get(jv_copy(entry), "stacks");

		if (jv_get_kind(st) == JV_KIND_ARRAY)
			jv_array_foreach(st, i, x) {
				needs |= strcmp(hl_json_get_str(x, "action") ?
				    hl_json_get_str(x, "action") : "",
				    "unchanged") != 0;
				jv_free(x);
			}
		jv_free(st);
	}
	return needs;
}

/* The live view into each host's entry of hosts (consumed, returned). */
static jv
live(struct ctx *c, jv hosts, struct hl_err *e)
{
	static const char *const tools[][2] = { { "hl-vm", "plan" },
		{ "hl-converge", "check" }, { "hl-deploy", "plan" } };
	jv names = jv_array(), docs[3] = { jv_null(), jv_null(), jv_null() };

	jv_array_foreach(hosts, i, h) {
		names = jv_array_append(names, hl_json_get(h, "name"));
	}
	for (int t = 0; t < 3; t++) {
		hl_note(c->o->progress, HL_NOTE_PROGRESS, NULL, "asking %s %s",
		    tools[t][0], tools[t][1]);
		if (ask(c, tools[t][0], tools[t][1], names, &docs[t], e) < 0)
			break;
	}
	if (e->code == 0) {
		jv out = jv_array();

		jv_array_foreach(hosts, i, h) {
			jv lv = jv_object(), ls = hl_json_get(jv_copy(h),
			    "layers");
			const char *name = hl_json_get_str(h, "name");

			for (int t = 0; t < 3; t++) {
				jv list = hl_json_get(jv_copy(docs[t]), "hosts"),
				    mine = jv_null();

				jv_array_foreach(list, j, x) {
					if (strcmp(hl_json_get_str(x, "name") ?
					    hl_json_get_str(x, "name") : "",
					    name) == 0) {
						jv_free(mine);
						mine = x;
					} else
						jv_free(x);
				}
				jv_free(list);
				if (live_needs(t, mine)) {
					jv l = hl_json_get(jv_copy(ls),
					    layers[t]);
					const char *a = hl_json_get_str(l,
					    "action");

					if (a == NULL || strcmp(a, "none") == 0)
						l = jv_object_set(l,
						    jv_string("action"),
						    jv_string(actions[t]));
					ls = jv_object_set(ls,
					    jv_string(layers[t]), l);
				}
				lv = jv_object_set(lv, jv_string(layers[t]),
				    mine);
			}
			h = jv_object_set(h, jv_string("layers"), ls);
			out = jv_array_append(out, jv_object_set(h,
			    jv_string("live"), lv));
		}
		jv_free(hosts);
		hosts = out;
	}
	for (int t = 0; t < 3; t++)
		jv_free(docs[t]);
	jv_free(names);
	return hosts;
}

int
hl_drift(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_drift_opts *o, jv *res, struct hl_err *e)
{
	struct ctx c = { .lab = lab, .o = o };
	jv hosts = jv_array();
	int code = 0;

	*res = jv_null();
	for (size_t i = 0; i < lab->nhosts; i++) {
		jv h;
		int rc;

		if (picked && !picked[i])
			continue;
		rc = one_host(&c, &lab->hosts[i], &h, e);
		if (rc < 0) {
			code = e->code;
			break;
		}
		code |= rc;
		hosts = jv_array_append(hosts, h);
	}
	if (e->code == 0 && o->live) {
		hosts = live(&c, hosts, e);
		code = 0;
		jv_array_foreach(hosts, i, h) {
			jv ls = hl_json_get(jv_copy(h), "layers");

			jv_object_foreach(ls, k, l) {
				code |= strcmp(hl_json_get_str(l, "action"),
				    "none") != 0;
				jv_free(k);
				jv_free(l);
			}
			jv_free(ls);
			jv_free(h);
		}
		if (e->code)
			code = e->code;
	}
	for (size_t i = 0; i < c.nthen; i++) {
		if (c.then[i].dir[0])
			rm_tree(c.then[i].dir);
		hl_spec_free(c.then[i].lab);
		jv_free(c.then[i].changed);
	}
	free(c.then);
	if (e->code) {
		jv_free(hosts);
		return code;
	}
	*res = JV_OBJECT(jv_string("head"), o->head ? jv_string(o->head) :
	    jv_null(), jv_string("hosts"), hosts);
	return code;
}
