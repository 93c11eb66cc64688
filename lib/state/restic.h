/*
 * Where a host's data goes (lab.yaml capture.restic), for L3, which sets
 * the host up for it, and for capture, which runs restic there.  A host
 * captures data when the lab has capture.restic, the host has data paths
 * (its own or its stacks') and is not the repository host itself.  With
 * `repository: sftp:NAS`, the host reaches its own directory on NAS as
 * the Unix user restic-NAME, with a key hl makes under .hl/restic/; with
 * a path, the repository is on the host's own disk.
 */
#ifndef HL_RESTIC_H
#define HL_RESTIC_H

#include <jv.h>

#include "core/err.h"

struct hl_lab;
struct hl_host;

/* The ssh_config Host name the restic role writes on each client. */
#define HL_RESTIC_SSH_HOST "hl-restic"

struct hl_restic {
	const struct hl_host *nas;	/* the repository host, or NULL */
	char *repository;	/* restic's -r on the host: sftp:hl-restic:/repo
				 * or the path */
	char *user;		/* the host's Unix user on the NAS */
	char *key;		/* ROOT/.hl/restic/NAME: its private key */
	char *password_env;	/* the operator's variable with the password */
};

/* 1 and r filled when h captures data (hj: its hl_spec_host_json,
 * borrowed), else 0 (r zeroed).  Free r with hl_restic_free() either
 * way. */
int hl_restic_client(const struct hl_lab *lab, const struct hl_host *h,
    jv hj, struct hl_restic *r);
void hl_restic_free(struct hl_restic *r);

/* Each client's key for the NAS, made where missing (ssh-keygen, ed25519,
 * no passphrase, in .hl/restic/, mode 0600); 0, or -1 with e. */
int hl_restic_keys(const struct hl_lab *lab, struct hl_err *e);

#endif
