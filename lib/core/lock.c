/* Locks between hl processes (lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lock.h"

int
hl_lock_lab(const char *root, struct hl_err *e)
{
	char path[4096];
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/.hl/lock", root) >=
	    (int)sizeof(path))
		return hl_err_set(e, HL_E_LAB, "the lab's path is too long");
	path[strlen(path) - 5] = '\0';
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", path,
		    strerror(errno));
	/* hl's state goes nowhere else: not through a link, not into a
	 * directory another user owns or may write */
	if (lstat(path, &st) < 0)
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", path,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hl_err_set(e, HL_E_REFUSED, "%s is %s, not a directory "
		    "of hl's own", path, S_ISLNK(st.st_mode) ? "a symbolic "
		    "link" : "not a directory");
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return hl_err_set(e, HL_E_REFUSED, "%s is %s: hl keeps its "
		    "state only in a directory of its own user that others "
		    "may not write", path, st.st_uid != geteuid() ?
		    "another user's" : "writable by others");
	path[strlen(path)] = '/';
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hl_err_set(e, HL_E_INTERNAL, "%s: %s", path,
		    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return hl_err_set(e, HL_E_REFUSED, "another hl run holds "
		    ".hl/lock: wait for it");
	}
	return 0;		/* the descriptor stays open until exit */
}

int
hl_lock_file(const char *path)
{
	char lock[4200];
	int fd;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
		return -1;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

void
hl_unlock_file(int fd)
{
	if (fd >= 0)
		close(fd);
}
