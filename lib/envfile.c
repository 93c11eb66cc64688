#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envfile.h"

static char *
unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

int
hl_envfile_get(const char *path, const char *key, char **value,
    struct hl_err *e)
{
	char *buf = NULL, *line, *save = NULL;
	size_t n = 0, klen = strlen(key);
	int fd, rc = 1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hl_err_set(e, errno == ENOENT ? HL_EXIT_OK : HL_EXIT_LAB,
		    "cannot read '%s': %s", path, strerror(errno));
	buf = calloc(1, HL_ENVFILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, HL_ENVFILE_MAX - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == HL_ENVFILE_MAX) {
			rc = hl_err_set(e, HL_EXIT_LAB, "'%s' is larger than "
			    "64 KiB", path);
			goto done;
		}
	}
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		if (strncmp(line, "export ", 7) == 0)
			line += 7;
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			*value = strdup(unquote(line + klen + 1));
			rc = *value ? 0 : hl_err_set(e, HL_EXIT_INTERNAL,
			    "out of memory");
			break;
		}
	}
done:
	close(fd);
	explicit_bzero(buf, HL_ENVFILE_MAX + 1);
	free(buf);
	return rc;
}
