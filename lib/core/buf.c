#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

int
hl_buf_add(struct hl_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > HL_BUF_MAX)
			return -1;
		p = realloc(b->s, cap);
		if (p == NULL)
			return -1;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
hl_buf_adds(struct hl_buf *b, const char *s)
{
	return hl_buf_add(b, s, strlen(s));
}

int
hl_buf_printf(struct hl_buf *b, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return hl_buf_add(b, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = hl_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

void
hl_buf_truncate(struct hl_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

const char *
hl_buf_str(const struct hl_buf *b)
{
	return b->s ? b->s : "";
}

void
hl_buf_free(struct hl_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

static int
plain_key(const char *k)
{
	const char *p;

	if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
		return 0;
	for (p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

int
hl_path_key(struct hl_buf *b, const char *key)
{
	const char *p;
	int rc = 0;

	if (plain_key(key))
		return hl_buf_add(b, ".", 1) | hl_buf_adds(b, key);
	rc |= hl_buf_adds(b, "[\"");
	for (p = key; *p; p++) {
		if (*p == '"' || *p == '\\')
			rc |= hl_buf_add(b, "\\", 1);
		if ((unsigned char)*p < 0x20)
			rc |= hl_buf_printf(b, "\\u%04x", *p);
		else
			rc |= hl_buf_add(b, p, 1);
	}
	rc |= hl_buf_adds(b, "\"]");
	return rc ? -1 : 0;
}

int
hl_path_index(struct hl_buf *b, int i)
{
	return hl_buf_printf(b, "[%d]", i);
}
