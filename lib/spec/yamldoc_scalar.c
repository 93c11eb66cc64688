/*
 * What a plain YAML scalar stands for, under the YAML 1.2 core schema:
 * null, a boolean, a decimal number, or else a string.
 */
#include <string.h>

#include "core/buf.h"
#include "core/num.h"
#include "spec/spec_impl.h"

static int
match(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_number(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (is_digit(*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (is_digit(*p))
			p++, digits++;
	}
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!is_digit(*p))
			return 0;
		while (is_digit(*p))
			p++;
	}
	return *p == '\0';
}

/*
 * The value of s, which is_number() accepted.  YAML allows "+1", ".5" and
 * "5.": they are read in their plainest spelling ("1", "0.5", "5.0"), so
 * hl_num_double sees only the forms it documents.  -1 when s is too large
 * or too small for a finite double (or out of memory).
 */
static int
number(const char *s, double *d)
{
	struct hl_buf b = { 0 };
	const char *p;
	int rc = 0;

	for (p = s; *p && rc == 0; p++) {
		if (*p == '+')
			continue;
		if (*p == '.' && (p == s || !is_digit(p[-1])))
			rc = hl_buf_adds(&b, "0");
		if (rc == 0)
			rc = hl_buf_add(&b, p, 1);
		if (rc == 0 && *p == '.' && !is_digit(p[1]))
			rc = hl_buf_adds(&b, "0");
	}
	if (rc == 0)
		rc = hl_num_double(hl_buf_str(&b), d);
	hl_buf_free(&b);
	return rc;
}

jv
hl_yamldoc_scalar(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", 0 };
	static const char *const trues[] = { "true", "True", "TRUE", 0 };
	static const char *const falses[] = { "false", "False", "FALSE", 0 };
	double d;

	if (match(s, nulls))
		return jv_null();
	if (match(s, trues))
		return jv_true();
	if (match(s, falses))
		return jv_false();
	/*
	 * A number no double holds ("1e999") stays a string, as YAML's own
	 * ".inf" and ".nan" do here: hl never takes an infinity or a NaN.
	 */
	if (is_number(s) && number(s, &d) == 0)
		return jv_number(d);
	return jv_string(s);
}

void
hl_yaml_scalar(struct hl_buf *b, const char *s)
{
	jv as = hl_yamldoc_scalar(s), q;
	int plain = *s && *s != '-' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(s) &&
	    jv_get_kind(as) == JV_KIND_STRING;

	jv_free(as);
	if (plain) {
		hl_buf_adds(b, s);
		return;
	}
	q = jv_dump_string(jv_string(s), 0);
	hl_buf_adds(b, jv_string_value(q));
	jv_free(q);
}
