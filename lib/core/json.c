#include <errno.h>
#include <string.h>

#include "core/json.h"

int
hl_json_print(FILE *f, jv v, unsigned flags, struct hl_err *e)
{
	int opts = JV_PRINT_SORTED;

	if (flags & HL_JSON_PRETTY)
		opts |= JV_PRINT_PRETTY | JV_PRINT_SPACE1;
	jv_dumpf(v, f, opts);
	fputc('\n', f);
	if (fflush(f) != 0 || ferror(f))
		return hl_err_set(e, HL_E_INTERNAL, "cannot write output: %s",
		    strerror(errno));
	return 0;
}

const char *
hl_json_str(jv v)
{
	if (jv_get_kind(v) != JV_KIND_STRING)
		return NULL;
	return jv_string_value(v);
}

const char *
hl_json_get_str(jv o, const char *key)
{
	jv v;
	const char *s;

	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return NULL;
	/*
	 * The value stays alive inside o, which the caller holds, so the
	 * pointer outlives this reference.
	 */
	v = jv_object_get(jv_copy(o), jv_string(key));
	s = hl_json_str(v);
	jv_free(v);
	return s;
}

jv
hl_json_sorted_unique(jv arr)
{
	jv sorted = jv_sort(jv_copy(arr), arr);
	jv out = jv_array();
	jv prev = jv_invalid();
	int i, n = jv_array_length(jv_copy(sorted));

	for (i = 0; i < n; i++) {
		jv x = jv_array_get(jv_copy(sorted), i);

		if (jv_is_valid(prev) && jv_equal(jv_copy(prev), jv_copy(x))) {
			jv_free(x);
			continue;
		}
		jv_free(prev);
		prev = jv_copy(x);
		out = jv_array_append(out, x);
	}
	jv_free(prev);
	jv_free(sorted);
	return out;
}

jv
hl_json_get(jv o, const char *key)
{
	jv v;

	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return jv_null();
	}
	v = jv_object_get(o, jv_string(key));
	return jv_is_valid(v) ? v : jv_null();
}

jv
hl_json_err(const struct hl_err *e)
{
	return jv_object_set(jv_object_set(jv_object_set(jv_object(),
	    jv_string("message"), jv_string(e->msg)), jv_string("code"),
	    jv_number(e->code)), jv_string("reason"),
	    jv_string(hl_reason_name(e->reason)));
}

jv_kind
hl_json_get_kind(jv o, const char *key)
{
	jv v = hl_json_get(jv_copy(o), key);
	jv_kind k = jv_get_kind(v);

	jv_free(v);
	return k;
}
