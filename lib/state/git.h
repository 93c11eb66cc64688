/*
 * The Git state of the lab (DESIGN.md 2.2), through libgit2.
 */
#ifndef HL_GIT_H
#define HL_GIT_H

#include <jv.h>

#include "core/err.h"

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

/*
 * Commit the files paths (relative to the lab root; a missing one is
 * removed) on top of HEAD with msg, and only them.  Refuses (6) on a
 * detached HEAD, an operation in progress, or a branch that moved;
 * out_hex (41 bytes) gets the commit.  Returns 0 or -1 with e.
 */
int hl_git_commit(const char *root, const char *const *paths,
    const char *msg, char *out_hex, struct hl_err *e);

/*
 * Whether hl_git_commit would be refused (its checks, nothing written):
 * 0, or -1 with e saying why.  A dry run's commit check.
 */
int hl_git_can_commit(const char *root, struct hl_err *e);

/*
 * Whether each of paths (NULL-ended, relative to the lab root) is
 * committed as it is: tracked, with no staged or unstaged change.
 * Returns 1; 0 with *first the first that is not (every one, for a lab
 * outside Git); -1 with e when the repository cannot be read.
 */
int hl_git_committed(const char *root, const char *const *paths,
    const char **first, struct hl_err *e);

/*
 * The lab's files (paths relative to root) that differ between commit
 * from (a hex id or a name Git knows) and HEAD, sorted; a rename gives
 * both names.  jv_invalid() with e when either commit cannot be read.
 */
jv hl_git_changed(const char *root, const char *from, struct hl_err *e);

/*
 * The lab's files at commit (root's directory in it) written into dir,
 * which exists: what the specs were then, to load beside today's.  The
 * repository's index and work tree are not touched.  0, or -1 with e.
 */
int hl_git_export(const char *root, const char *commit, const char *dir,
    struct hl_err *e);

#endif
