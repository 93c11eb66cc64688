/*
 * The walker: checks a loaded document against the keys of its kind
 * (schema_keys.c), reports unknown keys with a suggestion, resolves
 * values taken from .hl/ files, and returns the document normalised.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "spec/check.h"
#include "spec/envfile.h"
#include "core/json.h"
#include "core/num.h"
#include "spec/schema_impl.h"

void
hl_schema_err(struct walk *w, struct hl_pos pos, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_diag_add(w->c->diag, HL_DIAG_ERROR, pos, hl_buf_str(&w->path), "%s",
	    msg);
}

/*
 * How a value appears in a message.  A value read from .hl/ is named, not
 * shown: those files sit beside a token.
 */
const char *
hl_schema_shown(struct walk *w, const char *s, char *buf, size_t n)
{
	if (w->ref)
		snprintf(buf, n, "%s", w->ref);
	else
		snprintf(buf, n, "'%.200s'", s);
	return buf;
}

const char *
hl_schema_kind(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL: return "nothing";
	case JV_KIND_TRUE:
	case JV_KIND_FALSE: return "a boolean";
	case JV_KIND_NUMBER: return "a number";
	case JV_KIND_STRING: return "a string";
	case JV_KIND_ARRAY: return "a list";
	case JV_KIND_OBJECT: return "a mapping";
	default: return "invalid";
	}
}

/* 2^53: every integer up to it is exactly a double. */
#define EXACT_MAX 9007199254740992L

jv
hl_schema_c_int(struct walk *w, const struct rule *r, jv v)
{
	double d;

	/*
	 * A value from .hl/ is text.  Any integer a double holds exactly is
	 * read, so the range check below names the bounds.
	 */
	if (w->ref && jv_get_kind(v) == JV_KIND_STRING) {
		long n;

		if (hl_num_long(jv_string_value(v), -EXACT_MAX, EXACT_MAX,
		    &n) == 0) {
			jv_free(v);
			v = jv_number((double)n);
		}
	}
	if (jv_get_kind(v) != JV_KIND_NUMBER) {
		hl_schema_err(w, w->pos, "'%s' must be an integer, not %s", r->key,
		    hl_schema_kind(v));
		jv_free(v);
		return jv_invalid();
	}
	d = jv_number_value(v);
	if (d != (double)(long)d || d < (double)r->min || d > (double)r->max) {
		hl_schema_err(w, w->pos, "%s%s%s must be an integer from %ld to %ld",
		    w->ref ? "" : "'", w->ref ? w->ref : r->key,
		    w->ref ? "" : "'", r->min, r->max);
		jv_free(v);
		return jv_invalid();
	}
	return v;
}

/* Names other tools use for our keys, for "did you mean". */
static const char *const aliases[][2] = {
	{ "cpus", "cores" }, { "vcpus", "cores" }, { "sockets", "cores" },
	{ "ram", "memory" }, { "mem", "memory" }, { "size", "disk" },
	{ "disk_size", "disk" }, { "nameserver", "dns" },
	{ "nameservers", "dns" }, { "gw", "gateway" }, { "vlan_tag", "vlan" },
	{ "hostname", "address" }, { "ciuser", "user" }, { "sshkeys", "ssh_keys" },
	{ "id", "vmid" },
};

static const char *
suggest(const struct rule *rules, const char *key)
{
	const struct rule *r;
	const char *best = NULL;
	size_t bestd = 3, d, i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(key, aliases[i][0]) == 0)
			for (r = rules; r->key; r++)
				if (strcmp(r->key, aliases[i][1]) == 0)
					return r->key;
	/* One typo in a short key, two in a longer one. */
	bestd = strlen(key) <= 5 ? 2 : 3;
	for (; rules->key; rules++) {
		d = hl_check_distance(key, rules->key);
		if (d < bestd && d < strlen(rules->key)) {
			bestd = d;
			best = rules->key;
		}
	}
	return best;
}

static jv walk_value(struct walk *w, const struct rule *r, jv v);

/* 1 when *v is of kind k; else reports it and replaces it with invalid. */
static int
want_kind(struct walk *w, jv *v, jv_kind k, const char *what)
{
	if (jv_get_kind(*v) == k)
		return 1;
	hl_schema_err(w, w->pos, "must be %s, not %s", what, hl_schema_kind(*v));
	jv_free(*v);
	*v = jv_invalid();
	return 0;
}

/* Moves the walk to the child at key or index; returns the old path length. */
static size_t
enter(struct walk *w, const char *key, int index)
{
	size_t mark = w->path.len;

	if (key)
		hl_path_key(&w->path, key);
	else
		hl_path_index(&w->path, index);
	/* Below an alias or a merge, the parent's position stands. */
	if (hl_pos_get(w->pt, hl_buf_str(&w->path), &w->kpos, &w->pos) < 0)
		w->kpos = w->pos;
	return mark;
}

static void
leave(struct walk *w, size_t mark, struct hl_pos kpos, struct hl_pos pos)
{
	hl_buf_truncate(&w->path, mark);
	w->kpos = kpos;
	w->pos = pos;
}

static jv
walk_map(struct walk *w, const struct rule *rules, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	const struct rule *r;
	jv out;
	int it;

	if (!want_kind(w, &v, JV_KIND_OBJECT, "a mapping"))
		return v;
	out = jv_object();
	for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
	    it = jv_object_iter_next(v, it)) {
		jv k = jv_object_iter_key(v, it);
		const char *key = jv_string_value(k);
		size_t mark = enter(w, key, 0);
		jv child;

		for (r = rules; r->key && strcmp(r->key, key); r++)
			;
		if (r->key == NULL) {
			const char *hint = suggest(rules, key);

			if (hint)
				hl_schema_err(w, w->kpos, "unknown key '%s' (did you mean "
				    "'%s'?)", key, hint);
			else
				hl_schema_err(w, w->kpos, "unknown key '%s'", key);
		} else {
			/*
			 * An invalid value stays as null: the key was set,
			 * so nothing later reports it missing as well.
			 */
			child = walk_value(w, r, jv_object_iter_value(v, it));
			out = jv_object_set(out, jv_copy(k),
			    jv_is_valid(child) ? child : jv_null());
		}
		leave(w, mark, kpos, pos);
		jv_free(k);
	}
	for (r = rules; r->key; r++)
		if ((r->flags & R_REQ) &&
		    !jv_object_has(jv_copy(v), jv_string(r->key)))
			hl_schema_err(w, kpos, "missing required key '%s'", r->key);
	jv_free(v);
	return out;
}

static jv
walk_dict(struct walk *w, const struct rule *r, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	jv out;
	int it;

	if (!want_kind(w, &v, JV_KIND_OBJECT, "a mapping"))
		return v;
	out = jv_object();
	for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
	    it = jv_object_iter_next(v, it)) {
		jv k = jv_object_iter_key(v, it);
		size_t mark = enter(w, jv_string_value(k), 0);
		struct hl_pos vpos = w->pos;
		jv name, child;

		/* The key is checked where it stands. */
		w->pos = w->kpos;
		name = r->check(w, r, jv_copy(k));
		w->pos = vpos;
		child = walk_value(w, r->sub, jv_object_iter_value(v, it));
		if (jv_is_valid(name) && jv_is_valid(child))
			out = jv_object_set(out, jv_copy(k), child);
		else
			jv_free(child);
		jv_free(name);
		leave(w, mark, kpos, pos);
		jv_free(k);
	}
	jv_free(v);
	return out;
}

static jv
walk_list(struct walk *w, const struct rule *r, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	jv out;
	int i, n;

	if (!want_kind(w, &v, JV_KIND_ARRAY, "a list"))
		return v;
	out = jv_array();
	n = jv_array_length(jv_copy(v));
	for (i = 0; i < n; i++) {
		size_t mark = enter(w, NULL, i);
		jv child = walk_value(w, r->sub, jv_array_get(jv_copy(v), i));

		if (jv_is_valid(child))
			out = jv_array_append(out, child);
		leave(w, mark, kpos, pos);
	}
	jv_free(v);
	return out;
}

static const struct rule ref_rules[] = {
	{ .key = "from", .kind = K_SCALAR, .flags = R_REQ,
	  .check = hl_schema_c_path },
	{ .key = "key", .kind = K_SCALAR, .flags = R_REQ,
	  .check = hl_schema_c_env },
	{ 0 }
};

/*
 * {from: .hl/FILE, key: NAME}: the value of NAME in that KEY=VALUE file.
 * A missing file is a warning, once per file (the simulator writes it
 * when it starts); the value is then null.  *ref gets "NAME in FILE".
 */
static jv
resolve_ref(struct walk *w, jv v, char *ref, size_t n)
{
	const char *from, *key;
	struct hl_err e = { 0 };
	char *path = NULL, *value = NULL;
	jv spec = walk_map(w, ref_rules, v), out = jv_invalid();
	int rc;

	from = hl_json_get_str(spec, "from");
	key = hl_json_get_str(spec, "key");
	if (from == NULL || key == NULL)
		goto done;
	if (strncmp(from, ".hl/", 4) != 0) {
		hl_schema_err(w, w->pos, "'from' must name a file under .hl/, not '%s'",
		    from);
		goto done;
	}
	if (strstr(key, "TOKEN") || strstr(key, "PASSWORD") ||
	    strstr(key, "SECRET")) {
		hl_schema_err(w, w->pos, "'%s' names a secret: lab.yaml takes no secrets",
		    key);
		goto done;
	}
	snprintf(ref, n, "%s in %s", key, from);
	if (asprintf(&path, "%s/%s", w->c->root, from) < 0)
		goto done;
	rc = hl_envfile_get(path, key, &value, &e);
	if (rc < 0 && e.reason == HL_E_NONE) {
		if (!jv_object_has(jv_copy(w->c->warned), jv_string(from))) {
			hl_diag_add(w->c->diag, HL_DIAG_WARNING, w->pos,
			    hl_buf_str(&w->path), "'%s' does not exist yet (the "
			    "simulator writes it when it starts): values taken "
			    "from it are unset", from);
			w->c->warned = jv_object_set(w->c->warned,
			    jv_string(from), jv_true());
		}
		out = jv_null();
	} else if (rc < 0) {
		hl_schema_err(w, w->pos, "'%s' %s", from, e.msg);
	} else if (rc > 0) {
		hl_schema_err(w, w->pos, "'%s' has no %s", from, key);
	} else {
		out = jv_string(value);
	}
done:
	free(path);
	free(value);
	jv_free(spec);
	return out;
}

/*
 * Plain data: a list or mapping walked item by item, each mapping key
 * checked where it stands, anything else to the rule's check.  A problem
 * anywhere inside leaves the whole value out.
 */
static jv
walk_data(struct walk *w, const struct rule *r, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	jv out;
	int i, n, it, bad = 0;

	if (jv_get_kind(v) == JV_KIND_ARRAY) {
		out = jv_array();
		n = jv_array_length(jv_copy(v));
		for (i = 0; i < n; i++) {
			size_t mark = enter(w, NULL, i);
			jv child = walk_value(w, r, jv_array_get(jv_copy(v), i));

			if (jv_is_valid(child))
				out = jv_array_append(out, child);
			else
				bad = 1;
			leave(w, mark, kpos, pos);
		}
	} else if (jv_get_kind(v) == JV_KIND_OBJECT) {
		out = jv_object();
		for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
		    it = jv_object_iter_next(v, it)) {
			jv k = jv_object_iter_key(v, it);
			size_t mark = enter(w, jv_string_value(k), 0);
			struct hl_pos vpos = w->pos;
			jv name, child;

			w->pos = w->kpos;
			name = walk_value(w, r, jv_copy(k));
			w->pos = vpos;
			child = walk_value(w, r, jv_object_iter_value(v, it));
			if (jv_is_valid(name) && jv_is_valid(child)) {
				out = jv_object_set(out, k, child);
			} else {
				bad = 1;
				jv_free(k);
				jv_free(child);
			}
			jv_free(name);
			leave(w, mark, kpos, pos);
		}
	} else {
		return r->check(w, r, v);
	}
	jv_free(v);
	if (bad) {
		jv_free(out);
		return jv_invalid();
	}
	return out;
}

/* Whether v is {from: .hl/FILE, key: NAME} where r takes one. */
static int
is_ref(const struct rule *r, jv v)
{
	if (!(r->flags & R_REF) || jv_get_kind(v) != JV_KIND_OBJECT)
		return 0;
	/* In plain data, only a mapping with 'from' is one. */
	return r->kind != K_DATA || jv_object_has(jv_copy(v), jv_string("from"));
}

static jv
walk_value(struct walk *w, const struct rule *r, jv v)
{
	char ref[256];
	jv out;

	if (is_ref(r, v)) {
		v = resolve_ref(w, v, ref, sizeof(ref));
		if (jv_get_kind(v) != JV_KIND_STRING)
			return v;
		w->ref = ref;
		out = r->check(w, r, v);
		w->ref = NULL;
		return out;
	}
	/* Escapes in quoted YAML can still make control characters. */
	if (jv_get_kind(v) == JV_KIND_STRING) {
		const char *c;

		for (c = jv_string_value(v); *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f) {
				hl_schema_err(w, w->pos, "value has a control character");
				jv_free(v);
				return jv_invalid();
			}
	}
	switch (r->kind) {
	case K_MAP:
		return walk_map(w, r->sub, v);
	case K_DICT:
		return walk_dict(w, r, v);
	case K_LIST:
		return walk_list(w, r, v);
	case K_DATA:
		return walk_data(w, r, v);
	default:
		return r->check(w, r, v);
	}
}

/* An error at path in the document (the document when path has no
 * position). */
static void
err_at(struct walk *w, const char *path, const char *msg)
{
	struct hl_pos at;

	if (hl_pos_get(w->pt, path, &at, NULL) < 0)
		at = w->pos;
	hl_diag_add(w->c->diag, HL_DIAG_ERROR, at, path, "%s", msg);
}

/* Whether doc has the member at path ("a" or "a.b"). */
static int
has(jv doc, const char *a, const char *b)
{
	jv v = jv_getpath(jv_copy(doc), b ? JV_ARRAY(jv_string(a),
	    jv_string(b)) : JV_ARRAY(jv_string(a)));
	int k = jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL;

	jv_free(v);
	return k;
}

/*
 * A template's source is a cloud image (url, with exactly one of checksum
 * and checksum_file; hl-template builds it, and needs agent and an import
 * storage) or a host's captured boot disk (boot_capture: hl-capture boot
 * --as-template makes it, the VM as captured, so the build's keys have
 * nothing to do).
 */
static void
check_source(struct walk *w, jv doc)
{
	/* (storage.snippets serves the clones too: their vendor-data) */
	static const char *const build_only[][2] = { { "agent", NULL },
		{ "vm", NULL }, { "storage", "import" },
		{ "source", "checksum" }, { "source", "checksum_file" } };
	int url, capture;

	if (jv_get_kind(doc) != JV_KIND_OBJECT || !has(doc, "source", NULL))
		return;
	url = has(doc, "source", "url");
	capture = has(doc, "source", "boot_capture");
	if (url == capture) {
		err_at(w, ".source", "give exactly one of 'url' (a cloud "
		    "image) and 'boot_capture' (a host's captured boot disk)");
		return;
	}
	if (capture) {
		for (size_t i = 0; i < sizeof(build_only) /
		    sizeof(build_only[0]); i++) {
			char path[64], msg[200];

			if (!has(doc, build_only[i][0], build_only[i][1]))
				continue;
			snprintf(path, sizeof(path), ".%s%s%s", build_only[i][0],
			    build_only[i][1] ? "." : "", build_only[i][1] ?
			    build_only[i][1] : "");
			snprintf(msg, sizeof(msg), "'%s' is for a template "
			    "built from a url: one made from a boot capture is "
			    "the VM as it was captured", path + 1);
			err_at(w, path, msg);
		}
		return;
	}
	if (has(doc, "source", "checksum") == has(doc, "source",
	    "checksum_file"))
		err_at(w, ".source", "give exactly one of 'checksum' and "
		    "'checksum_file'");
	if (!has(doc, "agent", NULL))
		err_at(w, "", "missing required key 'agent' (builtin or "
		    "install): a template built from a url says how its guest "
		    "agent comes");
	if (has(doc, "storage", NULL) && !has(doc, "storage", "import"))
		err_at(w, ".storage", "missing required key 'import': the storage "
		    "the url's image is downloaded to");
}

jv
hl_schema_check(struct hl_schema_ctx *c, enum hl_schema_doc kind, jv doc,
    struct hl_pos_table *pt)
{
	static const struct rule *const roots[] = {
		[HL_SCHEMA_LAB] = hl_schema_lab,
		[HL_SCHEMA_PERSONA] = hl_schema_persona,
		[HL_SCHEMA_TEMPLATE] = hl_schema_template,
		[HL_SCHEMA_RUNWAY] = hl_schema_runway,
		[HL_SCHEMA_STACK] = hl_schema_stack,
	};
	struct walk w = { .c = c, .pt = pt };
	jv out;

	if (hl_pos_get(pt, "", &w.kpos, &w.pos) < 0)
		w.pos = w.kpos = (struct hl_pos){ hl_pos_table_file(pt), 1, 1 };
	if (kind == HL_SCHEMA_TEMPLATE)
		check_source(&w, doc);
	out = walk_map(&w, roots[kind], doc);
	hl_buf_free(&w.path);
	return out;
}
