/*
 * Whole small files from the lab, read safely: only regular files (a FIFO
 * or a device would block or never end), never past a cap.
 */
#ifndef HL_FILE_H
#define HL_FILE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

enum hl_file_status {
	HL_FILE_OK = 0,
	HL_FILE_MISSING,	/* does not exist */
	HL_FILE_NOT_REGULAR,	/* a directory, FIFO, device, socket */
	HL_FILE_TOO_BIG,	/* larger than the cap */
	HL_FILE_ERROR,		/* anything else; errno says what */
};

/*
 * Read the regular file at path, at most cap bytes.  On HL_FILE_OK *buf
 * (malloc'ed, NUL-terminated, the caller frees it) and *len hold the
 * contents; on any other status they are untouched.
 */
enum hl_file_status hl_file_read(const char *path, size_t cap, char **buf,
    size_t *len);

/* A phrase for a status, to follow the file's name: "does not exist". */
const char *hl_file_strerror(enum hl_file_status st, int err);

/*
 * Write data to path as one step: a new file beside it
 * (O_CREAT|O_EXCL|O_NOFOLLOW, with mode less the umask), flushed, then
 * renamed over path, so a reader sees the old file or the new one and a
 * link at path is replaced, never followed.  Returns 0, or -1 with e
 * (HL_E_INTERNAL, naming path; nothing is left behind).
 */
int hl_file_write(const char *path, const struct hl_buf *data, int mode,
    struct hl_err *e);

/* mkdir -p dir, each directory made with mode (less the umask): 0, or -1
 * with errno. */
int hl_file_mkdirs(const char *dir, int mode);

#endif
