/* Internal to lib/capture: restic and the marker on a host. */
#ifndef HL_CAPTURE_IMPL_H
#define HL_CAPTURE_IMPL_H

#include <jv.h>

#include "core/buf.h"
#include "core/err.h"
#include "state/reach.h"
#include "state/restic.h"

/* Where the guard's marker lives on a host. */
#define CP_MARKER "/var/lib/hl/capture.json"

/* The directory of the checksum manifest each snapshot holds beside the
 * data (sums.py's MANIFEST is in it). */
#define CP_SUMS_DIR "/var/lib/hl/capture"

/* One host's session: how it is reached, its repository, the password. */
struct cp_host {
	const char *name;
	struct hl_reach reach;
	struct hl_restic restic;
	const char *password;	/* the operator's environment's */
};

/*
 * restic ARGS... (NULL-ended) as root on the host, with -r and the
 * password on its stdin; its stdout into out, its stderr into err (both
 * may be NULL).  A repository not yet made is made first when init_ok;
 * a lock left by a run that is gone is removed (restic unlock removes
 * only stale ones) and the command tried again.  Returns restic's exit
 * status, or -1 with e when the host was not reached.
 */
int cp_restic(struct cp_host *h, char *const args[], int init_ok,
    struct hl_buf *out, struct hl_buf *err, double timeout, struct hl_err *e);

/* The marker written (consumed), root only, in one rename. */
int cp_marker_write(struct cp_host *h, jv marker, struct hl_err *e);

/* In one call: the marker on the host (when marker is not NULL; null:
 * none) and each of paths (an array): "data" (a directory holding
 * something), "empty" or "missing", {PATH: STATE}; or -1 with e. */
int cp_look(struct cp_host *h, jv paths, jv *marker, jv *states,
    struct hl_err *e);

/* The remote argv "sudo -n INTERP -c SCRIPT ARG0 ARGS..." (ARGS an array
 * of strings, borrowed: the argv points into it), NULL-ended, malloc'ed
 * (the caller frees the array only); NULL when out of memory. */
char **cp_argv(const char *interp, const char *script, const char *arg0,
    jv args);

/* sh -c SCRIPT sh ARGS... as root on the host (ARGS an array of strings,
 * borrowed); its exit status, or -1 with e. */
int cp_sh(struct cp_host *h, const char *script, jv args,
    const struct hl_buf *in, struct hl_buf *out, struct hl_err *e);
/* How long cp_sh waits (seconds); cp_sh_within: timeout. */
#define CP_SH_TIMEOUT 120
int cp_sh_within(struct cp_host *h, const char *script, jv args,
    const struct hl_buf *in, struct hl_buf *out, double timeout,
    struct hl_err *e);

/* The host's snapshots, oldest first (restic snapshots --json), only
 * the one named when only is an ID or "latest" (NULL: all); a repository
 * no capture has made yet holds none: []. */
int cp_snapshots(struct cp_host *h, const char *only, jv *list,
    struct hl_err *e);

/* verify (check.c): restic check, all data read (subset: that percent),
 * then the restore drill; the entry gets check and drill.  -1 with e
 * (HL_E_NO: damage or a mismatch found) when either fails. */
int cp_verify(struct cp_host *h, int subset, jv *entry, struct hl_err *e);

/* forget (check.c): the keep policy (lab.yaml capture.restic.keep) with
 * prune; without yes a dry run.  The entry gets would_remove or removed,
 * and kept (short IDs), from restic's JSON. */
int cp_forget(struct cp_host *h, jv keep, int yes, jv *entry,
    struct hl_err *e);

/*
 * sums.py VERB ARGS... (an array of strings, borrowed) as root on the
 * host: "write" with the data paths makes the checksum manifest; "check"
 * with a root hashes again what the manifest there names.  *res is its
 * answer (see sums.py); -1 with e when it failed or the host was not
 * reached.
 */
int cp_sums(struct cp_host *h, const char *verb, jv args, double timeout,
    jv *res, struct hl_err *e);

/* Each line of text that is a JSON object (restic's --json output, a
 * value a line), in order. */
jv cp_json_lines(const char *text);

/* A capture hook ({service, command}, borrowed) of the stack run in its
 * service's running container (docker exec).  Returns its exit status
 * (0: done; CP_HOOK_NO_CONTAINER: no container of the service runs, so
 * nothing was run), or -1 with e; e says why when it failed. */
#define CP_HOOK_NO_CONTAINER 90
int cp_hook(struct cp_host *h, const char *stack, jv hook, struct hl_err *e);

/* restic's stderr err says the repository is not there yet. */
int cp_no_repository(const struct hl_buf *err);

/* The last line of err worth showing (restic's "Fatal: ..."), or what a
 * repository not made yet means, in words. */
const char *cp_why(const struct hl_buf *err, char *buf, size_t len);

#endif
