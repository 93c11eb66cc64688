/*
 * Numbers from text (flags, spec values, replies, files), checked: the
 * whole string must be the number.  Empty strings, trailing junk, nan,
 * inf and values out of range are refused.  Nothing else in hl parses a
 * number (no atoi, atof, unchecked strtol or sscanf).
 */
#ifndef HL_NUM_H
#define HL_NUM_H

#include <stddef.h>

/* A finite decimal number ("12", "-0.5", "1e3").  Returns 0 with *out, or
 * -1 (*out untouched). */
int hl_num_double(const char *s, double *out);

/* A decimal integer in [min, max] (no sign where min >= 0).  Returns 0
 * with *out, or -1. */
int hl_num_long(const char *s, long min, long max, long *out);

/* The same for an int. */
int hl_num_int(const char *s, int min, int max, int *out);

/* Like hl_num_long for the first n characters of s only (a field in a
 * longer text, such as "8.4" or a UPID). */
int hl_num_long_n(const char *s, size_t n, long min, long max, long *out);

/* A hexadecimal integer in [0, max] (no prefix), of the first n
 * characters of s. */
int hl_num_hex_n(const char *s, size_t n, unsigned long max,
    unsigned long *out);

/* An octal integer in [0, max] (a file mode, "2750"), the whole of s. */
int hl_num_oct(const char *s, unsigned long max, unsigned long *out);

#endif
