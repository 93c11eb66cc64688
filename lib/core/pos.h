/*
 * Source positions, kept beside the jv values rather than inside them
 * (DESIGN.md 2.1): consumers get plain values, errors look positions up by
 * the path of the value (see buf.h for the path syntax).
 */
#ifndef HL_POS_H
#define HL_POS_H

#include <stddef.h>

struct hl_pos {
	const char *file;	/* borrowed from the table; NULL when unknown */
	int line;		/* 1-based; 0 when unknown */
	int col;		/* 1-based */
};

struct hl_pos_table;

/* A table for one file; file is copied.  NULL when out of memory. */
struct hl_pos_table *hl_pos_table_new(const char *file);
void hl_pos_table_free(struct hl_pos_table *t);
const char *hl_pos_table_file(const struct hl_pos_table *t);

/*
 * Record where the value at path starts, and where its mapping key starts
 * (the same as the value for sequence items and the root).
 */
int hl_pos_put(struct hl_pos_table *t, const char *path, struct hl_pos key,
    struct hl_pos val);

/*
 * Look path up.  Values copied from an alias or a merge key have no entry
 * of their own below the alias: callers fall back to the parent's position,
 * which is where the alias was used.  Returns 0 when found, -1 when not
 * (key and val untouched).  Either out pointer may be NULL.
 */
int hl_pos_get(const struct hl_pos_table *t, const char *path,
    struct hl_pos *key, struct hl_pos *val);

#endif
