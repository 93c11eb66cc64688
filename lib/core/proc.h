/*
 * Child processes (DESIGN.md 2.2, 2.4): always an argv, never a shell;
 * an environment without HL_PVE_* and the token's variable; stdin from
 * /dev/null; a time limit; stdout and stderr captured, each up to a cap.
 */
#ifndef HL_PROC_H
#define HL_PROC_H

#include "core/buf.h"
#include "core/err.h"

/* What each captured stream keeps at most; the rest is read and dropped. */
#define HL_PROC_CAP (64u << 10)

/* Also keep the variable name (lab.yaml's pve.token_env) from children. */
void hl_child_env_drop(const char *name);

/*
 * The environment for a child: this process's, without HL_PVE_* and the
 * names hl_child_env_drop was given.  NULL when out of memory; the array
 * (not its strings) is malloc'ed: free() it.
 */
char **hl_child_env(void);

/*
 * Run argv (argv[0] looked up in PATH) and wait for it, at most timeout_s
 * seconds (<= 0: no limit; past it the child is killed).  Its stdout goes
 * to out and its stderr to err (either may be NULL: discarded), each up to
 * HL_PROC_CAP.  Returns its exit status (0-255), or -1 with e: HL_E_TIMEOUT
 * when it ran out of time, HL_E_FAILED when it could not be started or
 * died of a signal.
 */
int hl_proc_run(char *const argv[], double timeout_s, struct hl_buf *out,
    struct hl_buf *err, struct hl_err *e);

/*
 * hl_proc_run with more say over the child: its environment (set: entries
 * "NAME=VALUE" that replace or add; drop_prefix: names starting with it
 * removed, as HL_PVE_* always are) and its stdout line by line, each line
 * (without its newline, NUL-terminated, at most HL_PROC_LINE_MAX bytes: a
 * longer one is cut) to line() as it arrives, instead of into out.
 */
#define HL_PROC_LINE_MAX (16u << 20)

struct hl_proc_spec {
	char *const *argv;
	char *const *set;		/* NULL-ended, or NULL */
	const char *drop_prefix;	/* or NULL */
	double timeout_s;
	void (*line)(void *ctx, const char *line, size_t len);
	void *ctx;
	struct hl_buf *out, *err;	/* out unused with line() */
	size_t out_cap;			/* what out keeps (0: HL_PROC_CAP) */
	const struct hl_buf *in;	/* the child's stdin (NULL: /dev/null),
					 * fed as it reads, then closed */
};

int hl_proc_spawn(const struct hl_proc_spec *ps, struct hl_err *e);

#endif
