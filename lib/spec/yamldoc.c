/*
 * A YAML file into one jv document (yamldoc.h): the file read and its text
 * checked before libyaml sees it, the stream of documents, and the errors
 * libyaml reports.  yamldoc_node.c builds the values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/file.h"
#include "spec/yamldoc.h"
#include "spec/spec_impl.h"

struct hl_pos
hl_yamldoc_pos(struct yamldoc *L, yaml_mark_t m)
{
	return (struct hl_pos){ L->file, (int)m.line + 1, (int)m.column + 1 };
}

void
hl_yamldoc_fatal(struct yamldoc *L, struct hl_pos pos, const char *msg)
{
	if (!L->fatal)
		hl_diag_add(L->d, HL_DIAG_ERROR, pos, hl_buf_str(&L->path), "%s",
		    msg);
	L->fatal = 1;
}

static struct hl_pos
offset_pos(struct yamldoc *L, size_t offset)
{
	struct hl_pos pos = { L->file, 1, 1 };
	size_t i;

	for (i = 0; i < offset && i < L->len; i++) {
		if (L->text[i] == '\n')
			pos.line++, pos.col = 1;
		else if ((L->text[i] & 0xc0) != 0x80)
			pos.col++;
	}
	return pos;
}

/* Reads the next event; on a parser error, reports it as fatal. */
int
hl_yamldoc_next(struct yamldoc *L, yaml_event_t *ev)
{
	if (yaml_parser_parse(&L->parser, ev))
		return 0;
	if (!L->fatal) {
		yaml_parser_t *p = &L->parser;
		struct hl_pos pos = hl_yamldoc_pos(L, p->problem_mark);

		/* Reader errors carry an offset, not a mark. */
		if (p->error == YAML_READER_ERROR)
			pos = offset_pos(L, p->problem_offset);

		if (p->context)
			hl_diag_add(L->d, HL_DIAG_ERROR, pos, NULL,
			    "YAML syntax: %s %s", p->problem ? p->problem :
			    "error", p->context);
		else
			hl_diag_add(L->d, HL_DIAG_ERROR, pos, NULL,
			    "YAML syntax: %s", p->problem ? p->problem :
			    "error");
	}
	L->fatal = 1;
	return -1;
}

/*
 * Rejects NUL bytes and invalid UTF-8 (overlong forms and surrogates
 * included) before libyaml sees the text, naming the line.
 */
static int
check_text(struct yamldoc *L, const unsigned char *s, size_t n)
{
	int line = 1, col = 1;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		unsigned cp;

		if (c == 0) {
			hl_yamldoc_fatal(L, (struct hl_pos){ L->file, line,
			    col }, "NUL byte in file");
			return -1;
		}
		if (c < 0x80) {
			if (c < ' ' && c != '\n' && c != '\t' && c != '\r') {
				hl_yamldoc_fatal(L, (struct hl_pos){ L->file,
				    line, col }, "control character in file");
				return -1;
			}
			if (c == '\n')
				line++, col = 0;
			i++, col++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			len = 0, cp = 0;
		for (k = 1; len && k < len; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (len == 0 || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			hl_yamldoc_fatal(L, (struct hl_pos){ L->file, line,
			    col }, "invalid UTF-8");
			return -1;
		}
		/*
		 * YAML counts these as line breaks and editors do not, so
		 * every line number after one would be off.
		 */
		if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 ||
		    (cp >= 0x80 && cp < 0xa0)) {
			hl_yamldoc_fatal(L, (struct hl_pos){ L->file, line,
			    col }, "control character or Unicode line separator "
			    "in file");
			return -1;
		}
		i += len, col++;
	}
	return 0;
}

static unsigned char *
read_file(struct yamldoc *L, const char *path, size_t *len)
{
	struct hl_pos top = { L->file, 0, 0 };
	enum hl_file_status st;
	char *buf = NULL, msg[256];

	st = hl_file_read(path, HL_YAML_MAX_BYTES, &buf, len);
	if (st == HL_FILE_OK)
		return (unsigned char *)buf;
	if (st == HL_FILE_TOO_BIG)
		snprintf(msg, sizeof(msg), "file is larger than %u MiB",
		    HL_YAML_MAX_BYTES >> 20);
	else if (st == HL_FILE_NOT_REGULAR)
		snprintf(msg, sizeof(msg), "not a regular file");
	else
		snprintf(msg, sizeof(msg), "cannot read: %s",
		    hl_file_strerror(st, errno));
	hl_yamldoc_fatal(L, top, msg);
	return NULL;
}

static int
only_blank(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

jv
hl_yamldoc_load(const char *path, const char *display, struct hl_diag *d,
    struct hl_pos_table **ptp)
{
	struct yamldoc L = { .file = display, .d = d,
	    .anchor_at = jv_object() };
	unsigned char *text = NULL;
	jv doc = jv_invalid();
	yaml_event_t ev;
	size_t len = 0, nodes;
	int docs = 0, parsing = 0;
	size_t i;

	*ptp = L.pt = hl_pos_table_new(display);
	if (L.pt == NULL)
		goto out;
	L.file = hl_pos_table_file(L.pt);
	text = read_file(&L, path, &len);
	if (text == NULL)
		goto out;
	if (only_blank(text, len)) {
		hl_yamldoc_fatal(&L, (struct hl_pos){ L.file, 1, 1 },
		    "empty file");
		goto out;
	}
	if (check_text(&L, text, len) < 0)
		goto out;
	parsing = 1;
	L.text = text;
	L.len = len;
	yaml_parser_initialize(&L.parser);
	yaml_parser_set_encoding(&L.parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&L.parser, text, len);

	while (!L.fatal && hl_yamldoc_next(&L, &ev) == 0) {
		struct hl_pos pos = hl_yamldoc_pos(&L, ev.start_mark);

		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (++docs > 1) {
			hl_yamldoc_fatal(&L, pos, "more than one YAML document "
			    "in the file");
			yaml_event_delete(&ev);
			break;
		}
		if (ev.data.document_start.tag_directives.start !=
		    ev.data.document_start.tag_directives.end)
			hl_diag_add(d, HL_DIAG_ERROR, pos, NULL,
			    "%%TAG directives are not allowed");
		yaml_event_delete(&ev);
		if (hl_yamldoc_next(&L, &ev) < 0)
			break;
		pos = hl_yamldoc_pos(&L, ev.start_mark);
		doc = hl_yamldoc_node(&L, &ev, &nodes, pos);
		if (!L.fatal && jv_get_kind(doc) == JV_KIND_NULL)
			hl_yamldoc_fatal(&L, pos, "empty document");
	}
	if (docs == 0 && !L.fatal)
		hl_yamldoc_fatal(&L, (struct hl_pos){ L.file, 1, 1 },
		    "empty file");
out:
	if (L.fatal || !parsing) {
		jv_free(doc);
		doc = jv_invalid();
	}
	if (parsing)
		yaml_parser_delete(&L.parser);
	for (i = 0; i < L.nanchors; i++) {
		free(L.anchors[i].name);
		jv_free(L.anchors[i].value);
	}
	free(L.anchors);
	jv_free(L.anchor_at);
	hl_buf_free(&L.path);
	free(text);
	return doc;
}
