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

/*
 * Replace host's lines of the file name below .hl/ with add(host, each line
 * of text), under the file's lock.
 */
static int
host_lines_set(const char *root, const char *name, const char *host,
    const char *text, int (*add)(struct hl_buf *, const char *, const char *,
    size_t), struct hl_err *e)
{
	char path[4200], *old = NULL;
	struct hl_buf out = { 0 };
	size_t n = strlen(host), len = 0;
	const char *l, *end;
	enum hl_file_status st;
	int lock, rc = -1;

	snprintf(path, sizeof(path), "%s/.hl/%s", root, name);
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
	for (l = text; l && *l; l = *end ? end + 1 : end) {
		end = strchr(l, '\n');
		if (end == NULL)
			end = l + strlen(l);
		if (end > l && add(&out, host, l, (size_t)(end - l)) < 0) {
			hl_err_set(e, HL_E_USAGE, "%s: a line that is not "
			    "%s", host, add == add_key ? "'TYPE BASE64'" :
			    "one address");
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

int
hl_known_hosts_set(const char *root, const char *host, const char *keys,
    struct hl_err *e)
{
	return host_lines_set(root, "known_hosts", host, keys, add_key, e);
}

/* "ADDRESS" as "HOST ADDRESS\n": one word. */
static int
add_address(struct hl_buf *b, const char *host, const char *line, size_t len)
{
	if (len == 0 || len > 255 || memchr(line, ' ', len) ||
	    memchr(line, '\t', len))
		return -1;
	return hl_buf_printf(b, "%s %.*s\n", host, (int)len, line);
}

int
hl_known_hosts_set_address(const char *root, const char *host,
    const char *address, struct hl_err *e)
{
	return host_lines_set(root, "addresses", host, address, add_address,
	    e);
}

char *
hl_known_hosts_address(const char *root, const char *host)
{
	char path[4200], *all = NULL, *out = NULL;
	size_t n = strlen(host), len = 0;
	const char *l, *end;

	snprintf(path, sizeof(path), "%s/.hl/addresses", root);
	if (hl_file_read(path, KNOWN_HOSTS_MAX, &all, &len) != HL_FILE_OK)
		return NULL;
	for (l = all; *l && out == NULL; l = *end ? end + 1 : end) {
		end = strchr(l, '\n');
		if (end == NULL)
			end = l + strlen(l);
		if (strncmp(l, host, n) == 0 && l[n] == ' ' && end > l + n + 1)
			out = strndup(l + n + 1, (size_t)(end - l - n - 1));
	}
	free(all);
	return out;
}
