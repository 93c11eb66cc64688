/*
 * Internal to the deploy room: a stack's release for a host (release.c),
 * the host side reached over ssh (agent.c), plan and apply (deploy.c).
 */
#ifndef HL_DEPLOY_IMPL_H
#define HL_DEPLOY_IMPL_H

#include <jv.h>

#include "core/buf.h"
#include "core/err.h"
#include "deploy/deploy.h"
#include "state/reach.h"

struct dp_release {
	char digest[24];
	char *compose;		/* the Compose file's name */
	jv probes;		/* [{service, http|tcp|command}] */
	double timeout;		/* the health gate's, in seconds */
	jv manifest;		/* what .hl-release.json says */
	struct hl_buf tar;	/* files, .env, .hl-release.json */
};

/* The release of stack for host (its hl_spec_host_json); secrets from
 * the environment (a missing one: HL_E_LAB).  0 or -1 with e. */
int dp_release(const struct hl_lab *lab, jv host, const char *stack,
    struct dp_release *rel, struct hl_err *e);
void dp_release_free(struct dp_release *rel);

/*
 * Run the host side's verb (state, deploy, prune) on r's host as root:
 * req (consumed) as stdin's first line, then payload (may be NULL).
 * *res is its JSON answer.  Returns 0, or -1 with e: HL_E_SSH when the
 * host was not reached or its key did not verify, HL_E_FAILED when the
 * host side failed or answered nothing readable.
 */
int dp_agent(const struct hl_reach *r, const char *verb, jv req,
    const struct hl_buf *payload, double timeout, jv *res, struct hl_err *e);

#endif
