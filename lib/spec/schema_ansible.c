/*
 * The Ansible side of a host (L3): the names in "roles" and the "vars"
 * handed to its roles.  hl-converge passes both to Ansible as they stand,
 * so what Ansible would read as something else is refused here: a name
 * that is no variable, one Ansible or hl sets itself, a string that
 * Ansible would evaluate as a template.  docs/spec.md states the rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec/check.h"
#include "spec/schema_impl.h"

/* Python's keywords: Ansible's isidentifier() refuses them as names. */
static const char *const keywords[] = { "False", "None", "True", "and",
	"as", "assert", "async", "await", "break", "class", "continue", "def",
	"del", "elif", "else", "except", "finally", "for", "from", "global",
	"if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
	"raise", "return", "try", "while", "with", "yield", NULL };

/* Ansible's special variables without the ansible_ prefix: it sets them. */
static const char *const magic[] = { "group_names", "groups", "hostvars",
	"inventory_dir", "inventory_file", "inventory_hostname",
	"inventory_hostname_short", "omit", "play_hosts", "playbook_dir",
	"role_name", "role_names", "role_path", NULL };

static int
listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static jv
refuse(jv v)
{
	jv_free(v);
	return jv_invalid();
}

/* A role name, and its layers/L3/roles/NAME/tasks/main.yml in the lab. */
jv
hl_schema_c_role(struct walk *w, const struct rule *r, jv v)
{
	char *path = NULL, b[256];
	const char *s;
	struct stat st;
	int rc, err;

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING) {
		hl_schema_err(w, w->pos, "must be a role name, not %s",
		    hl_schema_kind(v));
		return refuse(v);
	}
	s = jv_string_value(v);
	if (!hl_check_ident(s)) {
		hl_schema_err(w, w->pos, "%s is not a role name of "
		    "[a-z0-9][a-z0-9_-]{0,62}", hl_schema_shown(w, s, b,
		    sizeof(b)));
		return refuse(v);
	}
	if (asprintf(&path, "%s/layers/L3/roles/%s/tasks/main.yml",
	    w->c->root, s) < 0)
		return refuse(v);
	rc = stat(path, &st);
	err = errno;
	free(path);
	if (rc == 0 && S_ISREG(st.st_mode))
		return v;
	if (rc < 0 && (err == ENOENT || err == ENOTDIR))
		hl_schema_err(w, w->pos, "role '%s' does not exist: no "
		    "layers/L3/roles/%s/tasks/main.yml", s, s);
	else if (rc < 0)
		hl_schema_err(w, w->pos, "role '%s': layers/L3/roles/%s/tasks/"
		    "main.yml: %s", s, s, strerror(err));
	else
		hl_schema_err(w, w->pos, "role '%s': layers/L3/roles/%s/tasks/"
		    "main.yml is not a regular file", s, s);
	return refuse(v);
}

/* A name in "vars": an Ansible variable hl and Ansible leave to us. */
jv
hl_schema_c_var_name(struct walk *w, const struct rule *r, jv v)
{
	char b[256];
	const char *s;

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING)
		return refuse(v);	/* YAML keys are strings (yamldoc) */
	s = jv_string_value(v);
	if (!hl_check_var_name(s)) {
		hl_schema_err(w, w->pos, "%s is not a variable name of "
		    "[A-Za-z_][A-Za-z0-9_]{0,63}", hl_schema_shown(w, s, b,
		    sizeof(b)));
		return refuse(v);
	}
	if (strncmp(s, "ansible_", 8) == 0) {
		hl_schema_err(w, w->pos, "variable '%s' is reserved: ansible_* "
		    "variables set how Ansible reaches and runs on the host, "
		    "which hl decides from the specs", s);
		return refuse(v);
	}
	if (strncmp(s, "hl_", 3) == 0) {
		hl_schema_err(w, w->pos, "variable '%s' is reserved: hl_* "
		    "variables are the ones hl gives its roles", s);
		return refuse(v);
	}
	if (listed(keywords, s)) {
		hl_schema_err(w, w->pos, "'%s' is a Python keyword, which "
		    "Ansible does not take as a variable name", s);
		return refuse(v);
	}
	if (listed(magic, s)) {
		hl_schema_err(w, w->pos, "variable '%s' is reserved: it is one "
		    "of Ansible's special variables, which Ansible sets itself",
		    s);
		return refuse(v);
	}
	return v;
}

/*
 * A scalar in a variable's value (a mapping key inside it included):
 * plain data.  Ansible evaluates a string holding a Jinja2 delimiter as a
 * template, so a spec value could run lookups on the controller.
 */
jv
hl_schema_c_var_value(struct walk *w, const struct rule *r, jv v)
{
	static const char *const opens[] = { "{{", "{%", "{#", NULL };
	const char *const *o;
	const char *s, *c;
	char b[256];

	(void)r;
	if (jv_get_kind(v) != JV_KIND_STRING)
		return v;
	s = jv_string_value(v);
	/* A value from .hl/ did not pass the YAML loader's check. */
	for (c = s; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f) {
			hl_schema_err(w, w->pos, "%s has a control character",
			    hl_schema_shown(w, s, b, sizeof(b)));
			return refuse(v);
		}
	for (o = opens; *o; o++)
		if (strstr(s, *o)) {
			hl_schema_err(w, w->pos, "%s holds '%s': Ansible would "
			    "evaluate it as a template (vars are plain data)",
			    hl_schema_shown(w, s, b, sizeof(b)), *o);
			return refuse(v);
		}
	return v;
}
