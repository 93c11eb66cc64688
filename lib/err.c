#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int
hl_err_set(struct hl_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* The order of DESIGN.md 2.2: 7 > 4 > 5 > 6 > 3 > 1 > 0. */
static int
rank(int code)
{
	static const int order[] = { 7, 4, 5, 6, 3, 1, 0 };
	unsigned i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == code)
			return (int)(sizeof(order) / sizeof(order[0]) - i);
	return 100;	/* 2 (usage) never mixes with the others */
}

int
hl_exit_worst(int a, int b)
{
	return rank(a) >= rank(b) ? a : b;
}
