/* The lab's .hl/known_hosts (known_hosts.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/lock.h"
#include "ssh/known_hosts.h"

#define KNOWN_HOSTS_MAX (4u << 20)

/* The file's path for the lab at root, into out (len bytes). */
static void
known_hosts_path(const char *root, char *out, size_t len)
{
	snprintf(out, len, "%s/.hl/known_hosts", root);
}

/* "TYPE BASE64" (a comment after them dropped) as "HOST TYPE BASE64\n". */
static int
add_key(struct hl_buf *b, const char *host, const char *line, size_t len)
{
	size_t t = 0, s, k;

	while (t < len && !strchr(" \t\r", line[t]))
		t++;
	s = t;
	while (s < len && (line[s] == ' ' || line[s] == '\t'))
		s++;
	k = s;
	while (k < len && !strchr(" \t\r", line[k]))
		k++;
	if (t == 0 || k == s)
		return -1;
	return hl_buf_printf(b, "%s %.*s %.*s\n", host, (int)t, line,
	    (int)(k - s), line + s);
}

int
hl_known_hosts_set(const char *root, const char *host, const char *keys,
    struct hl_err *e)
{
	char path[4200], *old = NULL;
	struct hl_buf out = { 0 };
	size_t n = strlen(host), len = 0;
	const char *l, *end;
	enum hl_file_status st;
	int lock, rc = -1;

	known_hosts_path(root, path, sizeof(path));
	lock = hl_lock_file(path);
	st = hl_file_read(path, KNOWN_HOSTS_MAX, &old, &len);
	if (st != HL_FILE_OK && st != HL_FILE_MISSING) {
		hl_err_set(e, HL_E_INTERNAL, "%s %s", path,
		    hl_file_strerror(st, errno));
		goto done;
	}
	/* the other hosts' lines, as they are */
	for (l = old; l && *l; l = *end ? end + 1 : end) {
		end = strchr(l, '\n');
		if (end == NULL)
			end = l + strlen(l);
		if (!(strncmp(l, host, n) == 0 && l[n] == ' '))
			hl_buf_printf(&out, "%.*s\n", (int)(end - l), l);
	}
	for (l = keys; l && *l; l = *end ? end + 1 : end) {
		end = strchr(l, '\n');
		if (end == NULL)
			end = l + strlen(l);
		if (end > l && add_key(&out, host, l, (size_t)(end - l)) < 0) {
			hl_err_set(e, HL_E_USAGE, "%s: a host key that is not "
			    "'TYPE BASE64'", host);
			goto done;
		}
	}
	if (hl_file_write(path, &out, 0600, e) < 0)
		goto done;
	rc = 0;
done:
	hl_unlock_file(lock);
	hl_buf_free(&out);
	free(old);
	return rc;
}
