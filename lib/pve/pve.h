/*
 * The one Proxmox VE client every tool uses (DESIGN.md 2.2, 2.4;
 * shared/pve-api/NOTES.md).  libcurl, HTTPS only, connections reused.
 *
 * Trust: a pinned certificate fingerprint is checked inside the TLS
 * handshake of every connection (an OpenSSL verify callback; TLS session
 * resumption is off so no connection skips it), before a request carrying
 * the token is written.  Else the CA file, else the system CA store.
 * --insecure only when asked, with a warning.
 *
 * Requests as PVE expects them: form-encoded POST/PUT bodies, GET/DELETE
 * parameters in the query string only, booleans as 1/0, repeated keys
 * for arrays, sshkeys URL-encoded before the form encoding.  Replies are
 * {"data": ...}; an error reads "<what>: <status> <reason>", then the
 * errors map and the message.
 *
 * Retries, bounded with backoff: reads on transport errors and 5xx;
 * writes only on PVE's "got timeout" (a lock not taken: nothing done);
 * never a create or clone, never a 401 or 403.
 *
 * The token is kept in one header and wiped when the client closes; it is
 * never put in a message.  libcurl's verbose output is never enabled.
 */
#ifndef HL_PVE_H
#define HL_PVE_H

#include <stddef.h>
#include <jv.h>

#include "core/err.h"
#include "core/progress.h"

struct hl_lab;

struct hl_pve_cfg {
	char *endpoint;		/* https://HOST[:PORT] */
	char *cafile;		/* or NULL */
	char *fingerprint;	/* "AA:BB:..." (SHA-256), or NULL */
	char *token;		/* "USER@REALM!ID=SECRET" */
	char *cluster;		/* the cluster name lab.yaml expects, or NULL */
	char *pins;		/* "NODE=FP NODE=FP ...": the certificate
				 * fingerprint lab.yaml pins per node, or NULL */
	int insecure;		/* --insecure: no TLS verification */
	const struct hl_progress *progress;	/* warnings, task waits; borrowed */
	const char *hint;	/* said when the endpoint cannot be reached,
				 * or NULL (static) */
};

/*
 * The connection settings: lab.yaml's pve section, overridden by
 * HL_PVE_ENDPOINT, HL_PVE_CAFILE and HL_PVE_FINGERPRINT; the token from
 * the variable lab.yaml names (pve.token_env, default HL_PVE_TOKEN) or
 * HL_PVE_TOKEN_FILE (refused when group or others may read it).
 * Returns 0, or -1 with e (HL_E_LAB for a missing setting, HL_E_AUTH for
 * a missing or unusable token).
 */
int hl_pve_cfg_load(struct hl_pve_cfg *c, const struct hl_lab *lab,
    struct hl_err *e);
void hl_pve_cfg_free(struct hl_pve_cfg *c);

struct hl_pve;

/*
 * Whether the nodes of a GET /nodes reply (borrowed) carry the
 * certificates pins names ("NODE=FP ..."): 0, or -1 with e (HL_E_REFUSED,
 * naming the first node that differs or is missing).
 */
int hl_pve_check_pins(const char *pins, jv nodes, struct hl_err *e);

/* A client for c (copied).  Returns 0, or -1 with e. */
int hl_pve_open(struct hl_pve **p, const struct hl_pve_cfg *c,
    struct hl_err *e);
void hl_pve_close(struct hl_pve *p);

/* hl_pve_cfg_load for lab, --insecure and the progress sink applied, then
 * hl_pve_open. */
int hl_pve_connect(struct hl_pve **p, const struct hl_lab *lab, int insecure,
    const struct hl_progress *progress, struct hl_err *e);

/* How a call may be retried. */
enum hl_pve_kind {
	HL_PVE_READ,		/* GET: transport errors and 5xx */
	HL_PVE_WRITE,		/* config writes: "got timeout" only */
	HL_PVE_ONCE,		/* create, clone, start...: never */
};

/*
 * One call: METHOD path (below /api2/json, e.g. "/nodes/pve1/status"),
 * params a jv object (consumed; strings, numbers, booleans, arrays of
 * them) or jv_null().  *data gets the reply's "data" (the caller frees
 * it).  Returns 0, or -1 with e, whose reason says what failed:
 * HL_E_CONNECT (not reached), HL_E_TLS (its identity did not verify),
 * HL_E_AUTH (401, 403), HL_E_REPLY (not PVE's JSON); PVE's own error reply
 * is HL_E_API, or HL_E_LOCKED ("got timeout": nothing done), HL_E_EXISTS
 * or HL_E_SHRINK where its message names that condition (e->msg holds
 * PVE's message); HL_E_REFUSED when, before the first call that is not a
 * GET, /cluster/status names another cluster than cfg->cluster (nothing
 * is sent).  *status gets the HTTP status when not NULL.
 */
int hl_pve_call(struct hl_pve *p, enum hl_pve_kind kind, const char *method,
    const char *path, jv params, jv *data, int *status, struct hl_err *e);

/*
 * The check hl_pve_call makes before its first change, made now: 0 when
 * the endpoint is the cluster lab.yaml names (or it names none), else -1
 * with e (HL_E_REFUSED; or a read's error).  Only reads are sent, so a
 * dry run refuses where the real run would.
 */
int hl_pve_check_cluster(struct hl_pve *p, struct hl_err *e);

/*
 * s as one segment of an API path, into out (len bytes): every byte but
 * letters, digits and -._~ percent-encoded, so a volume ID's ':' and '/'
 * ("local:backup/vzdump-...") stay inside the segment.  -1 when out is too
 * small.
 */
int hl_pve_segment(const char *s, char *out, size_t len);

/* GET path: hl_pve_call(p, HL_PVE_READ, "GET", path, jv_null(), ...). */
int hl_pve_get(struct hl_pve *p, const char *path, jv *data,
    struct hl_err *e);

/*
 * Many GETs at once through curl multi: a check over many hosts costs a
 * few round trips, not one per host.  Each request's result lands in its
 * own data, status and err (rc 0 or -1), as from hl_pve_call.
 */
struct hl_pve_req {
	const char *path;	/* may carry a query: "/cluster/nextid?vmid=9" */
	jv data;
	int status;
	int rc;
	struct hl_err err;
};
void hl_pve_get_all(struct hl_pve *p, struct hl_pve_req *reqs, size_t n);

/*
 * GET each of paths (a jv array of strings) together; *out (an object)
 * gets each reply under the key at the same index of keys.  keys and
 * paths are consumed.  Returns 0, or -1 with e from the first read that
 * failed for good: a batch is whole or it fails.
 */
int hl_pve_get_map(struct hl_pve *p, jv keys, jv paths, jv *out,
    struct hl_err *e);

/* GET /cluster/resources?type=vm into *vms, a list, or -1 with e. */
int hl_pve_vms(struct hl_pve *p, jv *vms, struct hl_err *e);

/*
 * The first vmid from first to last that PVE says is free (GET
 * /cluster/nextid?vmid=N answers 400 for one a VM or container holds)
 * into *vmid: 0; 1 when every one is taken; -1 with e when a call fails.
 */
int hl_pve_free_vmid(struct hl_pve *p, int first, int last, int *vmid,
    struct hl_err *e);

/*
 * In a child process after fork(): new connections, the parent's left
 * untouched.  The child should then leave with _exit(), not hl_pve_close.
 */
int hl_pve_forked(struct hl_pve *p, struct hl_err *e);

/*
 * Wait until cloud-init finished in VM vmid (its boot-finished file read
 * through the guest agent), at most timeout_s seconds: 0 when it did, 1
 * on timeout, -1 with e when the endpoint's identity or the token fails
 * (HL_E_TLS, HL_E_AUTH: waiting does not heal those).
 */
int hl_pve_wait_booted(struct hl_pve *p, const char *node, int vmid,
    double timeout_s, struct hl_err *e);

/*
 * Read VM vmid's config on node until no lock is on it (a task an earlier,
 * killed run started may hold one), at most timeout_s seconds.  Returns 0
 * with *conf, the unlocked config; 1 when it was still locked at the
 * timeout; 2 when the VM is gone; -1 with e when it cannot be read.
 * *conf is null but on 0; the caller frees it either way.
 */
int hl_pve_wait_unlocked(struct hl_pve *p, const char *node, int vmid,
    double timeout_s, jv *conf, struct hl_err *e);

/*
 * Wait for a task: poll the node in the UPID with backoff until it stops,
 * for at most timeout_s seconds (<= 0: the task type's default).  With a
 * subject (the host or template it is for), a progress note to the
 * client's sink every few seconds.  Returns 0 when it ended OK or with
 * warnings, -1 with e: HL_E_TASK with the task's exit status and its last
 * log lines (HL_E_LOCKED when it never got its lock: nothing was done),
 * HL_E_TIMEOUT naming the UPID, or the reason a status read failed.
 */
int hl_pve_task_wait(struct hl_pve *p, const char *upid, double timeout_s,
    const char *subject, struct hl_err *e);

/*
 * METHOD path sent once (params consumed, HL_PVE_ONCE), and the task it
 * started waited for as hl_pve_task_wait does; a reply that is no UPID
 * (PVE 8.4's resize answers null) is done at once.  *upid (when not NULL)
 * gets the UPID, or null.  Returns 0, or -1 with e.
 */
int hl_pve_run_task(struct hl_pve *p, const char *method, const char *path,
    jv params, double timeout_s, const char *subject, jv *upid,
    struct hl_err *e);

/* The default timeout of a task type ("qmclone": 1800 s, ...). */
double hl_pve_task_timeout(const char *upid);

/*
 * A reply value as a number: PVE sends some numbers as JSON strings
 * (nextid).  Returns 0 with *out, -1 when v is neither.
 */
int hl_pve_num(jv v, double *out);

/* o[key] as a number (hl_pve_num), or dflt; o borrowed. */
double hl_pve_get_num(jv o, const char *key, double dflt);

#endif
