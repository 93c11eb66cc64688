/* The progress sink (progress.h). */
#include <stdarg.h>
#include <stdio.h>

#include "core/progress.h"

void
hl_note(const struct hl_progress *sink, enum hl_note_level level,
    const char *subject, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (sink == NULL || sink->emit == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink->emit(sink->ctx, level, subject, msg);
}
