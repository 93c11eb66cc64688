/*
 * L4 (hl-deploy): each host's Compose stacks deployed over SSH, only what
 * changed, proven healthy, rolled back when not.
 *
 * A stack's release for a host is its files and the rendered environment
 * (the host's env, and the stack's secrets from the operator's
 * environment), named by a digest of them: the secrets enter it as an
 * HMAC under the lab's own key (.hl/deploy-key), so a rotated secret
 * redeploys and the digest tells nothing.  The host side is a Python
 * script run over ssh (agent.py), never installed: releases live in
 * /opt/hl/stacks/NAME/releases/DIGEST/, current points at one, the last
 * three are kept.  Secrets travel only in the release's .env, inside the
 * tar stream on ssh's stdin.  docs/hl-deploy.md.
 */
#ifndef HL_DEPLOY_H
#define HL_DEPLOY_H

#include <jv.h>

#include "core/err.h"
#include "core/progress.h"

struct hl_lab;

struct hl_dp_opts {
	int exit_code;		/* plan: 1 when anything would change */
	int force;		/* apply: redeploy unchanged stacks too */
	int prune;		/* apply: bring orphans down (with yes) */
	int yes;
	int parallel;		/* hosts at a time (0: 8) */
	const char *commit;	/* HEAD, recorded on the host */
	int dirty;
	const struct hl_progress *progress;
};

/*
 * Every secret the picked hosts' stacks need, checked in the operator's
 * environment before any host is touched: 0, or -1 with e (HL_E_LAB,
 * naming the first missing variable, never a value).
 */
int hl_dp_secrets(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_err *e);

/*
 * plan: per host and stack, deploy (new or changed: which files, which
 * env keys), unchanged, unhealthy or orphan; one ssh call per host.
 * {hosts: [{name, stacks: [{name, action, digest, current, files, env,
 * problems}]}]}.
 */
int hl_dp_plan(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_dp_opts *o, jv *res, struct hl_err *e);

/*
 * apply: what plan says, done: each changed (or unhealthy, or with force
 * every) stack released, switched to, brought up and health-gated, the
 * previous release put back when the gate fails.  Orphans are reported;
 * with prune and yes brought down (their data and volumes kept).
 */
int hl_dp_apply(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_dp_opts *o, jv *res, struct hl_err *e);

#endif
