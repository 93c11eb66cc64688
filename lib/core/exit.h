/*
 * The exit status every hl tool uses (DESIGN.md 2.2).  Repeated in each
 * tool's --help and doc page; this header is the one source.
 */
#ifndef HL_EXIT_H
#define HL_EXIT_H

enum hl_exit {
	HL_EXIT_OK = 0,		/* success; nothing pending */
	HL_EXIT_NO = 1,		/* a clean "no": spec problem, drift pending */
	HL_EXIT_USAGE = 2,	/* usage error */
	HL_EXIT_LAB = 3,	/* the lab cannot be found or loaded */
	HL_EXIT_REMOTE = 4,	/* a remote could not be reached or refused us */
	HL_EXIT_FAILED = 5,	/* an operation failed */
	HL_EXIT_REFUSED = 6,	/* refused for safety */
	HL_EXIT_INTERNAL = 7	/* internal error */
};

#define HL_EXIT_TABLE \
"exit status:\n" \
"  0  success; nothing pending\n" \
"  1  a clean \"no\" (for hl-validate: any spec problem)\n" \
"  2  usage error\n" \
"  3  the lab cannot be found or loaded\n" \
"  4  a remote could not be reached or refused us\n" \
"  5  an operation failed\n" \
"  6  refused for safety\n" \
"  7  internal error\n"

/* Across several hosts the worst wins: 7 > 4 > 5 > 6 > 3 > 1 > 0. */
static inline int
hl_exit_worse(int a, int b)
{
	static const int rank[] = { 0, 1, 0, 3, 6, 5, 4, 7 };

	if (a < 0 || a > 7)
		return a;
	if (b < 0 || b > 7)
		return b;
	return rank[b] > rank[a] ? b : a;
}

#endif
