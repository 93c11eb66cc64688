/*
 * L0: is the hypervisor ready for the selected hosts?  Read-only checks
 * against the Proxmox API (and the nodes' SSH, and local tools), each
 * {id, status: ok|warn|fail, message, data}.  docs/hl-validate.md lists
 * them and the privilege table.
 */
#ifndef HL_RUNWAY_H
#define HL_RUNWAY_H

#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"

/*
 * Run every check for the picked hosts over p.  Returns {ok, checks,
 * facts} and sets *code: 0 nothing failed, 1 a check failed, 4 the
 * endpoint could not be reached or refused the token (the checks after
 * that one are not run).
 */
jv hl_runway(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_pve *p, const struct hl_pve_cfg *cfg, int *code);

/* The privileges each path needs on Proxmox VE major (8 or 9):
 * {"/pool/<pool>": [...], ...}. */
jv hl_runway_privileges(const struct hl_lab *lab,
    const unsigned char *picked, int major);

#endif
