/*
 * A growable NUL-terminated string, capped so no input can make it grow
 * without bound.
 */
#ifndef HL_BUF_H
#define HL_BUF_H

#include <stddef.h>

#define HL_BUF_MAX (64u << 20)

struct hl_buf {
	char *s;	/* always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

/* Append; return 0, or -1 when out of memory or past HL_BUF_MAX. */
int hl_buf_add(struct hl_buf *b, const char *s, size_t n);
int hl_buf_adds(struct hl_buf *b, const char *s);
int hl_buf_printf(struct hl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hl_buf_truncate(struct hl_buf *b, size_t len);
const char *hl_buf_str(const struct hl_buf *b);	/* "" when empty */
void hl_buf_free(struct hl_buf *b);

/*
 * Paths into a document, in jq's syntax: ".hosts.web01.vmid", ".dns[0]",
 * ".mirror[\"https://...\"]".  Keys that are not plain identifiers are
 * quoted as JSON strings.
 */
int hl_path_key(struct hl_buf *b, const char *key);
int hl_path_index(struct hl_buf *b, int i);

#endif
