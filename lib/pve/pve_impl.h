/* Inside the Proxmox VE client: shared by pve.c, pve_cfg.c, pve_task.c. */
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
	enum hl_pve_fail last;	/* of the last hl_pve_call */
	int identity_ok;	/* the cluster is the one lab.yaml names */
	char cluster_seen[256];
};

/* One transfer's reply as it arrives. */
struct hl_pve_xfer {
	struct hl_buf body;
	char reason[512];
	char curlerr[CURL_ERROR_SIZE];
	int status;
	enum hl_pve_fail fail;
};

int hl_pve_setup(struct hl_pve *p, CURL *c, struct hl_pve_xfer *x,
    struct hl_err *e);
void hl_pve_url(const struct hl_pve *p, struct hl_buf *b, const char *path,
    const char *query);
int hl_pve_result(struct hl_pve *p, struct hl_pve_xfer *x, CURLcode cc,
    long status, const char *what, jv *data, struct hl_err *e);
void hl_pve_backoff(int attempt);

#endif
