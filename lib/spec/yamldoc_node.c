/*
 * libyaml's events into jv values, each value's position recorded under
 * its path: mappings (duplicate keys, "<<" merges), sequences, anchors and
 * aliases (expansion counted), and the nesting cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "spec/yamldoc.h"
#include "spec/spec_impl.h"

static int
count_node(struct yamldoc *L, size_t n, struct hl_pos pos)
{
	if (L->nodes + n > HL_YAML_MAX_NODES || L->nodes + n < L->nodes) {
		char msg[128];

		snprintf(msg, sizeof(msg), "document expands to more than %d "
		    "values (alias expansion?)", HL_YAML_MAX_NODES);
		hl_yamldoc_fatal(L, pos, msg);
		return -1;
	}
	L->nodes += n;
	return 0;
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

static struct yamldoc_anchor *
find_anchor(struct yamldoc *L, const char *name)
{
	jv i = jv_object_get(jv_copy(L->anchor_at), jv_string(name));
	struct yamldoc_anchor *a = NULL;

	if (jv_get_kind(i) == JV_KIND_NUMBER)
		a = &L->anchors[(size_t)jv_number_value(i)];
	jv_free(i);
	return a;
}

static void
set_anchor(struct yamldoc *L, const char *name, jv v, size_t nodes)
{
	struct yamldoc_anchor *a = find_anchor(L, name);

	if (a == NULL) {
		if (L->nanchors == L->anchors_cap) {
			size_t cap = L->anchors_cap ? L->anchors_cap * 2 : 16;
			struct yamldoc_anchor *p = realloc(L->anchors,
			    cap * sizeof(*p));

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

static jv
parse_sequence(struct yamldoc *L, size_t *nodes)
{
	jv arr = jv_array();
	size_t mark = L->path.len;
	int i = 0;

	for (;;) {
		yaml_event_t ev;
		size_t n = 0;
		jv item;

		if (hl_yamldoc_next(L, &ev) < 0)
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		hl_path_index(&L->path, i++);
		item = hl_yamldoc_node(L, &ev, &n,
		    hl_yamldoc_pos(L, ev.start_mark));
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
apply_merges(struct yamldoc *L, jv obj, jv sources, struct hl_pos at)
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
parse_mapping(struct yamldoc *L, size_t *nodes)
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

		if (hl_yamldoc_next(L, &kev) < 0)
			break;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return apply_merges(L, obj, merges, merge_at);
		}
		kpos = hl_yamldoc_pos(L, kev.start_mark);
		if (kev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&kev);
			hl_yamldoc_fatal(L, kpos, "a mapping key must be a "
			    "plain string, not a collection or an alias");
			break;
		}
		if (has_tag(&kev))
			hl_diag_add(L->d, HL_DIAG_ERROR, kpos, hl_buf_str(&L->path),
			    "explicit tag '%s' is not allowed", tag_of(&kev));
		if (strlen((char *)kev.data.scalar.value) != kev.data.scalar.length) {
			yaml_event_delete(&kev);
			hl_yamldoc_fatal(L, kpos, "NUL character in a mapping "
			    "key");
			break;
		}
		key = (const char *)kev.data.scalar.value;
		if (kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(key, "<<") != 0) {
			jv k = hl_yamldoc_scalar(key);

			if (jv_get_kind(k) != JV_KIND_STRING)
				hl_diag_add(L->d, HL_DIAG_ERROR, kpos,
				    hl_buf_str(&L->path), "mapping key '%s' is "
				    "not a string (quote it)", key);
			jv_free(k);
		}
		if (hl_yamldoc_next(L, &vev) < 0) {
			yaml_event_delete(&kev);
			break;
		}
		if (strcmp(key, "<<") == 0 &&
		    kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			merge_at = hl_yamldoc_pos(L, vev.start_mark);
			/* Its own path, so the mapping's position stays. */
			hl_path_key(&L->path, "<<");
			val = hl_yamldoc_node(L, &vev, &n, kpos);
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
			val = hl_yamldoc_node(L, &vev, &n, kpos);
			jv_free(val);
		} else {
			val = hl_yamldoc_node(L, &vev, &n, kpos);
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
jv
hl_yamldoc_node(struct yamldoc *L, yaml_event_t *ev, size_t *nodes,
    struct hl_pos key)
{
	struct hl_pos pos = hl_yamldoc_pos(L, ev->start_mark);
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
		struct yamldoc_anchor *a = find_anchor(L,
		    (const char *)ev->data.alias.anchor);

		if (a == NULL) {
			char msg[300];

			snprintf(msg, sizeof(msg), "unknown alias '*%.200s'",
			    (const char *)ev->data.alias.anchor);
			hl_yamldoc_fatal(L, pos, msg);
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
			hl_yamldoc_fatal(L, pos, "NUL character in a string");
			break;
		}
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			v = hl_yamldoc_scalar(
			    (const char *)ev->data.scalar.value);
		else
			v = jv_string((const char *)ev->data.scalar.value);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++L->depth > HL_YAML_MAX_DEPTH) {
			char msg[64];

			snprintf(msg, sizeof(msg), "nesting deeper than %d levels",
			    HL_YAML_MAX_DEPTH);
			hl_yamldoc_fatal(L, pos, msg);
			break;
		}
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			v = parse_sequence(L, nodes);
		else
			v = parse_mapping(L, nodes);
		L->depth--;
		break;
	default:
		hl_yamldoc_fatal(L, pos, "unexpected YAML event");
		break;
	}
	if (anchor_name && jv_is_valid(v))
		set_anchor(L, anchor_name, jv_copy(v), *nodes);
done:
	free(anchor_name);
	yaml_event_delete(ev);
	return v;
}
