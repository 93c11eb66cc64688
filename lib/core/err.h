/*
 * Errors from lib/: a fallible function returns 0 or a negative value and
 * fills the struct hl_err passed last.  Library code never prints and never
 * exits; the tool reports once.
 *
 * An error's reason is a type, not text: retry and exit-code decisions read
 * e->reason (or e->code, the exit status the reason maps to), never e->msg.
 */
#ifndef HL_ERR_H
#define HL_ERR_H

#include "core/exit.h"

enum hl_reason {
	HL_E_NONE = 0,
	HL_E_NO,		/* the specs or the request do not allow it (1) */
	HL_E_USAGE,		/* a bad argument or file named by the user (2) */
	HL_E_LAB,		/* the lab cannot be found or read (3) */
	HL_E_CONNECT,		/* a remote not reached: DNS, refused, reset (4) */
	HL_E_TLS,		/* reached, but its identity did not verify (4) */
	HL_E_AUTH,		/* the remote refused our credentials: 401, 403 (4) */
	HL_E_REPLY,		/* an answer that is not the protocol's (4) */
	HL_E_SSH,		/* a host not reached over SSH, or its key wrong (4) */
	HL_E_API,		/* Proxmox VE's own error reply (5) */
	HL_E_LOCKED,		/* PVE's "got timeout": a lock not taken, nothing done (5) */
	HL_E_EXISTS,		/* PVE: what was to be made already exists (5) */
	HL_E_SHRINK,		/* PVE: a resize to less than the disk has (5) */
	HL_E_TASK,		/* a Proxmox task ended in an error (5) */
	HL_E_TIMEOUT,		/* a wait ran out of time (5) */
	HL_E_FAILED,		/* any other operation failed: a child, the agent (5) */
	HL_E_REFUSED,		/* refused for safety (6) */
	HL_E_INTERNAL,		/* out of memory, a local system call (7) */
};

struct hl_err {
	enum hl_reason reason;
	int code;		/* the enum hl_exit value reason maps to */
	char msg[1024];		/* lowercase, no final period */
};

/* The exit status a reason maps to (DESIGN.md 2.2). */
int hl_reason_exit(enum hl_reason reason);

/* The reason's name in documents: "tls", "task", "timeout", ... */
const char *hl_reason_name(enum hl_reason reason);

/* Whether a remote's failure is one that a later try may not repeat: the
 * transport, a reply cut short.  TLS and authentication never are. */
int hl_reason_transient(enum hl_reason reason);

/* Fill e (when not NULL) and return -1: "return hl_err_set(...)". */
int hl_err_set(struct hl_err *e, enum hl_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copy src into dst (when not NULL) and return -1. */
int hl_err_copy(struct hl_err *dst, const struct hl_err *src);

#endif
