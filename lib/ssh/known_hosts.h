/*
 * The lab's .hl/known_hosts (DESIGN.md 2.3, 2.4): one entry per host,
 * under its name as HostKeyAlias, written only from keys hl read through
 * the Proxmox API (or the spec, for external hosts).  Every SSH connection
 * L3, L4 and capture make trusts this file and nothing else.
 */
#ifndef HL_KNOWN_HOSTS_H
#define HL_KNOWN_HOSTS_H

#include <stddef.h>

#include "core/err.h"

/*
 * Replace host's entries with keys: "TYPE BASE64" lines, each written as
 * "HOST TYPE BASE64" (NULL or "" drops the host).  Under the file's lock,
 * so hosts applied at once take turns; the file is replaced in one step,
 * mode 0600.  Returns 0, or -1 with e (HL_E_USAGE for a key line that is
 * not "TYPE BASE64", HL_E_INTERNAL when the file cannot be written).
 */
int hl_known_hosts_set(const char *root, const char *host, const char *keys,
    struct hl_err *e);

/*
 * The address a host was last seen at (a DHCP lease L2 read through the
 * guest agent), in .hl/addresses: "HOST ADDRESS" lines, written as
 * known_hosts is (NULL or "" drops the host).  L3, L4 and capture reach a
 * host without a fixed address there.
 */
int hl_known_hosts_set_address(const char *root, const char *host,
    const char *address, struct hl_err *e);

/* The address recorded for host (malloc'ed), or NULL. */
char *hl_known_hosts_address(const char *root, const char *host);

#endif
