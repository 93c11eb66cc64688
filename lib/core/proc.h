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

#endif
