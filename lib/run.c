#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit.h"
#include "json.h"
#include "run.h"

#ifndef HL_VERSION
#define HL_VERSION "0.0.0"
#endif

void
hl_run_init(struct hl_run *r, const char *tool)
{
	memset(r, 0, sizeof(*r));
	r->tool = tool;
	r->lab = jv_null();
	r->git = jv_null();
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	if (isatty(STDOUT_FILENO))
		r->flags |= HL_RUN_PRETTY;
}

void
hl_run_free(struct hl_run *r)
{
	jv_free(r->lab);
	jv_free(r->git);
	r->lab = r->git = jv_invalid();
}

int
hl_run_option(struct hl_run *r, int opt, const char *arg)
{
	switch (opt) {
	case 'C':
		r->lab_dir = arg;
		return 1;
	case HL_OPT_PRETTY:
		r->flags |= HL_RUN_PRETTY;
		return 1;
	case HL_OPT_PROGRESS:
		if (strcmp(arg, "json") == 0)
			r->flags |= HL_RUN_PROGRESS_JSON;
		else if (strcmp(arg, "human") == 0)
			r->flags &= ~(unsigned)HL_RUN_PROGRESS_JSON;
		else
			return hl_run_usage(r, "--progress takes human or json, "
			    "not '%s'", arg), -1;
		return 1;
	case HL_OPT_VERSION:
		printf("%s %s\n", r->tool, HL_VERSION);
		exit(fclose(stdout) == 0 ? HL_EXIT_OK : HL_EXIT_INTERNAL);
	default:
		return 0;
	}
}

int
hl_run_usage(struct hl_run *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", r->tool);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry '%s --help'\n", r->tool);
	return HL_EXIT_USAGE;
}

static void
report_one(struct hl_run *r, jv e, const char *level)
{
	if (r->flags & HL_RUN_PROGRESS_JSON) {
		e = jv_object_set(e, jv_string("level"), jv_string(level));
		e = jv_object_set(e, jv_string("tool"), jv_string(r->tool));
		jv_dumpf(e, stderr, JV_PRINT_SORTED);
		fputc('\n', stderr);
		return;
	}
	{
		const char *file = hl_json_get_str(e, "file");
		jv line = jv_object_get(jv_copy(e), jv_string("line"));
		jv col = jv_object_get(jv_copy(e), jv_string("col"));

		fprintf(stderr, "%s: ", r->tool);
		if (file && jv_get_kind(line) == JV_KIND_NUMBER)
			fprintf(stderr, "%s:%d:%d: ", file,
			    (int)jv_number_value(line),
			    (int)jv_number_value(col));
		else if (file)
			fprintf(stderr, "%s: ", file);
		fprintf(stderr, "%s: %s\n", level, hl_json_get_str(e, "message"));
		jv_free(line);
		jv_free(col);
		jv_free(e);
	}
}

void
hl_run_report(struct hl_run *r, const struct hl_diag *d)
{
	int i, n;

	n = jv_array_length(jv_copy(d->errors));
	for (i = 0; i < n; i++)
		report_one(r, jv_array_get(jv_copy(d->errors), i), "error");
	n = jv_array_length(jv_copy(d->warnings));
	for (i = 0; i < n; i++)
		report_one(r, jv_array_get(jv_copy(d->warnings), i), "warning");
}

int
hl_run_finish(struct hl_run *r, jv doc, int code)
{
	struct hl_err e = { 0 };
	struct timespec t1;
	long ms;
	jv meta;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - r->t0.tv_sec) * 1000 +
	    (t1.tv_nsec - r->t0.tv_nsec) / 1000000;
	meta = jv_object_set(jv_object(), jv_string("tool"),
	    jv_string(r->tool));
	meta = jv_object_set(meta, jv_string("version"), jv_string(HL_VERSION));
	meta = jv_object_set(meta, jv_string("lab"), jv_copy(r->lab));
	meta = jv_object_set(meta, jv_string("git"), jv_copy(r->git));
	meta = jv_object_set(meta, jv_string("duration_ms"),
	    jv_number((double)ms));
	doc = jv_object_set(doc, jv_string("meta"), meta);
	if (hl_json_print(stdout, doc, r->flags & HL_RUN_PRETTY ?
	    HL_JSON_PRETTY : 0, &e) < 0 || fclose(stdout) != 0) {
		fprintf(stderr, "%s: cannot write the output: %s\n", r->tool,
		    e.msg[0] ? e.msg : strerror(errno));
		return HL_EXIT_INTERNAL;
	}
	return code;
}

int
hl_run_fail(struct hl_run *r, int code, const char *msg)
{
	jv err = jv_object_set(jv_object(), jv_string("message"),
	    jv_string(msg));

	err = jv_object_set(err, jv_string("code"), jv_number(code));
	fprintf(stderr, "%s: %s\n", r->tool, msg);
	return hl_run_finish(r, jv_object_set(jv_object(), jv_string("error"),
	    err), code);
}
