/*
 * Cloud-init snippets hl puts on a node's snippets storage (DESIGN.md
 * 2.4): the API cannot upload them, so they go over SFTP, the node's host
 * key pinned, into the directory the storage's own configuration names.
 * L1's prepare step (the agent's vendor-data) and L2 (each VM's apt
 * proxy) both put theirs through here.
 */
#ifndef HL_SNIPPET_H
#define HL_SNIPPET_H

#include <stddef.h>
#include <jv.h>

#include "core/err.h"
#include "pve/pve.h"
#include "spec/spec.h"
#include "ssh/ssh.h"

/*
 * The node's SSH as lab.yaml gives it (nodes.<node>.ssh; user root and
 * port 22 unless set), with the lab's .hl/id_ed25519 as identity when it
 * is readable (ident, len bytes, holds its path).  *hold keeps the strings
 * t points into: the caller frees it, on failure too.  Returns 0, or -1
 * with e (HL_E_LAB) when lab.yaml gives no address or host key.
 */
int hl_snippet_target(const struct hl_lab *lab, const char *node,
    struct hl_ssh_target *t, jv *hold, char *ident, size_t len,
    struct hl_err *e);

/*
 * The directory on the nodes that holds storage's snippets, into out:
 * "<path>/snippets", path from the storage's configuration (GET
 * /storage/{storage}, which PVE lets only Datastore.Allocate on
 * /storage/<storage> read).  Where that read is refused and the storage
 * is "local", PVE's own /var/lib/vz/snippets (the installer's path for
 * it); for any other storage a refusal is HL_E_AUTH naming the
 * privilege.  A storage without a path (not a file storage) is
 * HL_E_FAILED.  Returns 0, or -1 with e.
 */
int hl_snippet_dir(struct hl_pve *p, const char *storage, char *out,
    size_t len, struct hl_err *e);

/*
 * Whether storage on node lists snippets/file among its content: 1 or 0,
 * or -1 with e.
 */
int hl_snippet_exists(struct hl_pve *p, const char *node, const char *storage,
    const char *file, struct hl_err *e);

/*
 * The snippet's text: "#cloud-config", "# comment", then doc (borrowed)
 * as JSON, which YAML reads as the same values, so no value can change
 * the document's shape.  A new string.
 */
jv hl_snippet_text(const char *comment, jv doc);

/*
 * Put text (borrowed, from hl_snippet_text) as dir/file on node over
 * SFTP (strict host key), under a temporary name renamed over the file: a
 * guest starting meanwhile reads the old text or the new one, never
 * half.  Returns 0, or -1 with e (HL_E_LAB, HL_E_SSH, HL_E_USAGE for a
 * path sftp cannot take).
 */
int hl_snippet_put(const struct hl_lab *lab, const char *node,
    const char *dir, const char *file, jv text, struct hl_err *e);

#endif
