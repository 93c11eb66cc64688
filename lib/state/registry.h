/*
 * The template registry L1 writes and L0 and L2 read (DESIGN.md 2.1):
 * layers/L1/artifacts/<name>/<node>/<id>.json, one per build, and
 * layers/L1/channels.yaml, which artifact each channel points to per node.
 */
#ifndef HL_REGISTRY_H
#define HL_REGISTRY_H

#include <stddef.h>

#include <jv.h>

#include "core/err.h"
#include "spec/spec.h"

/* Every artifact of name on node (or every node when NULL), oldest first:
 * [{id, node, file, ...the artifact file}]. */
jv hl_registry_artifacts(const struct hl_lab *lab, const char *name,
    const char *node);

/* One artifact (layers/L1/artifacts/NAME/NODE/ID.json) with id, node and
 * file added, or null. */
jv hl_registry_artifact(const struct hl_lab *lab, const char *name,
    const char *node, const char *id);

/* layers/L1/channels.yaml: {NAME: {CHANNEL: {NODE: ARTIFACT}}}, or {}. */
jv hl_registry_channels(const struct hl_lab *lab);

/* The artifact id channel points to for node, or NULL (malloc'ed);
 * channels borrowed. */
char *hl_registry_channel_artifact(jv channels, const char *name,
    const char *channel, const char *node);

/* The artifact the channel of host h's template points to on node (NULL:
 * the host's own node), or NULL (malloc'ed).  h is a host's configuration
 * as hl_spec_host_json gives it; both borrowed. */
char *hl_registry_host_artifact(jv channels, jv h, const char *node);

/* The definition's digest: SHA-256 of its normalised JSON (64 hex and a
 * NUL in out). */
void hl_registry_digest(const struct hl_lab *lab, const char *name,
    char *out);

/* A new artifact's id: now, UTC, YYYYmmddTHHMMSSZ. */
void hl_registry_new_id(char *out, size_t len);

/* What every artifact records, however its template was made: {id,
 * template, node, vmid, digest, source (consumed), storage, created_at
 * (now), spec_commit (null when commit is), tool_version}; the maker adds
 * its own fields. */
struct hl_registry_made {
	const char *id, *template, *node, *digest, *storage;
	int vmid;
	const char *commit, *version;
};
jv hl_registry_artifact_new(const struct hl_registry_made *m, jv source);

/* The artifact a (borrowed: its template, node and id name the file)
 * written to layers/L1/artifacts/TEMPLATE/NODE/ID.json, its directories
 * made; 0, or -1 with e. */
int hl_registry_write(const struct hl_lab *lab, jv a, struct hl_err *e);

#endif
