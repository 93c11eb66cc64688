#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/lab.h"

static int
has_lab(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/lab.yaml", dir) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
hl_lab_find(const char *dir, char **root, struct hl_err *e)
{
	char *cwd, *p;

	if (dir == NULL || *dir == '\0')
		dir = getenv("HL_LAB");
	if (dir && *dir) {
		char *abs = realpath(dir, NULL);

		if (abs == NULL)
			return hl_err_set(e, HL_E_LAB, "cannot use lab "
			    "directory '%s': %s", dir, strerror(errno));
		if (!has_lab(abs)) {
			free(abs);
			return hl_err_set(e, HL_E_LAB, "no lab.yaml in '%s'",
			    dir);
		}
		*root = abs;
		return 0;
	}
	cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return hl_err_set(e, HL_E_LAB, "cannot read the working "
		    "directory: %s", strerror(errno));
	for (;;) {
		if (has_lab(cwd)) {
			*root = cwd;
			return 0;
		}
		p = strrchr(cwd, '/');
		if (p == NULL || p == cwd) {
			int top = has_lab("/");

			free(cwd);
			if (top)
				return (*root = strdup("/")) ? 0 : hl_err_set(e,
				    HL_E_INTERNAL, "out of memory");
			return hl_err_set(e, HL_E_LAB, "no lab.yaml in this "
			    "directory or any above it (use -C DIR or HL_LAB)");
		}
		*p = '\0';
	}
}

char *
hl_lab_path(const char *root, const char *path)
{
	char *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s/%s", root, path) < 0)
		return NULL;
	return out;
}
