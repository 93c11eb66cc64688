/*
 * What hl checks in a stack's Compose file, loaded by yamldoc: its
 * services and their names, every variable it interpolates (Compose v1's
 * syntax, the one Debian 12's docker-compose 1.29 reads), and where each
 * bind mount points: into the stack's directory, or under one of its data
 * paths.  spec_stacks.c calls it and adds the rules that need the hosts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/json.h"
#include "spec/check.h"
#include "spec/spec_impl.h"

struct cwalk {
	struct hl_compose *c;
	struct hl_pos_table *pt;
	struct hl_diag *d;
	struct hl_buf path;
	struct hl_pos pos;	/* the current value, or its nearest parent */
};

static void
err_at(struct cwalk *w, struct hl_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
err_at(struct cwalk *w, struct hl_pos pos, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_diag_add(w->d, HL_DIAG_ERROR, pos, hl_buf_str(&w->path), "%s", msg);
}

/* Moves to the child at key or index; returns the old path length. */
static size_t
enter(struct cwalk *w, const char *key, int index, struct hl_pos *kpos)
{
	size_t mark = w->path.len;
	struct hl_pos k;

	if (key)
		hl_path_key(&w->path, key);
	else
		hl_path_index(&w->path, index);
	/* Below an alias or a merge, the parent's position stands. */
	if (hl_pos_get(w->pt, hl_buf_str(&w->path), &k, &w->pos) < 0)
		k = w->pos;
	if (kpos)
		*kpos = k;
	return mark;
}

/* ---- interpolation ------------------------------------------------------ */

static int
name_start(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
name_char(int c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static void
add_var(struct cwalk *w, const char *s, size_t n)
{
	jv name = jv_string_sized(s, (int)n);

	if (jv_object_has(jv_copy(w->c->vars), jv_copy(name))) {
		jv_free(name);
		return;
	}
	w->c->vars = jv_object_set(w->c->vars, name, JV_ARRAY(
	    jv_number(w->pos.line), jv_number(w->pos.col)));
}

/*
 * The variables s to end uses, as Compose v1 reads them: $$ is a dollar,
 * $NAME and ${NAME} a variable, ${NAME:-word}, ${NAME-word}, ${NAME:?word}
 * and ${NAME?word} one whose word is read the same way.  Any other '$' is
 * an error to Compose; returns where it is, or NULL.
 */
static const char *
scan(struct cwalk *w, const char *s, const char *end)
{
	const char *p = s, *q, *name, *bad;
	int depth;

	while (p < end) {
		if (*p != '$') {
			p++;
			continue;
		}
		if (p + 1 < end && p[1] == '$') {
			p += 2;
			continue;
		}
		q = p + 1;
		if (q < end && *q == '{')
			q++;
		if (q >= end || !name_start((unsigned char)*q))
			return p;
		for (name = q; q < end && name_char((unsigned char)*q); q++)
			;
		add_var(w, name, (size_t)(q - name));
		if (p[1] != '{') {
			p = q;
			continue;
		}
		if (q < end && *q == '}') {
			p = q + 1;
			continue;
		}
		if (q < end && *q == ':')
			q++;
		if (q >= end || (*q != '-' && *q != '?'))
			return p;
		/* The word runs to the '}' that closes this one. */
		for (name = ++q, depth = 0; q < end; q++)
			if (*q == '{')
				depth++;
			else if (*q == '}' && depth-- == 0)
				break;
		if (q >= end)
			return p;
		bad = scan(w, name, q);
		if (bad)
			return bad;
		p = q + 1;
	}
	return NULL;
}

static void
scan_string(struct cwalk *w, const char *s)
{
	const char *bad = scan(w, s, s + strlen(s));

	if (bad)
		err_at(w, w->pos, "'%.120s' has an invalid interpolation at "
		    "'%.20s': Compose takes $$ (a dollar), $NAME, ${NAME}, "
		    "${NAME:-default}, ${NAME-default}, ${NAME:?error} and "
		    "${NAME?error}", s, bad);
}

/* Every string value in v (mapping keys are not interpolated). */
static void
scan_value(struct cwalk *w, jv v)
{
	struct hl_pos pos = w->pos;
	int it;

	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		scan_string(w, jv_string_value(v));
		break;
	case JV_KIND_ARRAY:
		jv_array_foreach(v, i, x) {
			size_t mark = enter(w, NULL, i, NULL);

			scan_value(w, x);
			hl_buf_truncate(&w->path, mark);
			w->pos = pos;
		}
		break;
	case JV_KIND_OBJECT:
		for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
		    it = jv_object_iter_next(v, it)) {
			jv k = jv_object_iter_key(v, it);
			size_t mark = enter(w, jv_string_value(k), 0, NULL);

			scan_value(w, jv_object_iter_value(v, it));
			hl_buf_truncate(&w->path, mark);
			w->pos = pos;
			jv_free(k);
		}
		break;
	default:
		break;
	}
	jv_free(v);
}

/* ---- bind mounts -------------------------------------------------------- */

/*
 * s (a path) normalised into out: no empty or '.' names.  Returns 0, or
 * -1 when a '..' leaves the top (a relative path's stack directory, or /).
 */
static int
normalise(const char *s, struct hl_buf *out)
{
	const char *p = s;
	int abs = s[0] == '/';

	hl_buf_truncate(out, 0);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash;

			if (out->len == 0)
				return -1;
			slash = strrchr(out->s, '/');
			hl_buf_truncate(out, slash ?
			    (size_t)(slash - out->s) : 0);
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (out->len > 0 || abs)
				hl_buf_adds(out, "/");
			hl_buf_add(out, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (abs && out->len == 0)
		hl_buf_adds(out, "/");
	return 0;
}

/* Whether path is dir or below it. */
static int
within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/* The data paths, for a message: "/srv/a, /srv/b". */
static void
data_list(struct hl_compose *c, char *b, size_t n)
{
	b[0] = '\0';
	jv_array_foreach(c->data, i, x) {
		snprintf(b + strlen(b), n - strlen(b), "%s%s", i ? ", " : "",
		    jv_string_value(x));
		jv_free(x);
	}
}

static void
check_bind(struct cwalk *w, const char *src)
{
	struct hl_buf norm = { 0 };
	char list[512], *full = NULL;
	struct stat st;
	int under = 0;

	if (strchr(src, '$')) {
		err_at(w, w->pos, "bind mount source '%.200s' uses a variable: "
		    "write the path out, so hl can check where it points", src);
	} else if (src[0] == '~') {
		err_at(w, w->pos, "bind mount source '%.200s' is in a home "
		    "directory: mount files of the stack directory (./...) or "
		    "a data path", src);
	} else if (normalise(src, &norm) < 0) {
		err_at(w, w->pos, "bind mount source '%.200s' is outside %s",
		    src, src[0] == '/' ? "/" : "the stack directory");
	} else if (src[0] == '/') {
		jv_array_foreach(w->c->data, i, x) {
			(void)i;
			under |= within(hl_buf_str(&norm), jv_string_value(x));
			jv_free(x);
		}
		data_list(w->c, list, sizeof(list));
		if (!under)
			err_at(w, w->pos, "bind mount source '%.200s' is not "
			    "under a data path of the stack (%s%s): durable "
			    "data lives under one", src, list[0] ? "data: " :
			    "stack.yaml declares none", list);
	} else if (asprintf(&full, "%s/%s/%s", w->c->root, w->c->dir,
	    hl_buf_str(&norm)) >= 0 && lstat(full, &st) < 0) {
		err_at(w, w->pos, "bind mount source '%.200s' does not exist "
		    "in the stack directory (%s/%s): a relative bind mount is "
		    "for files kept with the stack, durable data goes under a "
		    "data path", src, w->c->dir, hl_buf_str(&norm));
	}
	free(full);
	hl_buf_free(&norm);
}

/* A service's volume: SRC:DST[:MODE], or {type: bind, source: SRC}. */
static void
check_volume(struct cwalk *w, jv v)
{
	const char *s, *colon;
	char src[4097];

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = jv_string_value(v);
		colon = strchr(s, ':');
		/* Without a ':', an anonymous volume at that path. */
		if (colon == NULL || colon - s >= (long)sizeof(src))
			return;
		snprintf(src, sizeof(src), "%.*s", (int)(colon - s), s);
		/* A path (or one from a variable), else a named volume. */
		if ((src[0] && strchr("./~", src[0])) || strchr(src, '$'))
			check_bind(w, src);
		return;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT ||
	    hl_json_get_kind(v, "type") != JV_KIND_STRING ||
	    strcmp(hl_json_get_str(v, "type"), "bind") != 0)
		return;
	s = hl_json_get_str(v, "source");
	if (s == NULL)
		err_at(w, w->pos, "a bind mount needs a 'source'");
	else
		check_bind(w, s);
}

/* A named volume of the local driver bound to a host path ("device"). */
static void
check_named_volume(struct cwalk *w, jv v)
{
	jv opts = hl_json_get(jv_copy(v), "driver_opts");
	const char *dev = hl_json_get_str(opts, "device");
	const char *o = hl_json_get_str(opts, "o");

	if (dev && o && strstr(o, "bind"))
		check_bind(w, dev);
	jv_free(opts);
}

static void
each_volume(struct cwalk *w, jv list, void (*fn)(struct cwalk *, jv))
{
	struct hl_pos pos = w->pos;

	jv_array_foreach(list, i, x) {
		size_t mark = enter(w, NULL, i, NULL);

		fn(w, x);
		jv_free(x);
		hl_buf_truncate(&w->path, mark);
		w->pos = pos;
	}
	jv_free(list);
}

/* ---- services ----------------------------------------------------------- */

/* The services (consumed): their names, their bind mounts. */
static void
check_services(struct cwalk *w, jv services)
{
	struct hl_pos pos = w->pos, kpos;
	jv names = jv_array();
	int it;

	for (it = jv_object_iter(services); jv_object_iter_valid(services, it);
	    it = jv_object_iter_next(services, it)) {
		jv k = jv_object_iter_key(services, it);
		jv s = jv_object_iter_value(services, it);
		size_t mark = enter(w, jv_string_value(k), 0, &kpos);
		jv vols;

		if (!hl_check_ident(jv_string_value(k)))
			err_at(w, kpos, "service name '%.200s' is not a name "
			    "of [a-z0-9][a-z0-9_-]{0,62}", jv_string_value(k));
		else
			names = jv_array_append(names, jv_copy(k));
		if (jv_get_kind(s) != JV_KIND_OBJECT)
			err_at(w, w->pos, "service '%.200s' must be a mapping, "
			    "not %s", jv_string_value(k),
			    jv_get_kind(s) == JV_KIND_ARRAY ? "a list" :
			    "a scalar");
		vols = hl_json_get(jv_copy(s), "volumes");
		if (jv_get_kind(vols) == JV_KIND_ARRAY) {
			size_t m2 = enter(w, "volumes", 0, NULL);

			each_volume(w, vols, check_volume);
			hl_buf_truncate(&w->path, m2);
		} else {
			jv_free(vols);
		}
		hl_buf_truncate(&w->path, mark);
		w->pos = pos;
		jv_free(k);
		jv_free(s);
	}
	jv_free(services);
	jv_free(w->c->services);
	w->c->services = jv_sort(names, jv_copy(names));
}

void
hl_compose_check(struct hl_compose *c, jv doc, struct hl_pos_table *pt,
    struct hl_diag *d)
{
	struct cwalk w = { .c = c, .pt = pt, .d = d };
	jv services, volumes;
	int it;

	c->services = jv_array();
	c->vars = jv_object();
	if (hl_pos_get(pt, "", NULL, &w.pos) < 0)
		w.pos = (struct hl_pos){ hl_pos_table_file(pt), 1, 1 };
	if (jv_get_kind(doc) != JV_KIND_OBJECT) {
		err_at(&w, w.pos, "a Compose file is a mapping, not %s",
		    jv_get_kind(doc) == JV_KIND_ARRAY ? "a list" : "a scalar");
		goto done;
	}
	scan_value(&w, jv_copy(doc));
	services = hl_json_get(jv_copy(doc), "services");
	if (jv_get_kind(services) != JV_KIND_OBJECT ||
	    jv_object_length(jv_copy(services)) == 0) {
		size_t mark = enter(&w, "services", 0, NULL);

		if (jv_get_kind(services) == JV_KIND_OBJECT)
			err_at(&w, w.pos, "'services' is empty: a stack runs "
			    "at least one service");
		else if (jv_get_kind(services) == JV_KIND_NULL &&
		    !jv_object_has(jv_copy(doc), jv_string("services")))
			err_at(&w, w.pos, "no 'services': a Compose file maps "
			    "each service's name to its settings");
		else
			err_at(&w, w.pos, "'services' must be a mapping");
		hl_buf_truncate(&w.path, mark);
	} else {
		size_t mark = enter(&w, "services", 0, NULL);

		check_services(&w, jv_copy(services));
		hl_buf_truncate(&w.path, mark);
	}
	jv_free(services);
	volumes = hl_json_get(jv_copy(doc), "volumes");
	if (jv_get_kind(volumes) == JV_KIND_OBJECT) {
		struct hl_pos pos;
		size_t mark = enter(&w, "volumes", 0, NULL);

		pos = w.pos;
		for (it = jv_object_iter(volumes);
		    jv_object_iter_valid(volumes, it);
		    it = jv_object_iter_next(volumes, it)) {
			jv k = jv_object_iter_key(volumes, it);
			jv v = jv_object_iter_value(volumes, it);
			size_t m2 = enter(&w, jv_string_value(k), 0, NULL);

			check_named_volume(&w, v);
			hl_buf_truncate(&w.path, m2);
			w.pos = pos;
			jv_free(k);
			jv_free(v);
		}
		hl_buf_truncate(&w.path, mark);
	}
	jv_free(volumes);
done:
	hl_buf_free(&w.path);
}
