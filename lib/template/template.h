/*
 * L1: OS templates as versioned artifacts, per node (docs/hl-template.md).
 *
 * A build downloads the definition's source (through the lab's mirror
 * map) to the node's import storage under a checksum-prefixed name,
 * creates a VM importing it with a cloud-init drive, the agent, a serial
 * console, tag hl-<labid> and the description marker, prepares it (agent:
 * install: vendor-data over SFTP, one boot, cloud-init clean), converts it
 * to a template and records the artifact in
 * layers/L1/artifacts/<name>/<node>/<id>.json.
 */
#ifndef HL_TEMPLATE_H
#define HL_TEMPLATE_H

#include <jv.h>

#include "pve/pve.h"
#include "spec/spec.h"

struct hl_tpl_opts {
	int force;		/* build even when the digest is built */
	double timeout;		/* agent and task waits, seconds (0: defaults) */
	const struct hl_progress *progress;	/* notes as it goes, or NULL */
	const char *commit;	/* the spec commit, recorded in the artifact */
	const char *version;	/* the tool's version, recorded too */
	int dry_run;		/* every read and check, nothing changed */
};

/*
 * Build template name on node.  Returns 0 with *out {node, action:
 * built|exists, artifact, vmid, ...}, or -1 with e (5: a task, the agent,
 * a timeout; 4: the node's SSH; 6: another cluster; 1: the definition or
 * storages do not allow it).  What a failed build made is removed.
 * With o->dry_run: the reads and checks up to the create (what is built,
 * storages, the node's SSH key, the import file, a free vmid, the
 * cluster), then *out {action: would_build, vmid, digest, source,
 * import_volume, download}; nothing is sent that changes anything.
 */
int hl_tpl_build(struct hl_pve *p, const struct hl_lab *lab, const char *name,
    const char *node, const struct hl_tpl_opts *o, jv *out, struct hl_err *e);

/* 0 when the lab defines template name, else -1 with e (HL_E_LAB). */
int hl_tpl_known(const struct hl_lab *lab, const char *name,
    struct hl_err *e);

/*
 * The nodes a build of name goes to: node; else, with all, every node a
 * VM host using the template sits on; else defaults.node.  Returns 0 with
 * *nodes (an array of names), or -1 with e (HL_E_USAGE) when there is none.
 */
int hl_tpl_nodes(const struct hl_lab *lab, const char *name, const char *node,
    int all, jv *nodes, struct hl_err *e);

/*
 * Build name on each of nodes (consumed).  One node's failure does not
 * stop the others: it is noted to o->progress, and its entry is {node,
 * action: failed, error}.  *result {templates: [{name, node, action,
 * ...}]}; returns the worst exit status.
 */
int hl_tpl_build_nodes(struct hl_pve *p, const struct hl_lab *lab,
    const char *name, jv nodes, const struct hl_tpl_opts *o, jv *result);

/* hl-template list: *doc {templates: [{name, artifacts: [{..., exists,
 * clones}], channels}]}; returns the exit status, with e on failure. */
int hl_tpl_list(struct hl_pve *p, const struct hl_lab *lab, const char *only,
    jv *doc, struct hl_err *e);

/* How promote, rollback and gc go about it. */
enum hl_tpl_flags {
	HL_TPL_COMMIT = 1 << 0,		/* commit the files they change */
	HL_TPL_YES = 1 << 1,		/* gc: remove what it lists */
	HL_TPL_DRY_RUN = 1 << 2,	/* every read and check, nothing
					 * written, committed or removed */
};

/*
 * Point channel at an artifact (the one named, else the newest) on node,
 * or without node on every node that has an artifact of its definition
 * digest; rollback: the artifact before the current one.  Both write
 * layers/L1/channels.yaml and, with HL_TPL_COMMIT, commit it with the
 * artifacts.  With HL_TPL_DRY_RUN they write nothing and commit nothing
 * (whether a commit would be refused is still checked); the document says
 * dry_run: true.  *doc {template, channel, nodes, previous, commit}, or
 * null with e; the exit status is returned.
 */
int hl_tpl_promote(const struct hl_lab *lab, const char *name,
    const char *node, const char *channel, const char *artifact,
    unsigned flags, const struct hl_progress *progress, jv *doc,
    struct hl_err *e);
int hl_tpl_rollback(const struct hl_lab *lab, const char *name,
    const char *node, const char *channel, unsigned flags,
    const struct hl_progress *progress, jv *doc, struct hl_err *e);

/*
 * The templates and artifact files of only (or every template) that no
 * channel points to, no VM depends on (linked clones), and that are not
 * among the keep newest of their node.  Without HL_TPL_YES: listed, exit
 * 6 with e saying so.  With it: the templates destroyed, the files
 * removed and, with HL_TPL_COMMIT, committed.  With HL_TPL_DRY_RUN (yes
 * or not): listed, exit 0, dry_run: true, the cluster and the commit
 * checked as the removal would be.  *doc {gc: [...], applied, commit},
 * or null with e.  Returns the exit status.  progress: notes, or NULL.
 */
int hl_tpl_gc(struct hl_pve *p, const struct hl_lab *lab, const char *only,
    int keep, unsigned flags, const struct hl_progress *progress, jv *doc,
    struct hl_err *e);

#endif
