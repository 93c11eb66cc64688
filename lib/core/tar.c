/* Tar streams in memory (tar.h). */
#include <stdio.h>
#include <string.h>

#include "core/tar.h"

static const char zeros[1024];

int
hl_tar_file(struct hl_buf *t, const char *path, const char *data,
    size_t len, int mode)
{
	unsigned char h[512];
	unsigned sum = 0;
	size_t n = strlen(path), i;

	if (n == 0 || n >= 100)
		return -1;
	memset(h, 0, sizeof(h));
	memcpy(h, path, n);
	snprintf((char *)h + 100, 8, "%07o", mode & 07777);
	snprintf((char *)h + 108, 8, "%07o", 0);		/* uid */
	snprintf((char *)h + 116, 8, "%07o", 0);		/* gid */
	snprintf((char *)h + 124, 12, "%011zo", len);
	snprintf((char *)h + 136, 12, "%011o", 0);		/* mtime */
	memset(h + 148, ' ', 8);				/* checksum */
	h[156] = '0';						/* a file */
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	if (hl_buf_add(t, (const char *)h, sizeof(h)) < 0 ||
	    (len && hl_buf_add(t, data, len) < 0) ||
	    (len % 512 && hl_buf_add(t, zeros, 512 - len % 512) < 0))
		return -1;
	return 0;
}

int
hl_tar_end(struct hl_buf *t)
{
	return hl_buf_add(t, zeros, sizeof(zeros));
}
