/*
 * Whole small files from the lab, read safely: only regular files (a FIFO
 * or a device would block or never end), never past a cap.
 */
#ifndef HL_FILE_H
#define HL_FILE_H

#include <stddef.h>

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
 * Wait for an exclusive lock on path's companion "<path>.lock", for a
 * read-modify-write of path by processes working at once.  Returns the
 * descriptor for hl_unlock_file, or -1 when it cannot be had (the caller
 * goes on unlocked: the lock only orders writers).
 */
int hl_lock_file(const char *path);
void hl_unlock_file(int fd);

#endif
