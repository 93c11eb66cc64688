/*
 * Progress and warnings as they happen: library code sends notes to the
 * sink its caller passes and never writes to a stream itself.  A tool's
 * sink (lib/cli/) prints "hl-vm: web01: cloning ..." on stderr, or one
 * NDJSON object a note with --progress=json (DESIGN.md 2.2).
 */
#ifndef HL_PROGRESS_H
#define HL_PROGRESS_H

enum hl_note_level {
	HL_NOTE_PROGRESS,	/* what is being done now */
	HL_NOTE_WARNING,	/* something the operator should know */
	HL_NOTE_ERROR,		/* why a part failed (the tool reports it) */
};

struct hl_progress {
	/* subject: what the note is about ("web01"), or NULL */
	void (*emit)(void *ctx, enum hl_note_level level, const char *subject,
	    const char *message);
	void *ctx;
};

/* Send one note to sink; a NULL sink (or one without emit) drops it. */
void hl_note(const struct hl_progress *sink, enum hl_note_level level,
    const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
