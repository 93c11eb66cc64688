/*
 * Locks between hl processes: the lab's .hl/lock that keeps two mutating
 * runs from interleaving (DESIGN.md 2.2), and short locks that order
 * writers of one file.
 */
#ifndef HL_LOCK_H
#define HL_LOCK_H

#include "core/err.h"

/*
 * Take ROOT/.hl/lock (made 0600, .hl/ 0700, when missing) without
 * waiting, held until the process exits.  Returns 0, or -1 with e:
 * HL_E_REFUSED when another run holds it, or when .hl is a symbolic link,
 * not a directory, another user's, or writable by group or others.
 */
int hl_lock_lab(const char *root, struct hl_err *e);

/*
 * Wait for an exclusive lock on path's companion "<path>.lock", for a
 * read-modify-write of path by processes working at once.  Returns the
 * descriptor for hl_unlock_file, or -1 when it cannot be had (the caller
 * goes on unlocked: the lock only orders writers).
 */
int hl_lock_file(const char *path);
void hl_unlock_file(int fd);

#endif
