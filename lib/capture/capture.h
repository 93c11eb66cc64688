/*
 * Capture (hl-capture): each host's durable data kept with restic, run on
 * the host over SSH, its repository where lab.yaml's capture.restic says
 * (state/restic.h).  The repository password comes from the operator's
 * environment and reaches only restic on the host, on its stdin
 * (--password-file /dev/stdin): never an argument, a log or a file.
 *
 * The guard: a host's data is captured only when it is authoritative, a
 * marker (/var/lib/hl/capture.json, root only) that restore or init
 * writes; a freshly made host without it is refused, so its empty data
 * never becomes the newest snapshot.  docs/hl-capture.md.
 */
#ifndef HL_CAPTURE_H
#define HL_CAPTURE_H

#include <jv.h>

#include "core/err.h"
#include "core/progress.h"

struct hl_lab;
struct hl_pve;

enum hl_cp_verb { HL_CP_DATA, HL_CP_INIT, HL_CP_RESTORE, HL_CP_LIST,
	HL_CP_VERIFY, HL_CP_FORGET, HL_CP_BOOT, HL_CP_BOOT_LIST,
	HL_CP_BOOT_RESTORE };

struct hl_cp_opts {
	enum hl_cp_verb verb;
	const char *snapshot;	/* restore: an ID, or NULL / "latest" */
	const char *volid;	/* boot-restore, boot --as-template: a
				 * capture, or NULL / "latest" */
	const char *as_template; /* boot: make that template of the capture */
	const char *version;	/* the tool's, in an artifact */
	int yes;		/* init, restore, forget: do it */
	int subset;		/* verify: read this percent of the data
				 * (0: all) */
	int parallel;		/* hosts at a time (0: 4) */
	const char *commit;	/* HEAD, a tag of each snapshot */
	const struct hl_progress *progress;
};

/*
 * The password each picked host that captures data needs, checked in the
 * operator's environment before any host is touched: 0, or -1 with e
 * (HL_E_LAB, naming the variable).
 */
int hl_cp_password(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_err *e);

/*
 * The verb on each picked host that captures data, hosts in parallel:
 * {hosts: [{name, ...}]}, the exit status the worst of the hosts'.
 *   data     restic backup of its data paths, tagged; refused (6) without
 *            the marker;
 *   init     the marker written, the data as it is authoritative (yes);
 *   restore  the snapshot (o->snapshot) put back over the data paths,
 *            then the marker; without yes, refused (6) when the host
 *            already holds data;
 *   list     its snapshots;
 *   verify   restic check reading the data, and a restore drill of the
 *            latest snapshot compared with restic's list of it (1 when
 *            either finds a problem);
 *   forget   the keep policy, pruned (a dry run without yes).
 */
int hl_cp_run(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_cp_opts *o, jv *res, struct hl_err *e);

/*
 * The boot-disk verbs (boot.c), through the Proxmox API, on each picked
 * host with boot_capture (others: action none), its VM hl's by tag and
 * marker:
 *   boot          vzdump to lab.yaml's capture.boot storage ({volid,
 *                 size, pruned: what went past keep}); with as_template,
 *                 no vzdump: the capture o->volid (latest by default)
 *                 becomes a template of that name and its artifact (the
 *                 definition's source.boot_capture names the host);
 *   boot-list     its captures there, oldest first;
 *   boot-restore  the capture o->volid (latest by default) restored over
 *                 the VM (yes), its vmid and MAC kept, started and waited
 *                 for.
 */
int hl_cp_boot(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cp_opts *o, jv *res,
    struct hl_err *e);

#endif
