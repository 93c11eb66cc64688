/*
 * Drift (hl-validate drift): which layers each host needs again since the
 * commit each last applied, from Git alone.
 *
 * The commit each layer last applied comes from .hl/hosts/HOST.json
 * (state/hostrec.h: what hl-vm apply, hl-converge apply and hl-deploy
 * apply recorded when they succeeded).  The lab's files changed between
 * that commit and HEAD (libgit2 tree diffs) are mapped to the layer that
 * must run again for the host:
 *
 *   lab.yaml and the host's persona, by the keys of the host's effective
 *     configuration that differ (the specs at that commit loaded beside
 *     today's): roles, vars, persona: L3; stacks, env: L4; data and
 *     boot_capture: none (capture reads them when it runs); tags: L2 and
 *     L3; the rest (template, cores, ip...): L2;
 *   the host's template's definition, or the artifact its channel gives
 *     (layers/L1/channels.yaml): L2, a rebuild (template drift);
 *   files of the host's roles (layers/L3/roles/NAME/): L3;
 *   files of the host's stacks (layers/L4/stacks/NAME/): L4.
 *
 * A layer never applied is needed whole.  With live, the tools' own view
 * of each host is added: hl-vm plan, hl-converge check and hl-deploy plan
 * (bindir's), run once each for the selected hosts.
 */
#ifndef HL_DRIFT_H
#define HL_DRIFT_H

#include <jv.h>

#include "core/err.h"
#include "core/progress.h"

struct hl_lab;

struct hl_drift_opts {
	const char *head;	/* HEAD's commit (the run's Git state) */
	int live;		/* ask the hosts too */
	const char *bindir;	/* live: where hl-vm, ... are */
	const struct hl_progress *progress;
};

/*
 * {head, hosts: [{name, layers: {L2: {applied, files, keys, action},
 * L3: ..., L4: ...}, rebuild_suggested[, live]}]} for each picked host
 * (action: none, apply, rebuild, converge or deploy; files: the changed
 * files behind it; keys: the configuration keys that changed).  Returns
 * 0 when no layer of any host needs anything, 1 when one does, or the
 * exit status of a failure with e (a commit Git cannot read, a live
 * tool that failed to answer).
 */
int hl_drift(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_drift_opts *o, jv *res, struct hl_err *e);

#endif
