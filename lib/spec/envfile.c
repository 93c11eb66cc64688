#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec/envfile.h"
#include "core/file.h"

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
	enum hl_file_status st;
	char *buf = NULL, *line, *save = NULL;
	size_t n = 0, klen = strlen(key);
	int rc = 1;

	st = hl_file_read(path, HL_ENVFILE_MAX, &buf, &n);
	if (st != HL_FILE_OK)
		return hl_err_set(e, st == HL_FILE_MISSING ? HL_E_NONE :
		    HL_E_LAB, "%s", hl_file_strerror(st, errno));
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		if (strncmp(line, "export ", 7) == 0)
			line += 7;
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			*value = strdup(unquote(line + klen + 1));
			rc = *value ? 0 : hl_err_set(e, HL_E_INTERNAL,
			    "out of memory");
			break;
		}
	}
	explicit_bzero(buf, n);
	free(buf);
	return rc;
}
