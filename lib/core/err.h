/*
 * Errors from lib/: a fallible function returns 0 or a negative value and
 * fills the struct hl_err passed last.  Library code never prints and never
 * exits; the tool reports once.
 */
#ifndef HL_ERR_H
#define HL_ERR_H

#include "core/exit.h"

struct hl_err {
	int code;		/* an enum hl_exit value */
	char msg[1024];		/* lowercase, no final period */
};

/* Fill e (when not NULL) and return -1: "return hl_err_set(...)". */
int hl_err_set(struct hl_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
