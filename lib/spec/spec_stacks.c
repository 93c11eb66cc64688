/*
 * L4's stacks: every directory of layers/L4/stacks/, loaded whether or not
 * a host names it (an unused one is checked all the same, and a warning):
 * the files it holds, its Compose file (compose.c) and its stack.yaml;
 * then, once the hosts are known, what a stack asks of the hosts that run
 * it.  The result is lab->stacks (spec.h); docs/spec.md states the rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "spec/check.h"
#include "spec/spec_impl.h"

#define STACKS_DIR "layers/L4/stacks"
#define STACK_MAX_FILES 10000	/* files in one stack */
#define STACK_MAX_DEPTH 16	/* directories below the stack's own */
#define TIMEOUT_DEFAULT 60	/* seconds, when stack.yaml gives none */

static int
errors(const struct hl_lab *lab)
{
	return hl_diag_count(&lab->diag, HL_DIAG_ERROR) +
	    lab->diag.dropped[HL_DIAG_ERROR];
}

/* A problem with a file or directory as a whole (no line). */
static void
file_problem(struct loader *L, enum hl_diag_level level, const char *file,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
file_problem(struct loader *L, enum hl_diag_level level, const char *file,
    const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_diag_add(&L->lab->diag, level, (struct hl_pos){ file, 0, 0 }, NULL,
	    "%s", msg);
}

/* Where path is in pt (its key when key is set); fallback if unrecorded. */
static struct hl_pos
pos_of(struct hl_pos_table *pt, const char *path, int key,
    struct hl_pos fallback)
{
	struct hl_pos k, v;

	if (pt == NULL || hl_pos_get(pt, path, &k, &v) < 0)
		return fallback;
	return key ? k : v;
}

/* ---- the files of a stack ---------------------------------------------- */

struct listing {
	struct loader *L;
	const char *dir;	/* the stack's, below the lab */
	const char *name;	/* the stack's */
	jv files;
	int n;
};

static int
clean_name(const char *s)
{
	jv j = jv_string(s);
	int ok = strcmp(jv_string_value(j), s) == 0;	/* valid UTF-8 */

	jv_free(j);
	for (; ok && *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			ok = 0;
	return ok;
}

/* The regular files below rel ("" for the stack's directory), dfd open on
 * it (closed here); anything else is reported. */
static void
list_dir(struct listing *ls, int dfd, const char *rel, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char where[PATH_MAX + 64];

	snprintf(where, sizeof(where), "%s/%s", ls->dir, rel);
	if (d == NULL) {
		file_problem(ls->L, HL_DIAG_ERROR, where, "cannot read "
		    "directory '%s': %s", where, strerror(errno));
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[PATH_MAX], shown[PATH_MAX + 64];
		struct stat st;
		int fd;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
		    de->d_name);
		snprintf(shown, sizeof(shown), "%s/%s", ls->dir, sub);
		if (!clean_name(de->d_name)) {
			file_problem(ls->L, HL_DIAG_ERROR, shown, "a file name "
			    "in stack '%s' is not valid UTF-8 or has a control "
			    "character", ls->name);
		} else if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0) {
			file_problem(ls->L, HL_DIAG_ERROR, shown, "cannot read "
			    "'%s': %s", shown, strerror(errno));
		} else if (S_ISDIR(st.st_mode) && depth >= STACK_MAX_DEPTH) {
			file_problem(ls->L, HL_DIAG_ERROR, shown, "'%s' in "
			    "stack '%s' is nested deeper than %d directories",
			    sub, ls->name, STACK_MAX_DEPTH);
		} else if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				file_problem(ls->L, HL_DIAG_ERROR, shown,
				    "cannot read directory '%s': %s", shown,
				    strerror(errno));
			else
				list_dir(ls, fd, sub, depth + 1);
		} else if (!S_ISREG(st.st_mode)) {
			file_problem(ls->L, HL_DIAG_ERROR, shown, "'%s' in "
			    "stack '%s' is %s: a stack holds regular files and "
			    "directories only", sub, ls->name,
			    S_ISLNK(st.st_mode) ? "a symbolic link" :
			    "a special file");
		} else if (*rel == '\0' && strcmp(de->d_name, ".env") == 0) {
			file_problem(ls->L, HL_DIAG_ERROR, shown, "'.env' in "
			    "stack '%s': Compose would read variables from it; "
			    "set them in env (lab.yaml, a persona, a host) or "
			    "name them in the stack's secrets", ls->name);
		} else if (ls->n++ == STACK_MAX_FILES) {
			file_problem(ls->L, HL_DIAG_ERROR, ls->dir, "stack "
			    "'%s' has more than %d files", ls->name,
			    STACK_MAX_FILES);
		} else if (ls->n <= STACK_MAX_FILES) {
			ls->files = jv_array_append(ls->files, jv_string(sub));
		}
	}
	closedir(d);
}

/* Every regular file below dir, relative to it, sorted; jv_invalid()
 * when dir cannot be read (reported). */
static jv
list_files(struct loader *L, const char *dir)
{
	struct listing ls = { L, dir, strrchr(dir, '/') + 1, jv_array(), 0 };
	char *path = NULL;
	int fd;

	if (asprintf(&path, "%s/%s", L->lab->root, dir) < 0)
		return ls.files;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0) {
		file_problem(L, HL_DIAG_ERROR, dir, "stack '%s': '%s' %s",
		    ls.name, dir, errno == ELOOP || errno == ENOTDIR ? "is "
		    "not a directory (a symbolic link?)" : strerror(errno));
		jv_free(ls.files);
		return jv_invalid();
	}
	list_dir(&ls, fd, "", 0);
	return jv_sort(ls.files, jv_copy(ls.files));
}

static int
listed(jv arr, const char *s)
{
	int found = 0;

	jv_array_foreach(arr, i, x) {
		(void)i;
		found |= jv_get_kind(x) == JV_KIND_STRING &&
		    strcmp(jv_string_value(x), s) == 0;
		jv_free(x);
	}
	return found;
}

/* The stack's Compose file: exactly one of the two names. */
static const char *
compose_file(struct loader *L, const char *dir, jv files)
{
	int a = listed(files, "compose.yaml");
	int b = listed(files, "docker-compose.yml");

	if (a && b)
		file_problem(L, HL_DIAG_ERROR, dir, "stack '%s' has both "
		    "compose.yaml and docker-compose.yml: keep one",
		    strrchr(dir, '/') + 1);
	else if (!a && !b)
		file_problem(L, HL_DIAG_ERROR, dir, "stack '%s' has no Compose "
		    "file (compose.yaml or docker-compose.yml)",
		    strrchr(dir, '/') + 1);
	return a != b ? (a ? "compose.yaml" : "docker-compose.yml") : NULL;
}

/* ---- stack.yaml: what the schema cannot say ----------------------------- */

/*
 * No data path is another's, or inside another's.  raw is the list as
 * written (indices for positions), data the valid paths in it.
 */
static void
check_data(struct loader *L, struct hl_pos_table *pt, jv raw, jv data)
{
	int i, j, n = jv_get_kind(raw) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(raw)) : 0;

	/* Each path reported once, against the first it repeats or is in. */
	for (j = 0; j < n; j++)
		for (i = 0; i < n; i++) {
			jv a = jv_array_get(jv_copy(raw), i);
			jv b = jv_array_get(jv_copy(raw), j);
			const char *sa = hl_json_str(a), *sb = hl_json_str(b);
			size_t la = sa ? strlen(sa) : 0;
			char path[32];

			if (i != j && sa && sb && listed(data, sa) &&
			    listed(data, sb) && strncmp(sb, sa, la) == 0 &&
			    (sb[la] == '/' || (sb[la] == '\0' && j > i))) {
				snprintf(path, sizeof(path), ".data[%d]", j);
				hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
				    pos_of(pt, path, 0, (struct hl_pos){
				    hl_pos_table_file(pt), 1, 1 }), path,
				    "data path '%s' %s '%s'", sb, sb[la] ?
				    "is inside" : "repeats", sa);
				i = n;
			}
			jv_free(a);
			jv_free(b);
		}
	jv_free(raw);
}

/*
 * Each service's health check, normalised (an http check's path and
 * status filled in): a service of the Compose file (when services is an
 * array), exactly one kind of check, a command with something to run.
 */
static jv
check_health(struct loader *L, struct hl_pos_table *pt, jv spec, jv services)
{
	jv health = hl_json_get(jv_copy(spec), "health"), out = jv_object();
	int it;

	if (jv_get_kind(health) != JV_KIND_OBJECT) {
		jv_free(health);
		return out;
	}
	for (it = jv_object_iter(health); jv_object_iter_valid(health, it);
	    it = jv_object_iter_next(health, it)) {
		jv k = jv_object_iter_key(health, it);
		jv c = jv_object_iter_value(health, it), http;
		struct hl_buf path = { 0 };
		struct hl_pos top = { hl_pos_table_file(pt), 1, 1 };
		int kinds = 0;

		hl_buf_adds(&path, ".health");
		hl_path_key(&path, jv_string_value(k));
		if (jv_get_kind(services) == JV_KIND_ARRAY &&
		    !listed(services, jv_string_value(k)))
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
			    pos_of(pt, hl_buf_str(&path), 1, top),
			    hl_buf_str(&path), "service '%s' is not in the "
			    "Compose file", jv_string_value(k));
		if (jv_get_kind(c) == JV_KIND_OBJECT)
			kinds = jv_object_has(jv_copy(c), jv_string("http")) +
			    jv_object_has(jv_copy(c), jv_string("tcp")) +
			    jv_object_has(jv_copy(c), jv_string("command"));
		if (jv_get_kind(c) == JV_KIND_OBJECT && kinds != 1)
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
			    pos_of(pt, hl_buf_str(&path), 0, top),
			    hl_buf_str(&path), "give exactly one of 'http', "
			    "'tcp' and 'command'");
		if (hl_json_get_kind(c, "command") == JV_KIND_ARRAY &&
		    jv_array_length(hl_json_get(jv_copy(c), "command")) == 0) {
			hl_buf_adds(&path, ".command");
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
			    pos_of(pt, hl_buf_str(&path), 0, top),
			    hl_buf_str(&path), "'command' is an empty list: "
			    "it names the program to run and its arguments");
		}
		http = hl_json_get(jv_copy(c), "http");
		if (jv_get_kind(http) == JV_KIND_OBJECT) {
			if (!jv_object_has(jv_copy(http), jv_string("path")))
				http = jv_object_set(http, jv_string("path"),
				    jv_string("/"));
			if (!jv_object_has(jv_copy(http), jv_string("status")))
				http = jv_object_set(http, jv_string("status"),
				    jv_number(200));
			c = jv_object_set(c, jv_string("http"), http);
		} else {
			jv_free(http);
		}
		out = jv_object_set(out, k, c);
		hl_buf_free(&path);
	}
	jv_free(health);
	return out;
}

/*
 * The capture hooks, {before: [...], after: [...]} (each [] when none):
 * each hook's service in the Compose file (when services is an array), its
 * command not empty, its timeout HL_HOOK_TIMEOUT unless it says.  A stack that declares hooks but no data path is
 * refused: nothing would be captured around them.
 */
static jv
check_hooks(struct loader *L, struct hl_pos_table *pt, jv spec, jv services,
    jv data)
{
	jv cap = hl_json_get(jv_copy(spec), "capture"), out = jv_object();
	static const char *const when[] = { "before", "after" };
	struct hl_pos top = { hl_pos_table_file(pt), 1, 1 };
	int any = 0;

	for (int w = 0; w < 2; w++) {
		jv hooks = hl_json_get(jv_copy(cap), when[w]), ok = jv_array();

		if (jv_get_kind(hooks) == JV_KIND_ARRAY)
			jv_array_foreach(hooks, i, hk) {
				char path[64];
				const char *svc = hl_json_get_str(hk, "service");
				jv cmd = hl_json_get(jv_copy(hk), "command");

				snprintf(path, sizeof(path), ".capture.%s[%d]",
				    when[w], i);
				if (svc && jv_get_kind(services) ==
				    JV_KIND_ARRAY && !listed(services, svc)) {
					strcat(path, ".service");
					hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
					    pos_of(pt, path, 0, top), path,
					    "service '%s' is not in the Compose "
					    "file", svc);
				} else if (jv_get_kind(cmd) == JV_KIND_ARRAY &&
				    jv_array_length(jv_copy(cmd)) == 0) {
					strcat(path, ".command");
					hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
					    pos_of(pt, path, 0, top), path,
					    "'command' is an empty list: it names "
					    "the program to run and its arguments");
				} else if (svc && jv_get_kind(cmd) ==
				    JV_KIND_ARRAY)
					ok = jv_array_append(ok,
					    hl_json_get_kind(hk, "timeout") ==
					    JV_KIND_NUMBER ? jv_copy(hk) :
					    jv_object_set(jv_copy(hk),
					    jv_string("timeout"),
					    jv_number(HL_HOOK_TIMEOUT)));
				any = 1;
				jv_free(cmd);
				jv_free(hk);
			}
		jv_free(hooks);
		out = jv_object_set(out, jv_string(when[w]), ok);
	}
	if (any && jv_array_length(jv_copy(data)) == 0)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, pos_of(pt, ".capture",
		    1, top), ".capture", "capture hooks, but no data path: "
		    "nothing would be captured around them (add data)");
	jv_free(cap);
	return out;
}

/* arr without repeats, each first occurrence kept in place. */
static jv
first_each(jv arr)
{
	jv out = jv_array();

	jv_array_foreach(arr, i, x) {
		(void)i;
		if (listed(out, jv_string_value(x)))
			jv_free(x);
		else
			out = jv_array_append(out, x);
	}
	jv_free(arr);
	return out;
}

/* ---- one stack ---------------------------------------------------------- */

static void
load_stack(struct loader *L, const char *name)
{
	struct hl_lab *lab = L->lab;
	struct hl_pos_table *spt = NULL, *cpt = NULL;
	struct hl_compose c = { .root = lab->root };
	char dir[PATH_MAX], rel[PATH_MAX + 32];
	const char *compose;
	int before = errors(lab);
	jv files, spec = jv_null(), raw = jv_null(), doc, data, health, hooks,
	    e;
	jv timeout, secrets;

	snprintf(dir, sizeof(dir), "%s/%s", STACKS_DIR, name);
	if (!hl_check_ident(name)) {
		file_problem(L, HL_DIAG_ERROR, dir, "stack name '%s' (the "
		    "directory name) is not a name of [a-z0-9][a-z0-9_-]{0,62}",
		    name);
		return;
	}
	files = list_files(L, dir);
	if (!jv_is_valid(files))
		return;
	compose = compose_file(L, dir, files);
	if (listed(files, "stack.yaml")) {
		snprintf(rel, sizeof(rel), "%s/stack.yaml", dir);
		raw = hl_spec_load_yaml(L, rel, &spt);
		if (jv_is_valid(raw))
			spec = hl_schema_check(&L->sc, HL_SCHEMA_STACK,
			    jv_copy(raw), spt);
	}
	if (jv_get_kind(spec) != JV_KIND_OBJECT) {
		jv_free(spec);
		spec = jv_object();
	}
	data = hl_json_get(jv_copy(spec), "data");
	if (jv_get_kind(data) != JV_KIND_ARRAY) {
		jv_free(data);
		data = jv_array();
	}
	if (spt)
		check_data(L, spt, hl_json_get(raw, "data"), data);
	else
		jv_free(raw);
	c.dir = dir;
	c.data = data;
	c.services = jv_null();		/* unknown: no Compose file read */
	c.vars = jv_object();
	if (compose) {
		snprintf(rel, sizeof(rel), "%s/%s", dir, compose);
		doc = hl_spec_load_yaml(L, rel, &cpt);
		if (jv_is_valid(doc)) {
			jv_free(c.vars);
			hl_compose_check(&c, doc, cpt, &lab->diag);
		}
		jv_free(doc);
	}
	health = spt ? check_health(L, spt, spec, c.services) : jv_object();
	hooks = spt ? check_hooks(L, spt, spec, c.services, data) :
	    JV_OBJECT(jv_string("before"), jv_array(), jv_string("after"),
	    jv_array());
	L->stack_uses = jv_object_set(L->stack_uses, jv_string(name),
	    JV_OBJECT(jv_string("file"), jv_string(compose ? rel : dir),
	    jv_string("vars"), jv_copy(c.vars)));
	timeout = hl_json_get(jv_copy(spec), "timeout");
	if (jv_get_kind(timeout) != JV_KIND_NUMBER) {
		jv_free(timeout);
		timeout = jv_number(TIMEOUT_DEFAULT);
	}
	e = JV_OBJECT(jv_string("dir"), jv_string(dir),
	    jv_string("compose"), compose ? jv_string(compose) : jv_null(),
	    jv_string("files"), files,
	    jv_string("services"), jv_get_kind(c.services) == JV_KIND_ARRAY ?
	    jv_copy(c.services) : jv_array(),
	    jv_string("health"), health,
	    jv_string("timeout"), timeout);
	secrets = hl_json_get(jv_copy(spec), "secrets");
	if (jv_get_kind(secrets) != JV_KIND_ARRAY) {
		jv_free(secrets);
		secrets = jv_array();
	}
	e = jv_object_set(e, jv_string("secrets"), first_each(secrets));
	e = jv_object_set(e, jv_string("data"), data);
	e = jv_object_set(e, jv_string("capture"), hooks);
	e = jv_object_set(e, jv_string("vars"), jv_keys(c.vars));
	if (errors(lab) == before)
		lab->stacks = jv_object_set(lab->stacks, jv_string(name), e);
	else
		jv_free(e);
	jv_free(c.services);
	jv_free(spec);
}

void
hl_spec_load_stacks(struct loader *L)
{
	char *path = NULL, **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (asprintf(&path, "%s/%s", L->lab->root, STACKS_DIR) < 0)
		return;
	d = opendir(path);
	free(path);
	if (d == NULL)
		return;		/* no stacks */
	while ((de = readdir(d)) != NULL) {
		char rel[PATH_MAX];

		if (de->d_name[0] == '.' ||
		    strcmp(de->d_name, "README.md") == 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", STACKS_DIR, de->d_name);
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    de->d_type != DT_LNK) {
			file_problem(L, HL_DIAG_WARNING, rel, "'%s' is "
			    "ignored: a stack is a directory", rel);
			continue;
		}
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 16;
			p = realloc(names, cap * sizeof(*p));
			if (p == NULL)
				break;
			names = p;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (names[i])
			load_stack(L, names[i]);
		free(names[i]);
	}
	free(names);
}
