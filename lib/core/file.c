#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"

enum hl_file_status
hl_file_read(const char *path, size_t cap, char **bufp, size_t *lenp)
{
	enum hl_file_status st = HL_FILE_ERROR;
	struct stat sb;
	char *buf = NULL;
	size_t n = 0, size;
	int fd, saved;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? HL_FILE_MISSING :
		    HL_FILE_ERROR;
	if (fstat(fd, &sb) < 0)
		goto done;
	if (!S_ISREG(sb.st_mode)) {
		st = HL_FILE_NOT_REGULAR;
		goto done;
	}
	if ((unsigned long long)sb.st_size > cap) {
		st = HL_FILE_TOO_BIG;
		goto done;
	}
	/* Sized by fstat; grown if the file grows meanwhile, up to the cap. */
	size = (size_t)sb.st_size + 1;
	buf = malloc(size + 1);
	if (buf == NULL)
		goto done;
	for (;;) {
		ssize_t r;

		if (n == size) {
			char *p;

			if (size > cap) {
				st = HL_FILE_TOO_BIG;
				goto done;
			}
			size = size * 2 > cap + 1 ? cap + 1 : size * 2;
			p = realloc(buf, size + 1);
			if (p == NULL)
				goto done;
			buf = p;
		}
		r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto done;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > cap) {
		st = HL_FILE_TOO_BIG;
		goto done;
	}
	buf[n] = '\0';
	*bufp = buf;
	*lenp = n;
	buf = NULL;
	st = HL_FILE_OK;
done:
	saved = errno;
	if (buf)
		explicit_bzero(buf, n);	/* it may have held a secret */
	free(buf);
	close(fd);
	errno = saved;
	return st;
}

const char *
hl_file_strerror(enum hl_file_status st, int err)
{
	switch (st) {
	case HL_FILE_OK:
		return "is fine";
	case HL_FILE_MISSING:
		return "does not exist";
	case HL_FILE_NOT_REGULAR:
		return "is not a regular file";
	case HL_FILE_TOO_BIG:
		return "is too large";
	default:
		return strerror(err);
	}
}

int
hl_file_write(const char *path, const struct hl_buf *data, int mode,
    struct hl_err *e)
{
	const char *bytes = hl_buf_str(data);
	size_t len = data->len;
	char tmp[4200];
	size_t done = 0;
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return hl_err_set(e, HL_E_INTERNAL, "%s: the path is too long",
		    path);
	unlink(tmp);		/* one a killed run of this pid left */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    (mode_t)mode);
	if (fd < 0)
		return hl_err_set(e, HL_E_INTERNAL, "%s: cannot write: %s", tmp,
		    strerror(errno));
	while (done < len) {
		ssize_t w = write(fd, bytes + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return hl_err_set(e, HL_E_INTERNAL, "%s: cannot write: %s", path,
	    strerror(saved));
}

int
hl_file_mkdirs(const char *dir, int mode)
{
	char p[4096];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (size_t i = 1; p[i]; i++)
		if (p[i] == '/') {
			p[i] = '\0';
			if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
				return -1;
			p[i] = '/';
		}
	return mkdir(p, (mode_t)mode) < 0 && errno != EEXIST ? -1 : 0;
}
