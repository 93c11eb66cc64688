/*
 * Ownership (DESIGN.md 2.4): every VM and template hl makes carries the
 * tag hl-<labid> and a description marker "hl: lab=ID host=... ...", both
 * passed in the create or clone call.  Built, read and checked here only:
 * what hl destroys (hl-vm destroy, hl-template gc, an interrupted build's
 * clean-up) must pass hl_owner_is first.
 */
#ifndef HL_OWNER_H
#define HL_OWNER_H

#include <stddef.h>
#include <jv.h>

#include "core/err.h"

struct hl_pve;

/* "hl-<labid>" into out (len bytes). */
void hl_owner_tag(const char *labid, char *out, size_t len);

/* Whether tags (PVE's list, ';', ',' or ' ' between tags; NULL for none)
 * holds tag. */
int hl_owner_has_tag(const char *tags, const char *tag);

/* Whether tags holds the lab's tag. */
int hl_owner_tagged(const char *tags, const char *labid);

/*
 * The description marker: "hl: lab=LABID" then each " KEY=VALUE" of the
 * NULL-ended pairs (a NULL value is written "none"), into out (len bytes).
 */
void hl_owner_marker(char *out, size_t len, const char *labid, ...)
	__attribute__((sentinel));

/* KEY's value in desc's marker (malloc'ed), or NULL when desc has no
 * marker or the marker no KEY. */
char *hl_owner_get(const char *desc, const char *key);

/*
 * Whether the VM whose resource entry is vm (its tags) and whose config is
 * conf (its description) is hl's for this lab, and, when key is not NULL,
 * its marker says key=value ("host", "web01"; "template", "debian-12").
 * Both borrowed.
 */
int hl_owner_is(jv vm, jv conf, const char *labid, const char *key,
    const char *value);

/*
 * hl's VM for host among vms (GET /cluster/resources?type=vm, borrowed):
 * named so, not a template, with the lab's tag, and (its config read) the
 * marker of this lab and host.  *vm gets its resource entry (node, vmid)
 * whenever one was found; the caller frees it.  Returns 0, or -1 with e:
 * HL_E_FAILED when there is none, HL_E_REFUSED when the VM of that name
 * is not hl's, or the config read's error.
 */
int hl_owner_find(struct hl_pve *p, jv vms, const char *labid,
    const char *host, jv *vm, struct hl_err *e);

#endif
