/*
 * L3 (hl-converge): each host's OS converged by Ansible from the specs.
 *
 * The inventory comes from the same specs as the VMs: each host's address
 * (its declared ip, the address L2 recorded for a DHCP host, an external
 * host's declared address), its user and the lab's key, SSH pinned to
 * .hl/known_hosts under its name, its roles and vars.  A run writes
 * Ansible's whole setting (ansible.cfg, the inventory, the playbook) into
 * a directory of its own below .hl/converge/, runs ansible-playbook with
 * an environment that holds nothing of the operator's Ansible settings
 * and no Proxmox secret, reads its JSON-lines output as it comes, and
 * removes the directory (its SSH control sockets with it) at the end.
 * docs/hl-converge.md.
 */
#ifndef HL_CONVERGE_H
#define HL_CONVERGE_H

#include <jv.h>

#include "core/err.h"
#include "core/progress.h"

struct hl_lab;

/*
 * The dynamic inventory for the hosts picked[] marks (Ansible's script
 * protocol, --list): {_meta: {hostvars}, all: {children}, GROUP: {hosts}}
 * with groups persona_NAME, tag_NAME and node_NAME.  A host with no
 * address to reach it at (DHCP, none recorded yet) is left out, with a
 * warning to progress.  Returns the document, or jv_invalid() with e.
 */
jv hl_cv_inventory(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_progress *progress, struct hl_err *e);

enum hl_cv_mode {
	HL_CV_APPLY,		/* converge, and record the commit on the host */
	HL_CV_CHECK,		/* check mode with diffs: what would change */
};

struct hl_cv_opts {
	enum hl_cv_mode mode;
	int forks;			/* 0: 8 */
	int exit_code;			/* check: 1 when anything drifted */
	const char *tags;		/* NULL, or Ansible's --tags: only the
					 * roles' tasks so tagged run, and
					 * nothing is recorded on the host */
	const char *commit;		/* HEAD, recorded on each host */
	int dirty;			/* the specs have uncommitted changes */
	const struct hl_progress *progress;
};

/*
 * Converge (or check) the picked hosts in one ansible-playbook run: each
 * host gets exactly its roles, in declared order.  *res is {hosts: [{name,
 * ok, changed, failed, unreachable, skipped, duration_s, changed_tasks,
 * failed_tasks[, drift]}], ansible} (ansible: its version).  Returns the
 * exit status: 0; 1 for drift with exit_code; 4 when a host was not
 * reached or its host key is not the one in .hl/known_hosts; 5 when a
 * task failed (or ansible-playbook itself); e says why.
 */
int hl_cv_run(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_cv_opts *o, jv *res, struct hl_err *e);

enum hl_cv_power {
	HL_CV_REBOOT,
	HL_CV_SHUTDOWN,
};

struct hl_cv_power_opts {
	enum hl_cv_power what;
	int yes;			/* without it: list, refuse (6) */
	int dry_run;			/* what would be done, exit 0 */
	int only_if_needed;		/* reboot: /var/run/reboot-required */
	double timeout;			/* reboot, per host: back on ssh
					 * (0: 600 s); shutdown: the clean
					 * shutdown's time before PVE stops
					 * the VM (0: 60 s) */
	const struct hl_progress *progress;
};

struct hl_pve;

/*
 * Reboot the picked hosts' VMs through Proxmox (POST .../status/reboot),
 * one at a time in name order, or shut them down (.../status/shutdown,
 * stopped by PVE after the timeout, 60 s by default).  The hosts declaring one reboot_batch go
 * together, each in a forked process of its own: the batch is one step
 * of the order, at its first host's place.  Only a VM hl made for the host (tag and
 * marker) is touched; an external host, or a VM of its name that is not
 * hl's, is refused (6).  A reboot needs the host to answer ssh with its
 * key in .hl/known_hosts first (with only_if_needed: to say it has
 * /var/run/reboot-required), and is done once the reboot task ended, the
 * host answers ssh with that key again and the VM's uptime began after
 * the request; a host that fails (another host key: 4; no answer within
 * the timeout: 5) stops the run, the hosts after it (and its batch) are
 * skipped.  Without
 * yes (or with dry_run) nothing changes: the hosts are listed as
 * would_reboot or would_shut_down, and without dry_run the status is 6
 * when any would be.
 *
 * *res is {hosts: [{name, batch, node, vmid, action, reason, away_s}],
 * dry_run?}, the hosts in the order they were handled;
 * action "rebooted", "shut_down", "skipped", "would_reboot",
 * "would_shut_down" or "failed" (with error: {message, code, reason});
 * a rebooted host also has requested_at and back_at (UTC, ms) and away_s
 * (seconds from the request until ssh answered).  Returns the exit
 * status, the worst over the hosts; *res null and e when nothing could be
 * read from Proxmox.
 */
int hl_cv_power(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cv_power_opts *o, jv *res,
    struct hl_err *e);

#endif
