/*
 * The Git state of the lab (DESIGN.md 2.2), through libgit2.
 */
#ifndef HL_GIT_H
#define HL_GIT_H

#include <jv.h>

#include "err.h"

/*
 * The hand-written spec paths: an uncommitted change below any of them
 * makes the specs "dirty".  Tool-written files (layers/L1/artifacts/,
 * layers/L1/channels.yaml) are not among them.
 */
extern const char *const hl_git_spec_paths[];

/*
 * {commit, dirty} for the repository holding root: commit is HEAD's id (null
 * on a branch with no commits yet), dirty is true when a spec path has
 * staged, unstaged or untracked changes.  Returns jv_null() when root is
 * in no repository, jv_invalid() with e filled when the repository cannot
 * be read.
 */
jv hl_git_state(const char *root, struct hl_err *e);

#endif
