/*
 * Reaching machines over SSH with the host key pinned (DESIGN.md 2.4):
 * each command runs without a shell and without HL_PVE_* in its
 * environment, with StrictHostKeyChecking=yes and only the pinned key
 * known.
 */
#ifndef HL_SSH_H
#define HL_SSH_H

#include "core/buf.h"
#include "core/err.h"

/* Whether ssh-keyscan output scan holds the pinned key (a key line
 * "TYPE BASE64" or a "SHA256:..." fingerprint). */
int hl_ssh_key_in(const char *scan, const char *pinned);

/* A node to reach: lab.yaml's nodes.<n>.ssh. */
struct hl_ssh_target {
	const char *address;
	int port;
	const char *user;
	const char *host_key;	/* pinned: a key line or SHA256:... */
	const char *identity;	/* a private key file, or NULL */
};

/* ssh-keyscan of t's address and port: its lines into scan, empty when
 * nothing answered in time.  Returns 0, or -1 with e when ssh-keyscan
 * cannot run. */
int hl_ssh_keyscan(const struct hl_ssh_target *t, struct hl_buf *scan,
    struct hl_err *e);

/*
 * The pinned key as "TYPE BASE64\n": the key line itself, or the key whose
 * fingerprint is the pinned one among those t answers with (a scan).
 * Returns 0, or -1 with e (HL_E_SSH: no answer, or none matches).
 */
int hl_ssh_pinned_key(const struct hl_ssh_target *t, struct hl_buf *line,
    struct hl_err *e);

/* Whether t answers SSH with its pinned host key (ssh-keyscan).  Returns
 * 0, or -1 with e (HL_E_SSH) naming the address and port. */
int hl_ssh_check_key(const struct hl_ssh_target *t, struct hl_err *e);

/*
 * Copy the local file to remote on t over SFTP, with only the pinned key
 * trusted (a fingerprint is resolved by ssh-keyscan and checked first):
 * to a temporary name beside it, renamed over it, so remote is never
 * seen half-written.
 * Returns 0, or -1 with e: HL_E_SSH when the host cannot be reached
 * or its key is not the pinned one (nothing is sent then); HL_E_USAGE for
 * a path that is not a plain absolute one (letters, digits, ". _ - /"):
 * sftp's batch syntax could read anything else as a command.
 */
int hl_sftp_put(const struct hl_ssh_target *t, const char *local,
    const char *remote, struct hl_err *e);

/*
 * A host to run commands on (L3, L4, capture): reached at address as
 * user, its key pinned under alias in root/.hl/known_hosts and nowhere
 * else, the lab's key as the identity.  All borrowed.
 */
struct hl_ssh_host {
	const char *root;	/* the lab root */
	const char *alias;	/* HostKeyAlias: the host's name */
	const char *address;
	int port;		/* 0: 22 */
	const char *user;
	const char *identity;	/* a private key file; NULL: .hl/id_ed25519 */
};

/* hl_ssh_run's failures, beside the remote command's own exit status. */
enum {
	HL_SSH_FAILED = -1,	/* not reached, login refused, timed out */
	HL_SSH_BADKEY = -2,	/* it answers with another host key than
				 * .hl/known_hosts holds, or the file holds
				 * none for alias */
};

/*
 * Run remote_argv (NULL-ended) on h: one ssh child (hl_proc_run: no shell
 * here, no HL_PVE_* in its environment) with StrictHostKeyChecking=yes,
 * UserKnownHostsFile=root/.hl/known_hosts, GlobalKnownHostsFile=/dev/null,
 * HostKeyAlias=alias, BatchMode=yes, IdentitiesOnly=yes, ConnectTimeout=5
 * on the command line (they beat any ssh config), "--" before the
 * destination, and each remote argument single-quoted for the remote
 * shell, so each arrives as one word whatever it holds.  At most
 * timeout_s seconds (<= 0: no limit).  The remote stdout goes to out (may
 * be NULL), up to HL_PROC_CAP.
 *
 * Returns the remote command's exit status (0-254: ssh's own failures
 * are 255, so a remote 255 reads as one of them), or with e:
 * HL_SSH_BADKEY (HL_E_SSH) when the host key did not verify; HL_SSH_FAILED
 * with HL_E_SSH when ssh failed otherwise (e->msg ends with ssh's last
 * line: "Connection refused", "Permission denied (publickey)"),
 * HL_E_TIMEOUT when it ran out of time, or HL_E_FAILED when ssh could not
 * be started.
 */
int hl_ssh_run(const struct hl_ssh_host *h, char *const remote_argv[],
    double timeout_s, struct hl_buf *out, struct hl_err *e);

/* s appended to b single-quoted for a POSIX shell: 'it'\''s'. */
void hl_ssh_quote(struct hl_buf *b, const char *s);

/* hl_ssh_run with the remote command's stdin (data that must not be in
 * its arguments: a secret, a release) and a larger output cap. */
struct hl_ssh_io {
	const struct hl_buf *in;	/* NULL: none */
	struct hl_buf *out;		/* may be NULL */
	size_t out_cap;			/* 0: HL_PROC_CAP */
	struct hl_buf *err;		/* what the remote and ssh wrote as
					 * errors, up to HL_PROC_CAP; or NULL */
};

int hl_ssh_run_io(const struct hl_ssh_host *h, char *const remote_argv[],
    const struct hl_ssh_io *io, double timeout_s, struct hl_err *e);

#endif
