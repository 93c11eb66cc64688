/*
 * The shape of each spec file: which keys exist, which are required, the
 * type and syntax of each value, and values taken from files under .hl/
 * ({from: .hl/FILE, key: NAME}).  Lab-wide rules (references, uniqueness,
 * precedence) live in rules.c and spec_hosts.c.
 */
#ifndef HL_SCHEMA_H
#define HL_SCHEMA_H

#include <jv.h>

#include "core/diag.h"
#include "core/pos.h"

enum hl_schema_doc {
	HL_SCHEMA_LAB,		/* lab.yaml */
	HL_SCHEMA_PERSONA,	/* personas/NAME.yaml */
	HL_SCHEMA_TEMPLATE,	/* layers/L1/templates/NAME.yaml */
	HL_SCHEMA_RUNWAY,	/* layers/L0/runway.yaml */
	HL_SCHEMA_STACK,	/* layers/L4/stacks/NAME/stack.yaml */
};

struct hl_schema_ctx {
	const char *root;	/* lab root, for {from: .hl/...} values */
	struct hl_diag *diag;
	jv warned;		/* .hl/ files already reported missing */
};

/*
 * Check doc (consumed) against the schema of its kind, reporting each
 * problem at its position in pt.  Returns the document with every valid
 * value normalised (sizes to numbers: memory in MiB, disk in GiB; MACs
 * upper-cased; template references split into {name, channel}; values
 * from .hl/ resolved, null when their file is missing) and every invalid
 * value left out; jv_invalid() when doc is not a mapping.
 */
jv hl_schema_check(struct hl_schema_ctx *c, enum hl_schema_doc kind, jv doc,
    struct hl_pos_table *pt);

/* The keys a host may set at every level (defaults, persona, host). */
extern const char *const hl_schema_settings[];

#endif
