/*
 * YAML files into plain jv values, with positions in a side table.
 *
 * Scalars follow the YAML 1.2 core schema for plain scalars (null, true and
 * false, decimal integers and floats; everything else, and every quoted
 * scalar, is a string), so "no" stays a string and "52:54:00:12:34:56" is
 * not a base-60 number.  Anchors, aliases and merge keys ("<<") work.
 *
 * Hostile input is bounded and rejected with file:line: a size cap per
 * file, NUL bytes, invalid UTF-8, nesting depth, alias expansion (counted in
 * nodes, so a "billion laughs" stops early), an empty file or document,
 * several documents, any explicit tag, duplicate keys (both positions).
 */
#ifndef HL_YAMLDOC_H
#define HL_YAMLDOC_H

#include <jv.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/pos.h"

#define HL_YAML_MAX_BYTES (8u << 20)	/* per file */
#define HL_YAML_MAX_DEPTH 64		/* nested collections */
#define HL_YAML_MAX_NODES 2000000	/* values, aliases expanded */

/*
 * Load the YAML file at path; display is the name problems carry (the path
 * relative to the lab root).  On return *pt holds the positions (NULL when
 * out of memory) and the return value is the document, or jv_invalid()
 * when the file yields none.  Every problem goes to d; a duplicate key or
 * an explicit tag is reported and loading goes on, so one run shows all.
 */
jv hl_yamldoc_load(const char *path, const char *display, struct hl_diag *d,
    struct hl_pos_table **pt);

/*
 * Append s to b as a YAML scalar that hl_yamldoc_load reads back as the
 * string s: plain where it reads so (letters, digits and "._-", not a
 * null, a boolean or a number, not led by "-"), else double-quoted as a
 * JSON string, which YAML reads the same.  For the files hl writes.
 */
void hl_yaml_scalar(struct hl_buf *b, const char *s);

#endif
