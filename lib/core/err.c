/* Typed errors (err.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

int
hl_reason_exit(enum hl_reason reason)
{
	switch (reason) {
	case HL_E_NONE:
		return HL_EXIT_OK;
	case HL_E_NO:
		return HL_EXIT_NO;
	case HL_E_USAGE:
		return HL_EXIT_USAGE;
	case HL_E_LAB:
		return HL_EXIT_LAB;
	case HL_E_CONNECT:
	case HL_E_TLS:
	case HL_E_AUTH:
	case HL_E_REPLY:
	case HL_E_SSH:
		return HL_EXIT_REMOTE;
	case HL_E_API:
	case HL_E_LOCKED:
	case HL_E_EXISTS:
	case HL_E_SHRINK:
	case HL_E_TASK:
	case HL_E_TIMEOUT:
	case HL_E_FAILED:
		return HL_EXIT_FAILED;
	case HL_E_REFUSED:
		return HL_EXIT_REFUSED;
	case HL_E_INTERNAL:
		break;
	}
	return HL_EXIT_INTERNAL;
}

const char *
hl_reason_name(enum hl_reason reason)
{
	static const char *const names[] = {
		[HL_E_NONE] = "none", [HL_E_NO] = "no", [HL_E_USAGE] = "usage",
		[HL_E_LAB] = "lab", [HL_E_CONNECT] = "connect",
		[HL_E_TLS] = "tls", [HL_E_AUTH] = "auth",
		[HL_E_REPLY] = "reply", [HL_E_SSH] = "ssh", [HL_E_API] = "api",
		[HL_E_LOCKED] = "locked", [HL_E_EXISTS] = "exists",
		[HL_E_SHRINK] = "shrink", [HL_E_TASK] = "task",
		[HL_E_TIMEOUT] = "timeout", [HL_E_FAILED] = "failed",
		[HL_E_REFUSED] = "refused", [HL_E_INTERNAL] = "internal",
	};

	if ((unsigned)reason < sizeof(names) / sizeof(*names) &&
	    names[reason])
		return names[reason];
	return "internal";
}

int
hl_reason_transient(enum hl_reason reason)
{
	return reason == HL_E_CONNECT || reason == HL_E_REPLY;
}

int
hl_err_set(struct hl_err *e, enum hl_reason reason, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->reason = reason;
	e->code = hl_reason_exit(reason);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
hl_err_copy(struct hl_err *dst, const struct hl_err *src)
{
	if (dst != NULL && dst != src)
		memcpy(dst, src, sizeof(*dst));
	return -1;
}
