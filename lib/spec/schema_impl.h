/*
 * Internal to schema.c (the walker) and schema_keys.c, schema_ansible.c
 * and schema_stack.c (the keys of each spec file and the checks of their
 * values).  Nothing else includes this.
 */
#ifndef HL_SCHEMA_IMPL_H
#define HL_SCHEMA_IMPL_H

#include <jv.h>

#include "core/buf.h"
#include "spec/schema.h"

struct walk;
struct rule;

typedef jv (*check_fn)(struct walk *w, const struct rule *r, jv v);

/*
 * K_DATA: plain data of any shape (scalars, lists, mappings), every string
 * in it, mapping keys included, passed to the rule's check; with R_REF, a
 * mapping with a 'from' key at any depth is a {from: .hl/FILE, key: NAME}.
 */
enum rule_kind { K_SCALAR, K_MAP, K_DICT, K_LIST, K_DATA };

enum rule_flags {
	R_REQ = 1 << 0,		/* required */
	R_REF = 1 << 1,		/* may be {from: .hl/FILE, key: NAME} */
};

struct rule {
	const char *key;		/* NULL ends a table */
	enum rule_kind kind;
	unsigned flags;
	const struct rule *sub;		/* MAP: its keys; DICT, LIST: the item */
	check_fn check;			/* SCALAR: the value; DICT: each key */
	long min, max;			/* integers */
	const char *const *choices;	/* enumerations */
};

struct walk {
	struct hl_schema_ctx *c;
	struct hl_pos_table *pt;
	struct hl_buf path;
	struct hl_pos kpos;	/* the current key */
	struct hl_pos pos;	/* the current value */
	const char *ref;	/* "NAME in FILE" while checking a .hl/ value */
};

/* Report a problem at pos, under the walk's current path. */
void hl_schema_err(struct walk *w, struct hl_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * How a value appears in a message: quoted, or, for a value read from .hl/,
 * named and not shown (those files sit beside a token).
 */
const char *hl_schema_shown(struct walk *w, const char *s, char *buf,
    size_t n);

/* "a mapping", "a list", "nothing", ... for v's kind. */
const char *hl_schema_kind(jv v);

/* Checks the walker itself needs, for {from: FILE, key: NAME}. */
jv hl_schema_c_path(struct walk *w, const struct rule *r, jv v);
jv hl_schema_c_env(struct walk *w, const struct rule *r, jv v);

/* An integer from r->min to r->max (a value from .hl/ is read as one). */
jv hl_schema_c_int(struct walk *w, const struct rule *r, jv v);

/* The Ansible side of a host (schema_ansible.c): a role name, whose
 * layers/L3/roles/NAME/tasks/main.yml must exist; a variable's name; each
 * scalar of a variable's value. */
jv hl_schema_c_role(struct walk *w, const struct rule *r, jv v);
jv hl_schema_c_var_name(struct walk *w, const struct rule *r, jv v);
jv hl_schema_c_var_value(struct walk *w, const struct rule *r, jv v);

/* The L4 side of a host (schema_stack.c): a stack name, whose
 * layers/L4/stacks/NAME/ must hold a Compose file; a name in "env"; its
 * value, a string (a number or boolean is written as one). */
jv hl_schema_c_stack(struct walk *w, const struct rule *r, jv v);
jv hl_schema_c_env_name(struct walk *w, const struct rule *r, jv v);
jv hl_schema_c_env_value(struct walk *w, const struct rule *r, jv v);

/* A path that holds durable data (a host's or a stack's "data"): absolute,
 * normalised, in no system tree and no directory every program shares. */
jv hl_schema_c_data_path(struct walk *w, const struct rule *r, jv v);

/* The keys of each file. */
extern const struct rule hl_schema_lab[];
extern const struct rule hl_schema_persona[];
extern const struct rule hl_schema_template[];
extern const struct rule hl_schema_runway[];
extern const struct rule hl_schema_stack[];	/* schema_stack.c */

#endif
