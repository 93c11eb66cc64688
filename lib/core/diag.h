/*
 * Spec problems, collected so one run reports all of them.  Each is a JSON
 * object {file, line, col, path, message} (and "related" {file, line, col}
 * when a second place is part of the problem, e.g. a duplicate).
 */
#ifndef HL_DIAG_H
#define HL_DIAG_H

#include <jv.h>

#include "core/pos.h"

enum hl_diag_level { HL_DIAG_ERROR, HL_DIAG_WARNING };

/* Past this many of a level, problems are counted, not kept. */
#define HL_DIAG_MAX 1000

struct hl_diag {
	jv errors;	/* owned */
	jv warnings;	/* owned */
	int dropped[2];	/* by level: not kept, past HL_DIAG_MAX */
};

void hl_diag_init(struct hl_diag *d);
/* Add one last problem per level saying how many were not kept, if any. */
void hl_diag_finish(struct hl_diag *d);
void hl_diag_free(struct hl_diag *d);
int hl_diag_count(const struct hl_diag *d, enum hl_diag_level level);

/* path may be NULL; pos.line 0 means no position. */
void hl_diag_add(struct hl_diag *d, enum hl_diag_level level, struct hl_pos pos,
    const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The same with a second, related position. */
void hl_diag_add2(struct hl_diag *d, enum hl_diag_level level,
    struct hl_pos pos, struct hl_pos related, const char *path,
    const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
