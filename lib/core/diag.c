#include <stdarg.h>
#include <stdio.h>

#include "core/diag.h"

void
hl_diag_init(struct hl_diag *d)
{
	d->errors = jv_array();
	d->warnings = jv_array();
	d->dropped[0] = d->dropped[1] = 0;
}

void
hl_diag_free(struct hl_diag *d)
{
	jv_free(d->errors);
	jv_free(d->warnings);
	d->errors = d->warnings = jv_invalid();
}

int
hl_diag_count(const struct hl_diag *d, enum hl_diag_level level)
{
	return jv_array_length(jv_copy(level == HL_DIAG_ERROR ? d->errors :
	    d->warnings));
}

static jv
pos_object(jv o, struct hl_pos pos)
{
	o = jv_object_set(o, jv_string("file"),
	    pos.file ? jv_string(pos.file) : jv_null());
	o = jv_object_set(o, jv_string("line"),
	    pos.line ? jv_number(pos.line) : jv_null());
	return jv_object_set(o, jv_string("col"),
	    pos.line ? jv_number(pos.col) : jv_null());
}

static void
add(struct hl_diag *d, enum hl_diag_level level, struct hl_pos pos,
    const struct hl_pos *related, const char *path, const char *fmt,
    va_list ap)
{
	char msg[1024], *c;
	jv o;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/*
	 * A message quotes spec text; no control character from it may
	 * split a FILE:LINE line or reach a terminal.
	 */
	for (c = msg; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	if (hl_diag_count(d, level) >= HL_DIAG_MAX) {
		d->dropped[level]++;
		return;
	}
	o = pos_object(jv_object(), pos);
	o = jv_object_set(o, jv_string("path"),
	    path && *path ? jv_string(path) : jv_null());
	o = jv_object_set(o, jv_string("message"), jv_string(msg));
	if (related)
		o = jv_object_set(o, jv_string("related"),
		    pos_object(jv_object(), *related));
	if (level == HL_DIAG_ERROR)
		d->errors = jv_array_append(d->errors, o);
	else
		d->warnings = jv_array_append(d->warnings, o);
}

void
hl_diag_finish(struct hl_diag *d)
{
	static const char *const what[2] = { "problems", "warnings" };
	int level;

	for (level = HL_DIAG_ERROR; level <= HL_DIAG_WARNING; level++) {
		char msg[128];
		jv o;

		if (d->dropped[level] == 0)
			continue;
		snprintf(msg, sizeof(msg), "%d more %s not shown",
		    d->dropped[level], what[level]);
		o = pos_object(jv_object(), (struct hl_pos){ NULL, 0, 0 });
		o = jv_object_set(o, jv_string("path"), jv_null());
		o = jv_object_set(o, jv_string("message"), jv_string(msg));
		if (level == HL_DIAG_ERROR)
			d->errors = jv_array_append(d->errors, o);
		else
			d->warnings = jv_array_append(d->warnings, o);
		d->dropped[level] = 0;
	}
}

void
hl_diag_add(struct hl_diag *d, enum hl_diag_level level, struct hl_pos pos,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(d, level, pos, NULL, path, fmt, ap);
	va_end(ap);
}

void
hl_diag_add2(struct hl_diag *d, enum hl_diag_level level, struct hl_pos pos,
    struct hl_pos related, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(d, level, pos, &related, path, fmt, ap);
	va_end(ap);
}
