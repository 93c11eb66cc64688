#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/file.h"
#include "spec/yamldoc.h"

struct anchor {
	char *name;
	jv value;
	size_t nodes;		/* how many values it stands for */
};

struct loader {
	yaml_parser_t parser;
	const char *file;	/* display name */
	struct hl_pos_table *pt;
	struct hl_diag *d;
	struct hl_buf path;
	const unsigned char *text;	/* the file, for offsets */
	size_t len;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	jv anchor_at;			/* anchor name -> index in anchors */
	size_t nodes;
	int depth;
	int fatal;		/* stop: the rest of the file is not read */
};

static struct hl_pos
mark_pos(struct loader *L, yaml_mark_t m)
{
	return (struct hl_pos){ L->file, (int)m.line + 1, (int)m.column + 1 };
}

static void
fatal(struct loader *L, struct hl_pos pos, const char *msg)
{
	if (!L->fatal)
		hl_diag_add(L->d, HL_DIAG_ERROR, pos, hl_buf_str(&L->path), "%s",
		    msg);
	L->fatal = 1;
}

static struct hl_pos
offset_pos(struct loader *L, size_t offset)
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
static int
next_event(struct loader *L, yaml_event_t *ev)
{
	if (yaml_parser_parse(&L->parser, ev))
		return 0;
	if (!L->fatal) {
		yaml_parser_t *p = &L->parser;
		struct hl_pos pos = mark_pos(L, p->problem_mark);

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

static int
count_node(struct loader *L, size_t n, struct hl_pos pos)
{
	if (L->nodes + n > HL_YAML_MAX_NODES || L->nodes + n < L->nodes) {
		char msg[128];

		snprintf(msg, sizeof(msg), "document expands to more than %d "
		    "values (alias expansion?)", HL_YAML_MAX_NODES);
		fatal(L, pos, msg);
		return -1;
	}
	L->nodes += n;
	return 0;
}

static int
match(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

static int
is_number(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* The YAML 1.2 core schema, for plain scalars only. */
static jv
plain_scalar(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", 0 };
	static const char *const trues[] = { "true", "True", "TRUE", 0 };
	static const char *const falses[] = { "false", "False", "FALSE", 0 };

	if (match(s, nulls))
		return jv_null();
	if (match(s, trues))
		return jv_true();
	if (match(s, falses))
		return jv_false();
	if (is_number(s))
		return jv_number(strtod(s, NULL));
	return jv_string(s);
}

static int
has_tag(yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.tag != NULL;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.tag != NULL;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.tag != NULL;
	default:
		return 0;
	}
}

static const char *
tag_of(yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.tag;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.tag;
	default:
		return (const char *)ev->data.mapping_start.tag;
	}
}

static const char *
anchor_of(yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

static struct anchor *
find_anchor(struct loader *L, const char *name)
{
	jv i = jv_object_get(jv_copy(L->anchor_at), jv_string(name));
	struct anchor *a = NULL;

	if (jv_get_kind(i) == JV_KIND_NUMBER)
		a = &L->anchors[(size_t)jv_number_value(i)];
	jv_free(i);
	return a;
}

static void
set_anchor(struct loader *L, const char *name, jv v, size_t nodes)
{
	struct anchor *a = find_anchor(L, name);

	if (a == NULL) {
		if (L->nanchors == L->anchors_cap) {
			size_t cap = L->anchors_cap ? L->anchors_cap * 2 : 16;
			struct anchor *p = realloc(L->anchors, cap * sizeof(*p));

			if (p == NULL) {
				jv_free(v);
				return;
			}
			L->anchors = p;
			L->anchors_cap = cap;
		}
		a = &L->anchors[L->nanchors];
		a->name = strdup(name);
		if (a->name == NULL) {
			jv_free(v);
			return;
		}
		L->anchor_at = jv_object_set(L->anchor_at, jv_string(name),
		    jv_number((double)L->nanchors));
		L->nanchors++;
	} else {
		jv_free(a->value);
	}
	a->value = v;
	a->nodes = nodes;
}

static jv parse_node(struct loader *L, yaml_event_t *ev, size_t *nodes,
    struct hl_pos key);

static jv
parse_sequence(struct loader *L, size_t *nodes)
{
	jv arr = jv_array();
	size_t mark = L->path.len;
	int i = 0;

	for (;;) {
		yaml_event_t ev;
		size_t n = 0;
		jv item;

		if (next_event(L, &ev) < 0)
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		hl_path_index(&L->path, i++);
		item = parse_node(L, &ev, &n, mark_pos(L, ev.start_mark));
		hl_buf_truncate(&L->path, mark);
		if (L->fatal) {
			jv_free(item);
			break;
		}
		*nodes += n;
		arr = jv_array_append(arr, item);
	}
	jv_free(arr);
	return jv_invalid();
}

/*
 * "<<" merges: the mapping's own keys win, then earlier sources over later
 * ones (the YAML merge-key spec).  Merged keys get the position of the
 * merge value, so a problem in one points at the line that merged it.
 */
static jv
apply_merges(struct loader *L, jv obj, jv sources, struct hl_pos at)
{
	int i, n = jv_array_length(jv_copy(sources));
	size_t mark = L->path.len;

	for (i = 0; i < n; i++) {
		jv src = jv_array_get(jv_copy(sources), i);
		int it;

		if (jv_get_kind(src) != JV_KIND_OBJECT) {
			hl_diag_add(L->d, HL_DIAG_ERROR, at, hl_buf_str(&L->path),
			    "'<<' merges only mappings");
			jv_free(src);
			continue;
		}
		for (it = jv_object_iter(src); jv_object_iter_valid(src, it);
		    it = jv_object_iter_next(src, it)) {
			jv k = jv_object_iter_key(src, it);

			if (jv_object_has(jv_copy(obj), jv_copy(k))) {
				jv_free(k);
				continue;
			}
			hl_path_key(&L->path, jv_string_value(k));
			hl_pos_put(L->pt, hl_buf_str(&L->path), at, at);
			hl_buf_truncate(&L->path, mark);
			obj = jv_object_set(obj, k, jv_object_iter_value(src, it));
		}
		jv_free(src);
	}
	jv_free(sources);
	return obj;
}

static jv
parse_mapping(struct loader *L, size_t *nodes)
{
	jv obj = jv_object(), merges = jv_array();
	size_t mark = L->path.len;
	struct hl_pos merge_at = { 0 };

	for (;;) {
		yaml_event_t kev, vev;
		struct hl_pos kpos;
		const char *key;
		size_t n = 0;
		jv val, kstr;

		if (next_event(L, &kev) < 0)
			break;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return apply_merges(L, obj, merges, merge_at);
		}
		kpos = mark_pos(L, kev.start_mark);
		if (kev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&kev);
			fatal(L, kpos, "a mapping key must be a plain string, "
			    "not a collection or an alias");
			break;
		}
		if (has_tag(&kev))
			hl_diag_add(L->d, HL_DIAG_ERROR, kpos, hl_buf_str(&L->path),
			    "explicit tag '%s' is not allowed", tag_of(&kev));
		if (strlen((char *)kev.data.scalar.value) != kev.data.scalar.length) {
			yaml_event_delete(&kev);
			fatal(L, kpos, "NUL character in a mapping key");
			break;
		}
		key = (const char *)kev.data.scalar.value;
		if (kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(key, "<<") != 0) {
			jv k = plain_scalar(key);

			if (jv_get_kind(k) != JV_KIND_STRING)
				hl_diag_add(L->d, HL_DIAG_ERROR, kpos,
				    hl_buf_str(&L->path), "mapping key '%s' is "
				    "not a string (quote it)", key);
			jv_free(k);
		}
		if (next_event(L, &vev) < 0) {
			yaml_event_delete(&kev);
			break;
		}
		if (strcmp(key, "<<") == 0 &&
		    kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			merge_at = mark_pos(L, vev.start_mark);
			/* Its own path, so the mapping's position stays. */
			hl_path_key(&L->path, "<<");
			val = parse_node(L, &vev, &n, kpos);
			hl_buf_truncate(&L->path, mark);
			if (jv_get_kind(val) == JV_KIND_ARRAY)
				merges = jv_array_concat(merges, val);
			else if (jv_is_valid(val))
				merges = jv_array_append(merges, val);
			*nodes += n;
			yaml_event_delete(&kev);
			if (L->fatal)
				break;
			continue;
		}
		hl_path_key(&L->path, key);
		kstr = jv_string(key);
		if (jv_object_has(jv_copy(obj), jv_copy(kstr))) {
			struct hl_pos first;

			hl_pos_get(L->pt, hl_buf_str(&L->path), &first, NULL);
			hl_diag_add2(L->d, HL_DIAG_ERROR, kpos, first,
			    hl_buf_str(&L->path), "duplicate key '%s' (first at "
			    "line %d)", key, first.line);
			/* Parsed to go on, under a path nothing looks up. */
			hl_buf_adds(&L->path, "#duplicate");
			val = parse_node(L, &vev, &n, kpos);
			jv_free(val);
		} else {
			val = parse_node(L, &vev, &n, kpos);
			if (jv_is_valid(val))
				obj = jv_object_set(obj, jv_copy(kstr), val);
		}
		jv_free(kstr);
		hl_buf_truncate(&L->path, mark);
		yaml_event_delete(&kev);
		*nodes += n;
		if (L->fatal)
			break;
	}
	jv_free(obj);
	jv_free(merges);
	return jv_invalid();
}

/*
 * Builds the value that starts with ev (deleted here).  *nodes counts the
 * values it stands for, aliases expanded.
 */
static jv
parse_node(struct loader *L, yaml_event_t *ev, size_t *nodes, struct hl_pos key)
{
	struct hl_pos pos = mark_pos(L, ev->start_mark);
	const char *anchor = anchor_of(ev);
	char *anchor_name = anchor ? strdup(anchor) : NULL;
	jv v = jv_invalid();

	*nodes = 1;
	if (has_tag(ev))
		hl_diag_add(L->d, HL_DIAG_ERROR, pos, hl_buf_str(&L->path),
		    "explicit tag '%s' is not allowed", tag_of(ev));
	if (count_node(L, 1, pos) < 0)
		goto done;
	hl_pos_put(L->pt, hl_buf_str(&L->path), key, pos);

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		struct anchor *a = find_anchor(L,
		    (const char *)ev->data.alias.anchor);

		if (a == NULL) {
			char msg[300];

			snprintf(msg, sizeof(msg), "unknown alias '*%.200s'",
			    (const char *)ev->data.alias.anchor);
			fatal(L, pos, msg);
			break;
		}
		if (count_node(L, a->nodes, pos) < 0)
			break;
		*nodes = a->nodes;
		v = jv_copy(a->value);
		break;
	}
	case YAML_SCALAR_EVENT:
		if (strlen((char *)ev->data.scalar.value) != ev->data.scalar.length) {
			fatal(L, pos, "NUL character in a string");
			break;
		}
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			v = plain_scalar((const char *)ev->data.scalar.value);
		else
			v = jv_string((const char *)ev->data.scalar.value);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++L->depth > HL_YAML_MAX_DEPTH) {
			char msg[64];

			snprintf(msg, sizeof(msg), "nesting deeper than %d levels",
			    HL_YAML_MAX_DEPTH);
			fatal(L, pos, msg);
			break;
		}
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			v = parse_sequence(L, nodes);
		else
			v = parse_mapping(L, nodes);
		L->depth--;
		break;
	default:
		fatal(L, pos, "unexpected YAML event");
		break;
	}
	if (anchor_name && jv_is_valid(v))
		set_anchor(L, anchor_name, jv_copy(v), *nodes);
done:
	free(anchor_name);
	yaml_event_delete(ev);
	return v;
}

/*
 * Rejects NUL bytes and invalid UTF-8 (overlong forms and surrogates
 * included) before libyaml sees the text, naming the line.
 */
static int
check_text(struct loader *L, const unsigned char *s, size_t n)
{
	int line = 1, col = 1;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		unsigned cp;

		if (c == 0) {
			fatal(L, (struct hl_pos){ L->file, line, col },
			    "NUL byte in file");
			return -1;
		}
		if (c < 0x80) {
			if (c < ' ' && c != '\n' && c != '\t' && c != '\r') {
				fatal(L, (struct hl_pos){ L->file, line, col },
				    "control character in file");
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
			fatal(L, (struct hl_pos){ L->file, line, col },
			    "invalid UTF-8");
			return -1;
		}
		/*
		 * YAML counts these as line breaks and editors do not, so
		 * every line number after one would be off.
		 */
		if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 ||
		    (cp >= 0x80 && cp < 0xa0)) {
			fatal(L, (struct hl_pos){ L->file, line, col },
			    "control character or Unicode line separator in file");
			return -1;
		}
		i += len, col++;
	}
	return 0;
}

static unsigned char *
read_file(struct loader *L, const char *path, size_t *len)
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
	fatal(L, top, msg);
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
	struct loader L = { .file = display, .d = d, .anchor_at = jv_object() };
	unsigned char *text = NULL;
	jv doc = jv_invalid();
	yaml_event_t ev;
	size_t len = 0, nodes;
	int docs = 0;
	size_t i;

	*ptp = L.pt = hl_pos_table_new(display);
	if (L.pt == NULL)
		return jv_invalid();
	L.file = hl_pos_table_file(L.pt);
	text = read_file(&L, path, &len);
	if (text == NULL)
		return jv_invalid();
	if (only_blank(text, len)) {
		fatal(&L, (struct hl_pos){ L.file, 1, 1 }, "empty file");
		free(text);
		return jv_invalid();
	}
	if (check_text(&L, text, len) < 0) {
		free(text);
		return jv_invalid();
	}
	L.text = text;
	L.len = len;
	yaml_parser_initialize(&L.parser);
	yaml_parser_set_encoding(&L.parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&L.parser, text, len);

	while (!L.fatal && next_event(&L, &ev) == 0) {
		struct hl_pos pos = mark_pos(&L, ev.start_mark);

		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (++docs > 1) {
			fatal(&L, pos, "more than one YAML document in the file");
			yaml_event_delete(&ev);
			break;
		}
		if (ev.data.document_start.tag_directives.start !=
		    ev.data.document_start.tag_directives.end)
			hl_diag_add(d, HL_DIAG_ERROR, pos, NULL,
			    "%%TAG directives are not allowed");
		yaml_event_delete(&ev);
		if (next_event(&L, &ev) < 0)
			break;
		pos = mark_pos(&L, ev.start_mark);
		doc = parse_node(&L, &ev, &nodes, pos);
		if (!L.fatal && jv_get_kind(doc) == JV_KIND_NULL)
			fatal(&L, pos, "empty document");
	}
	if (docs == 0 && !L.fatal)
		fatal(&L, (struct hl_pos){ L.file, 1, 1 }, "empty file");
	if (L.fatal) {
		jv_free(doc);
		doc = jv_invalid();
	}
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
