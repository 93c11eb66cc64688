/*
 * A tar stream (POSIX ustar) built in memory: what hl sends a host as one
 * release, through a pipe, never through a file or an argument.
 */
#ifndef HL_TAR_H
#define HL_TAR_H

#include <stddef.h>

#include "core/buf.h"

/* A regular file at path (relative, at most 100 bytes) with mode.
 * Returns 0, or -1 when the path does not fit or memory runs out. */
int hl_tar_file(struct hl_buf *t, const char *path, const char *data,
    size_t len, int mode);

/* The end of the archive: two zero blocks. */
int hl_tar_end(struct hl_buf *t);

#endif
