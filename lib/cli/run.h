/*
 * What every tool does around its verb (DESIGN.md 2.2): the common
 * options, the lab, the one JSON document on stdout with its "meta", and
 * progress or diagnostics on stderr.
 */
#ifndef HL_RUN_H
#define HL_RUN_H

#include <getopt.h>
#include <stdio.h>
#include <time.h>
#include <jv.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/progress.h"

enum hl_run_flags {
	HL_RUN_PRETTY = 1 << 0,		/* --pretty, or stdout is a TTY */
	HL_RUN_PROGRESS_JSON = 1 << 1,	/* --progress=json */
};

struct hl_run {
	const char *tool;	/* "hl-validate" */
	unsigned flags;
	const char *lab_dir;	/* -C DIR */
	struct timespec t0;
	jv lab;			/* the lab id, or null */
	jv git;			/* {commit, dirty} or null */
	struct hl_progress progress;	/* the sink lib/ gets: prints on stderr */
};

/* Long options every tool takes; getopt_long returns these values. */
enum {
	HL_OPT_PRETTY = 0x100,
	HL_OPT_PROGRESS,
	HL_OPT_VERSION,
};

#define HL_RUN_LONGOPTS \
	{ "lab", required_argument, NULL, 'C' }, \
	{ "pretty", no_argument, NULL, HL_OPT_PRETTY }, \
	{ "progress", required_argument, NULL, HL_OPT_PROGRESS }, \
	{ "version", no_argument, NULL, HL_OPT_VERSION }, \
	{ "help", no_argument, NULL, 'h' }

#define HL_RUN_OPTIONS_HELP \
"  -C, --lab DIR        the lab root (default: $HL_LAB, else the nearest\n" \
"                       directory upwards holding lab.yaml)\n" \
"      --pretty         indent the JSON output (the default on a terminal)\n" \
"      --progress=MODE  stderr as human lines or json (NDJSON)\n" \
"  -h, --help           show this help\n" \
"      --version        show the version\n"

void hl_run_init(struct hl_run *r, const char *tool);
void hl_run_free(struct hl_run *r);

/*
 * Handle a common option; returns 1 when opt was one (--version prints and
 * exits 0), 0 when it is the tool's own, -1 on a bad argument (reported).
 */
int hl_run_option(struct hl_run *r, int opt, const char *arg);

/* hl_run_getopt's "the tool returns *code now". */
#define HL_RUN_EXIT (-2)

/*
 * The next of the tool's own options through getopt_long (shortopts and
 * longopts hold the common ones too): the common options are handled
 * here.  Returns the option, -1 past the last, or HL_RUN_EXIT with *code
 * set: --help printed usage (0), an unknown or bad option (2).
 */
int hl_run_getopt(struct hl_run *r, int argc, char **argv,
    const char *shortopts, const struct option *longopts, const char *usage,
    int *code);

/* A usage error: one line and a hint, exit status 2. */
int hl_run_usage(struct hl_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report each problem of d on stderr: "FILE:LINE:COL: error: MESSAGE". */
void hl_run_report(struct hl_run *r, const struct hl_diag *d);

/*
 * Print doc (consumed) with meta added, close stdout, and return code, or
 * 7 when the output could not be written.
 */
int hl_run_finish(struct hl_run *r, jv doc, int code);

/* {error: {message, code, reason}}: the document of a verb that failed
 * whole; the message also on stderr as "TOOL: MESSAGE" (an NDJSON note
 * with --progress=json). */
jv hl_run_error_doc(struct hl_run *r, const struct hl_err *e);

/*
 * Before a mutating verb (DESIGN.md 2.2): refuse (6) when the specs have
 * uncommitted changes or the lab is outside Git, unless allow_dirty; then
 * hold .hl/lock until exit, refusing (6) when another run holds it.
 */
int hl_run_mutate(struct hl_run *r, const char *root, int allow_dirty,
    struct hl_err *e);

struct hl_lab;

enum hl_run_lab_flags {
	HL_RUN_LAB_PROBLEMS_OK = 1 << 0,	/* spec problems are the verb's
						 * result (hl-validate) */
};

/*
 * The lab a tool acts on, loaded the one way every tool loads it: found
 * (-C, HL_LAB, upwards), sels checked first (a bad one is a usage
 * error: 2, no document), its Git state into r->git (a repository that
 * cannot be read fails: 3), its specs, which must be valid unless flags
 * has HL_RUN_LAB_PROBLEMS_OK, and (picked not NULL) the hosts sels picks.
 * Returns 0, or -1 with the failure document printed and *code set; the
 * caller frees *lab and *picked either way.
 */
int hl_run_lab(struct hl_run *r, char *const *sels, int nsels, unsigned flags,
    struct hl_lab **lab, unsigned char **picked, int *code);

/*
 * Finish a verb from what lib/ returned: its exit status code, its result
 * (consumed; null or not an object when there is none) and its error.
 * With a result: the result printed, and e's message on stderr when it is
 * a refusal (6) that lists what it would do.  Without: the failure
 * document.  Returns the exit status.
 */
int hl_run_result(struct hl_run *r, int code, jv result, const struct hl_err *e);

/*
 * What the verb did to each host of result (borrowed: its hosts[], each
 * with name) into .hl/hosts/HOST.json's section (state/hostrec.h): ok
 * (no error, no nonzero code, failed or unreachable), when, the tool, the
 * lab's commit, and the entry's members named in keep (NULL-ended; may be
 * NULL).  clear: a host that went well has nothing of the section applied
 * any more (its VM destroyed).  A record that cannot be written is a
 * warning, not a failure of the verb.
 */
void hl_run_record(struct hl_run *r, const struct hl_lab *lab,
    const char *section, jv result, const char *const keep[], int clear);

/* A failure document {error: {message, code, reason}} printed with
 * hl_run_finish, and the message on stderr; returns e's exit status. */
int hl_run_fail(struct hl_run *r, const struct hl_err *e);

/* Whether progress goes to a person: human lines, stderr a terminal. */
int hl_run_human(const struct hl_run *r);

/* hl-vm plan's document (borrowed) as a diff for a person, on f. */
void hl_run_plan_text(FILE *f, jv doc);

#endif
