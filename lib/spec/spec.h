/*
 * The lab's specs (DESIGN.md 2.1): lab.yaml, personas/NAME.yaml and
 * layers/L1/templates/NAME.yaml, validated and resolved into each host's
 * effective configuration.  docs/spec.md documents every key.
 *
 * Precedence, lowest first: lab.yaml "defaults", then the persona, then
 * the host.  A key set at a higher level replaces the lower value whole,
 * except "tags" and "roles", which accumulate across the three levels,
 * and "vars", merged by variable name.
 */
#ifndef HL_SPEC_H
#define HL_SPEC_H

#include <stddef.h>
#include <jv.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/pos.h"

struct hl_host_info;
struct hl_spec_keys;

struct hl_host {
	char *name;
	char *persona;
	int external;		/* kind: external */
	jv tags;		/* effective tags, sorted (an array) */
	struct hl_pos pos;	/* where the host is declared */
	struct hl_host_info *info;	/* the rest of its configuration */
};

struct hl_lab {
	char *root;		/* absolute path of the lab root */
	jv id;			/* the lab id (string), or null when invalid */
	jv spec;		/* lab.yaml, validated and normalised */
	jv templates;		/* template name -> validated definition */
	jv runway;		/* layers/L0/runway.yaml, validated ({} if none) */
	struct hl_host *hosts;	/* sorted by name */
	size_t nhosts;
	struct hl_diag diag;	/* every problem found */
	struct hl_pos_table **files;
	size_t nfiles;
	struct hl_spec_keys *keys;
};

/*
 * Load and validate the lab at root (a directory holding lab.yaml).  Every
 * problem in the specs goes to (*lab)->diag: hosts whose own problems keep
 * them from having a configuration are left out.  Returns 0, or -1 with e
 * filled when out of memory or root cannot be resolved.  The caller frees
 * *lab with hl_spec_free().
 */
int hl_spec_load(const char *root, struct hl_lab **lab, struct hl_err *e);
void hl_spec_free(struct hl_lab *lab);

/*
 * A host's effective configuration, the object "hl-validate show" prints
 * (docs/hl-validate.md).  Returns a new value.
 */
jv hl_spec_host_json(const struct hl_lab *lab, const struct hl_host *h);

#endif
