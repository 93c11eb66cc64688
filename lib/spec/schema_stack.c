/*
 * The L4 side of the specs: the names in a host's "stacks", the "env" its
 * stacks' Compose files get, and the keys of a stack's own stack.yaml
 * (layers/L4/stacks/NAME/stack.yaml).  What spans a stack's files (its
 * directory, the Compose file, the hosts that run it) is in spec_stacks.c
 * and compose.c.  docs/spec.md states the rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec/check.h"
#include "spec/schema_impl.h"

static jv
refuse(jv v)
{
	jv_free(v);
	return jv_invalid();
}

/* Whether dir (below the lab) is a directory; *err gets errno, or 0. */
static int
is_dir(const char *root, const char *dir, int *err)
{
	char *path = NULL;
	struct stat st;
	int rc;

	*err = 0;
	if (asprintf(&path, "%s/%s", root, dir) < 0)
		return 0;
	rc = lstat(path, &st);
	*err = rc < 0 ? errno : 0;
	free(path);
	return rc == 0 && S_ISDIR(st.st_mode);
}

/* Whether file (below the lab) is a regular file. */
static int
is_file(const char *root, const char *file)
{
	char *path = NULL;
	struct stat st;
	int rc;

	if (asprintf(&path, "%s/%s", root, file) < 0)
		return 0;
	rc = lstat(path, &st);
	free(path);
	return rc == 0 && S_ISREG(st.st_mode);
}

/* A stack name, and its layers/L4/stacks/NAME/ with a Compose file. */
jv
hl_schema_c_stack(struct walk *w, const struct rule *r, jv v)
{
	char dir[128], file[192], b[256];
	const char *s;
	int err;

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		hl_schema_err(w, w->pos, "must be a stack name, not %s",
		    hl_schema_kind(v));
		return refuse(v);
	}
	s = jv_string_value(v);
	if (!hl_check_ident(s)) {
		hl_schema_err(w, w->pos, "%s is not a stack name of "
		    "[a-z0-9][a-z0-9_-]{0,62}", hl_schema_shown(w, s, b,
		    sizeof(b)));
		return refuse(v);
	}
	snprintf(dir, sizeof(dir), "layers/L4/stacks/%s", s);
	if (!is_dir(w->c->root, dir, &err)) {
		if (err == ENOENT || err == ENOTDIR)
			hl_schema_err(w, w->pos, "stack '%s' does not exist: "
			    "no %s/", s, dir);
		else if (err)
			hl_schema_err(w, w->pos, "stack '%s': %s/: %s", s, dir,
			    strerror(err));
		else
			hl_schema_err(w, w->pos, "stack '%s': %s is not a "
			    "directory", s, dir);
		return refuse(v);
	}
	snprintf(file, sizeof(file), "%s/compose.yaml", dir);
	if (is_file(w->c->root, file))
		return v;
	snprintf(file, sizeof(file), "%s/docker-compose.yml", dir);
	if (is_file(w->c->root, file))
		return v;
	hl_schema_err(w, w->pos, "stack '%s' has no Compose file: no "
	    "%s/compose.yaml or %s/docker-compose.yml", s, dir, dir);
	return refuse(v);
}

/*
 * A variable a Compose file may use: [A-Za-z_][A-Za-z0-9_]{0,63}, not
 * HL_* (hl's own, the Proxmox token among them).  what: "variable" or
 * "secret".
 */
static int
compose_var(struct walk *w, jv v, const char *what)
{
	char b[256];
	const char *s;

	if (jv_get_kind(v) != JV_KIND_STRING) {
		hl_schema_err(w, w->pos, "must be a %s name, not %s", what,
		    hl_schema_kind(v));
		return 0;
	}
	s = jv_string_value(v);
	if (!hl_check_var_name(s)) {
		hl_schema_err(w, w->pos, "%s is not a %s name of "
		    "[A-Za-z_][A-Za-z0-9_]{0,63}", hl_schema_shown(w, s, b,
		    sizeof(b)), what);
		return 0;
	}
	if (strncmp(s, "HL_", 3) == 0) {
		hl_schema_err(w, w->pos, "%s '%s' is reserved: HL_* variables "
		    "are hl's own (the Proxmox token among them)", what, s);
		return 0;
	}
	return 1;
}

jv
hl_schema_c_env_name(struct walk *w, const struct rule *r, jv v)
{
	(void)r;
	return compose_var(w, v, "variable") ? v : refuse(v);
}

/*
 * A value in "env": a string, or a number or boolean written as one.  A
 * value from .hl/ did not pass the walker's check for control characters:
 * a newline would end the variable in the environment file Compose reads.
 */
jv
hl_schema_c_env_value(struct walk *w, const struct rule *r, jv v)
{
	char b[256];
	const char *c;
	jv s;

	(void)r;
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		for (c = jv_string_value(v); *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f) {
				hl_schema_err(w, w->pos, "%s has a control "
				    "character", hl_schema_shown(w,
				    jv_string_value(v), b, sizeof(b)));
				return refuse(v);
			}
		return v;
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		s = jv_dump_string(v, 0);
		return s;
	default:
		hl_schema_err(w, w->pos, "must be a string, not %s (env values "
		    "are plain strings)", hl_schema_kind(v));
		return refuse(v);
	}
}

/* ---- stack.yaml ------------------------------------------------------- */

static jv
c_secret(struct walk *w, const struct rule *r, jv v)
{
	(void)r;
	return compose_var(w, v, "secret") ? v : refuse(v);
}

/* Trees a data path may be neither in nor at. */
static const char *const system_trees[] = { "/etc", "/usr", "/bin", "/sbin",
	"/boot", "/dev", "/proc", "/sys", "/run", "/var/run", "/tmp",
	"/var/tmp", "/var/lib/docker", "/opt/hl", NULL };

/* Directories a data path may be below, but not be. */
static const char *const shared_dirs[] = { "/", "/var", "/var/lib", "/srv",
	"/opt", "/home", "/root", "/mnt", "/media", NULL };

/* Whether path is dir or below it, component by component. */
static int
within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/* Why s is no data path, or NULL; *tree gets the tree it is in. */
static const char *
data_path_why(const char *s, const char **tree)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789._+@=,-";
	const char *const *t, *p;

	*tree = NULL;
	if (s[0] != '/')
		return "is not an absolute path";
	if (strlen(s) > 1024)
		return "is longer than 1024 characters";
	for (p = s; *p == '/';) {
		size_t n;

		p++;
		n = strspn(p, ok);
		if (p[n] != '/' && p[n] != '\0')
			return "has a character other than letters, digits "
			    "and ._+@=,- in a name";
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return strcmp(s, "/") == 0 ? "is the whole file "
			    "system" : "is not normalised (no '.', '..' or "
			    "empty names, no '/' at the end)";
		p += n;
	}
	/* /lib, /lib64, /libx32, ...: the system's libraries */
	if (strncmp(s, "/lib", 4) == 0) {
		*tree = "/lib*";
		return "is in a system tree";
	}
	for (t = system_trees; *t; t++)
		if (within(s, *t)) {
			*tree = *t;
			return "is in a system tree";
		}
	for (t = shared_dirs; *t; t++)
		if (strcmp(s, *t) == 0)
			return "is a directory every program shares";
	return NULL;
}

jv
hl_schema_c_data_path(struct walk *w, const struct rule *r, jv v)
{
	const char *why, *tree;

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		hl_schema_err(w, w->pos, "must be a data path, not %s",
		    hl_schema_kind(v));
		return refuse(v);
	}
	why = data_path_why(jv_string_value(v), &tree);
	if (why == NULL)
		return v;
	if (tree)
		hl_schema_err(w, w->pos, "data path '%.200s' %s (%s): durable "
		    "data lives in a directory of its own, such as /srv/NAME "
		    "or /var/lib/NAME", jv_string_value(v), why, tree);
	else if (strncmp(why, "is a", 4) == 0)
		hl_schema_err(w, w->pos, "data path '%.200s' %s: name a "
		    "directory of its own, such as /srv/NAME or "
		    "/var/lib/NAME", jv_string_value(v), why);
	else
		hl_schema_err(w, w->pos, "data path '%.200s' %s",
		    jv_string_value(v), why);
	return refuse(v);
}

/* An HTTP request path: "/" and printable ASCII without spaces. */
static jv
c_http_path(struct walk *w, const struct rule *r, jv v)
{
	const char *s, *c;

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		hl_schema_err(w, w->pos, "must be an HTTP path such as "
		    "/health, not %s", hl_schema_kind(v));
		return refuse(v);
	}
	s = jv_string_value(v);
	for (c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			break;
	if (s[0] != '/' || *c || c - s > 1024) {
		hl_schema_err(w, w->pos, "'%.200s' is not an HTTP path: it "
		    "starts with '/' and has no spaces or other than ASCII", s);
		return refuse(v);
	}
	return v;
}

/* One argument of a health command (run with docker exec, no shell). */
static jv
c_argument(struct walk *w, const struct rule *r, jv v)
{
	(void)r;
	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	hl_schema_err(w, w->pos, "must be a string, not %s (a command is a "
	    "list of arguments)", hl_schema_kind(v));
	return refuse(v);
}

/* A service name, which compose.c matches to the Compose file's. */
static jv
c_service(struct walk *w, const struct rule *r, jv v)
{
	char b[256];

	(void)r;
	if (jv_get_kind(v) == JV_KIND_STRING &&
	    hl_check_ident(jv_string_value(v)))
		return v;
	hl_schema_err(w, w->pos, "%s is not a service name of "
	    "[a-z0-9][a-z0-9_-]{0,62}", hl_schema_shown(w,
	    jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : "", b,
	    sizeof(b)));
	return refuse(v);
}

static const struct rule http_rules[] = {
	{ .key = "port", .flags = R_REQ, .check = hl_schema_c_int, .min = 1,
	  .max = 65535 },
	{ .key = "path", .check = c_http_path },
	{ .key = "status", .check = hl_schema_c_int, .min = 100, .max = 599 },
	{ 0 }
};

static const struct rule argument_item = { .key = "command",
	.check = c_argument };

/* Exactly one of them: spec_stacks.c checks that. */
static const struct rule check_rules[] = {
	{ .key = "http", .kind = K_MAP, .sub = http_rules },
	{ .key = "tcp", .check = hl_schema_c_int, .min = 1, .max = 65535 },
	{ .key = "command", .kind = K_LIST, .sub = &argument_item },
	{ 0 }
};

static const struct rule check_item = { .key = "health", .kind = K_MAP,
	.sub = check_rules };
static const struct rule secret_item = { .key = "secrets",
	.check = c_secret };
static const struct rule data_item = { .key = "data", .check = hl_schema_c_data_path };

/* capture: {before: [HOOK...], after: [HOOK...]}, each hook a command run
 * in a service's container around a capture of the host's data */
static const struct rule hook_rules[] = {
	{ .key = "service", .flags = R_REQ, .check = c_service },
	{ .key = "command", .kind = K_LIST, .flags = R_REQ,
	  .sub = &argument_item },
	{ .key = "timeout", .check = hl_schema_c_int, .min = 1,
	  .max = 86400 },
	{ 0 }
};

static const struct rule hook_item = { .key = "hook", .kind = K_MAP,
	.sub = hook_rules };

static const struct rule hooks_rules[] = {
	{ .key = "before", .kind = K_LIST, .sub = &hook_item },
	{ .key = "after", .kind = K_LIST, .sub = &hook_item },
	{ 0 }
};

const struct rule hl_schema_stack[] = {
	{ .key = "health", .kind = K_DICT, .sub = &check_item,
	  .check = c_service },
	{ .key = "timeout", .check = hl_schema_c_int, .min = 1, .max = 3600 },
	{ .key = "secrets", .kind = K_LIST, .sub = &secret_item },
	{ .key = "data", .kind = K_LIST, .sub = &data_item },
	{ .key = "capture", .kind = K_MAP, .sub = hooks_rules },
	{ 0 }
};
