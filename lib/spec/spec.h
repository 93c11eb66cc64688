/*
 * The lab's specs (DESIGN.md 2.1): lab.yaml, personas/NAME.yaml,
 * layers/L1/templates/NAME.yaml and the stacks of layers/L4/stacks/,
 * validated and resolved into each host's effective configuration.
 * docs/spec.md documents every key.
 *
 * Precedence, lowest first: lab.yaml "defaults", then the persona, then
 * the host.  A key set at a higher level replaces the lower value whole,
 * except "tags", "roles" and "stacks", which accumulate across the three
 * levels, and "vars" and "env", merged by variable name.
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
	jv stacks;		/* stack name -> stack, below */
	struct hl_host *hosts;	/* sorted by name */
	size_t nhosts;
	struct hl_diag diag;	/* every problem found */
	struct hl_pos_table **files;
	size_t nfiles;
	struct hl_spec_keys *keys;
};

/* A capture hook's time to finish when stack.yaml gives none (seconds). */
#define HL_HOOK_TIMEOUT 120

/*
 * lab->stacks: each directory of layers/L4/stacks/ without a problem of its
 * own, used by a host or not (docs/spec.md, "Stacks"), as
 *
 *   {"dir": "layers/L4/stacks/NAME",        the stack's directory
 *    "compose": "compose.yaml",              or "docker-compose.yml"
 *    "files": ["compose.yaml", "www/index.html", ...],
 *                  every file below dir, relative to it, sorted; all
 *                  regular files (stack.yaml included): what a host gets
 *    "services": ["web", ...],               the Compose services, sorted
 *    "health": {SERVICE: {"http": {"port": 8080, "path": "/",
 *                                  "status": 200}}
 *                      | {"tcp": 5432}
 *                      | {"command": ["ARG", ...]}},  run with docker exec
 *    "timeout": 60,    seconds each service has to turn healthy
 *    "secrets": ["NAME", ...], variables taken from the operator's
 *                      environment at deploy time, in declared order
 *    "data": ["/srv/NAME", ...], the host paths holding durable data
 *    "capture": {"before": [HOOK...], "after": [HOOK...]},
 *                  HOOK {"service", "command": ["ARG", ...], "timeout":
 *                  seconds (HL_HOOK_TIMEOUT unless stack.yaml says)}:
 *                  run in the service's container around a capture
 *    "vars": ["NAME", ...]}  every variable the Compose file uses, sorted
 *
 * "health" has the services stack.yaml names ({} when none), "secrets"
 * and "data" are [] when none.  Each host's "stacks" and "env" are in
 * hl_spec_host_json(); a variable of "vars" is in the env of every host
 * that runs the stack, or in "secrets".
 */

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
