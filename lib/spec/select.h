/*
 * Host selectors (DESIGN.md 2.1): a host name, "@tag", "persona:NAME",
 * "all"; several may be given and their matches add up.
 */
#ifndef HL_SELECT_H
#define HL_SELECT_H

#include "core/buf.h"
#include "spec/spec.h"

/* 1 when sel is well-formed, else 0 with *why set. */
int hl_select_check(const char *sel, const char **why);

/*
 * Mark in picked (lab->nhosts entries, zeroed by the caller) each host a
 * selector matches; no selectors means all.  Each selector that matches
 * nothing is named in why ("selector 'webb01' matches no host (did you
 * mean 'web01'?)", "; " between them).  Returns how many matched nothing.
 */
int hl_select(const struct hl_lab *lab, char *const *sels, int nsels,
    unsigned char *picked, struct hl_buf *why);

#endif
