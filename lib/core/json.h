/*
 * JSON values are libjq's jv.
 *
 * THE jv RULE (from the top of jq's jv.h): every jv_* call consumes its jv
 * arguments.  jv_copy() what you want to keep using afterwards.  Functions
 * here follow the same rule unless their comment says "borrows".
 */
#ifndef HL_JSON_H
#define HL_JSON_H

#include <stdio.h>
#include <jv.h>

#include "core/err.h"

enum hl_json_flags {
	HL_JSON_PRETTY = 1 << 0,
};

/*
 * Print v (consumed) to f as one document with sorted keys and a final
 * newline.  Returns 0, or -1 with e filled when the write failed.
 */
int hl_json_print(FILE *f, jv v, unsigned flags, struct hl_err *e);

/* {message, code, reason} for e: how every document names an error. */
jv hl_json_err(const struct hl_err *e);

/* Borrows v: its string value, or NULL when it is not a string. */
const char *hl_json_str(jv v);

/* Consumes o: o[key], or null when o is no object or has no key. */
jv hl_json_get(jv o, const char *key);

/* Borrows o: o[key] when it is a string, else NULL. */
const char *hl_json_get_str(jv o, const char *key);

/* Borrows o: the kind of o[key]; JV_KIND_NULL when o is no object or has
 * no key.  (jv_get_kind(hl_json_get(...)) would leak a string or a
 * container.) */
jv_kind hl_json_get_kind(jv o, const char *key);

/* Consumes arr: a sorted array without duplicates. */
jv hl_json_sorted_unique(jv arr);

#endif
