/*
 * What hl last did to each host, per layer: .hl/hosts/HOST.json, written
 * by the tools that change a host (hl-vm apply and destroy: L2;
 * hl-converge apply: L3; hl-deploy apply: L4; hl-capture data, restore,
 * verify: capture, restore, verify) and read by hl-validate drift and
 * just status without contacting anything.
 *
 *   {"L3": {"applied": {commit, dirty, at, ...}, "last": {ok, code, at,
 *    commit, ...}}, ...}
 *
 * applied is the last run that succeeded, last the last run whatever it
 * did; a section's other members are the record's (a snapshot id, ...).
 */
#ifndef HL_HOSTREC_H
#define HL_HOSTREC_H

#include <jv.h>

#include "core/err.h"

struct hl_lab;

/*
 * The run rec (consumed: {ok, ...}) as host's section's last, and as its
 * applied too when rec.ok is true; with clear, applied is removed (the VM
 * is gone: nothing of the layer is applied any more).  The file is
 * rewritten whole, one writer at a time.  0, or -1 with e.
 */
int hl_hostrec_update(const struct hl_lab *lab, const char *host,
    const char *section, jv rec, int clear, struct hl_err *e);

/* host's record ({} when it has none). */
jv hl_hostrec_read(const struct hl_lab *lab, const char *host);

#endif
