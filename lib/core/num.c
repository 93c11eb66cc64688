/* Checked number parsing (num.h): the only place hl turns text into a
 * number. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/num.h"

int
hl_num_double(const char *s, double *out)
{
	char *end;
	double d;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	/* strtod reads "nan", "inf" and hex floats: only decimal here */
	if (strspn(s, "0123456789+-.eE") != strlen(s))
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

static int
parse_long(const char *s, size_t n, int base, long min, long max, long *out)
{
	char buf[32], *end;
	long v;
	size_t i;

	if (s == NULL || n == 0 || n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(base == 16 ? isxdigit(c) : isdigit(c) ||
		    (i == 0 && c == '-' && min < 0 && n > 1)))
			return -1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, base);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
hl_num_long(const char *s, long min, long max, long *out)
{
	return parse_long(s, s ? strlen(s) : 0, 10, min, max, out);
}

int
hl_num_long_n(const char *s, size_t n, long min, long max, long *out)
{
	return parse_long(s, n, 10, min, max, out);
}

int
hl_num_int(const char *s, int min, int max, int *out)
{
	long v;

	if (hl_num_long(s, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int
hl_num_hex_n(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	long v;

	if (max > (unsigned long)0x7fffffffL ||
	    parse_long(s, n, 16, 0, (long)max, &v) < 0)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

int
hl_num_oct(const char *s, unsigned long max, unsigned long *out)
{
	long v;

	if (max > (unsigned long)0x7fffffffL ||
	    parse_long(s, strlen(s), 8, 0, (long)max, &v) < 0)
		return -1;
	*out = (unsigned long)v;
	return 0;
}
