/* Inside the Proxmox VE client: shared by pve.c, request.c, batch.c,
 * cfg.c and task.c. */
#ifndef HL_PVE_IMPL_H
#define HL_PVE_IMPL_H

#include <curl/curl.h>

#include "core/buf.h"
#include "pve/pve.h"

struct hl_pve {
	struct hl_pve_cfg cfg;	/* copied; no token (it is in headers) */
	struct curl_slist *headers;	/* the first holds the token */
	CURLSH *share;		/* one connection cache for every handle */
	CURL *easy;		/* sequential calls reuse it */
	char seen_fp[200];	/* a certificate that failed the pin */
	int identity_ok;	/* the cluster is the one lab.yaml names */
	char cluster_seen[256];
};

/* One transfer's reply as it arrives. */
struct hl_pve_xfer {
	struct hl_buf body;
	char reason[512];
	char curlerr[CURL_ERROR_SIZE];
	int status;
};

int hl_pve_setup(struct hl_pve *p, CURL *c, struct hl_pve_xfer *x,
    struct hl_err *e);
void hl_pve_url(const struct hl_pve *p, struct hl_buf *b, const char *path,
    const char *query);
int hl_pve_result(struct hl_pve *p, struct hl_pve_xfer *x, CURLcode cc,
    long status, const char *what, jv *data, struct hl_err *e);
void hl_pve_backoff(int attempt);

/* The condition a text of PVE's names ("got timeout": HL_E_LOCKED;
 * "already exists": HL_E_EXISTS; "shrinking disks is not supported":
 * HL_E_SHRINK), or HL_E_NONE. */
enum hl_reason hl_pve_condition(const char *text);

/* Tries of a call, the first included. */
#define HL_PVE_ATTEMPTS 4

/* Whether a transfer's failure was the TLS handshake's. */
int hl_pve_tls_error(CURLcode cc);

/* Whether a call of kind that ended in rc and e may be tried again. */
int hl_pve_retryable(enum hl_pve_kind kind, int rc, int status,
    const struct hl_err *e);

#endif
