/*
 * hl-converge: L3, each host's OS converged by Ansible from the specs.
 *
 *   hl-converge inventory [SELECTOR...] [--list | --host NAME]
 *   hl-converge apply [SELECTOR...] [--parallel N] [--tags T] [--dry-run]
 *   hl-converge check [SELECTOR...] [--exit-code] [--parallel N] [--tags T]
 *   hl-converge reboot SELECTOR... [--only-if-needed] [--yes | --dry-run]
 *   hl-converge shutdown SELECTOR... [--timeout S] [--yes | --dry-run]
 *
 * One JSON document on stdout (--list and --host: Ansible's inventory
 * protocol, as Ansible reads it).  See docs/hl-converge.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"
#include "converge/converge.h"
#include "core/exit.h"
#include "core/json.h"
#include "core/num.h"
#include "pve/pve.h"
#include "spec/spec.h"

static const char usage[] =
"usage: hl-converge inventory [SELECTOR...] [--list | --host NAME] [options]\n"
"       hl-converge apply [SELECTOR...] [--parallel N] [--tags T,...]\n"
"                         [--dry-run] [options]\n"
"       hl-converge check [SELECTOR...] [--exit-code] [--parallel N]\n"
"                         [--tags T,...] [options]\n"
"       hl-converge reboot SELECTOR... [--only-if-needed] [--timeout S]\n"
"                          [--yes | --dry-run] [options]\n"
"       hl-converge shutdown SELECTOR... [--timeout S] [--yes | --dry-run]\n"
"                            [options]\n"
"\n"
"inventory  the Ansible inventory of the selected hosts, from the specs:\n"
"           groups persona_NAME, tag_NAME, node_NAME; per host its address,\n"
"           user, the lab's key, SSH pinned to .hl/known_hosts, hl_roles,\n"
"           hl_persona, hl_node, hl_vmid and its vars; prints {inventory,\n"
"           meta}, or with --list (--host NAME) exactly what Ansible's\n"
"           inventory protocol wants (layers/L3/inventory calls it)\n"
"apply      one ansible-playbook run over the selected hosts, each getting\n"
"           exactly its roles in declared order; records the commit\n"
"           applied on each host that converged; prints {hosts, meta}\n"
"check      the same run in check mode with diffs: the tasks that would\n"
"           change are the host's drift; nothing is changed\n"
"reboot     reboot the hosts' VMs through Proxmox one at a time, in name\n"
"           order (the hosts of one reboot_batch together), each back on\n"
"           SSH with the same host key before the next; the first host\n"
"           that fails stops the rest; without --yes, list them (exit\n"
"           6 when any would be rebooted); prints {hosts, meta}\n"
"shutdown   shut the hosts' VMs down through Proxmox, in the same order\n"
"           and batches (stopped hard after --timeout); without --yes,\n"
"           list them (exit 6 when any runs)\n"
"           (both refuse external hosts and VMs that are not hl's: 6)\n"
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all; reboot\n"
"and shutdown need at least one)\n"
"\n"
"options:\n"
"      --list           inventory: Ansible's --list document, nothing more\n"
"      --host NAME      inventory: Ansible's --host document for NAME\n"
"      --parallel N     apply, check: hosts at a time (Ansible's forks, 8)\n"
"      --tags T,...     apply, check: only the roles' tasks with one of these\n"
"                       Ansible tags; a part of each host converged, so\n"
"                       no commit is recorded, on the host or in .hl/hosts\n"
"      --exit-code      check: exit 1 when any host drifted\n"
"      --allow-dirty    apply, reboot, shutdown: go on with uncommitted\n"
"                       spec changes\n"
"      --dry-run        apply: the check run, \"dry_run\": true, exit 0\n"
"                       unless a host fails; reboot, shutdown: what would\n"
"                       be done, no --yes needed\n"
"      --only-if-needed reboot: only hosts with /var/run/reboot-required\n"
"      --timeout S      reboot: wait at most S seconds for each host to\n"
"                       answer SSH again (600); shutdown: the seconds a\n"
"                       clean shutdown gets before Proxmox stops the VM (60)\n"
"      --yes            reboot, shutdown: do it\n"
"      --insecure       reboot, shutdown: do not verify the endpoint's TLS\n"
"                       identity\n"
HL_RUN_OPTIONS_HELP
"\n"
HL_EXIT_TABLE;

enum { OPT_LIST = 0x200, OPT_HOST, OPT_PARALLEL, OPT_EXIT_CODE, OPT_DIRTY,
	OPT_DRY_RUN, OPT_ONLY, OPT_TIMEOUT, OPT_YES, OPT_INSECURE, OPT_TAGS };

struct args {
	const char *verb;
	int list, exit_code, dirty, dry_run, only, yes, insecure, forks;
	const char *host, *tags;
	double timeout;
};

/* --tags: Ansible tag names, comma-separated. */
static int
tags_ok(const char *s)
{
	size_t n;

	for (;;) {
		n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-.");
		if (n == 0 || (s[n] != ',' && s[n] != '\0'))
			return 0;
		if (s[n] == '\0')
			return 1;
		s += n + 1;
	}
}

/* The verb's own options, checked against the verb. */
static int
check_args(struct hl_run *run, const struct args *a, int nsels)
{
	const char *v = a->verb;
	int inv = strcmp(v, "inventory") == 0, apply = strcmp(v, "apply") == 0,
	    check = strcmp(v, "check") == 0, reboot = strcmp(v, "reboot") == 0,
	    power = reboot || strcmp(v, "shutdown") == 0;

	if (!inv && !apply && !check && !power)
		return hl_run_usage(run, "unknown verb '%s' (inventory, apply, "
		    "check, reboot or shutdown)", v);
	if ((a->list || a->host) && !inv)
		return hl_run_usage(run, "--list and --host are for inventory");
	if (a->list && a->host)
		return hl_run_usage(run, "--list or --host, not both");
	if (a->host && nsels > 0)
		return hl_run_usage(run, "--host takes no selectors");
	if (a->forks && !apply && !check)
		return hl_run_usage(run, "--parallel is for apply and check");
	if (a->tags && !apply && !check)
		return hl_run_usage(run, "--tags is for apply and check");
	if (a->exit_code && !check)
		return hl_run_usage(run, "--exit-code is for check");
	if (a->dirty && !apply && !power)
		return hl_run_usage(run, "--allow-dirty is for apply, reboot "
		    "and shutdown");
	if (a->dry_run && !apply && !power)
		return hl_run_usage(run, "--dry-run is for apply, reboot and "
		    "shutdown");
	if (a->only && !reboot)
		return hl_run_usage(run, "--only-if-needed is for reboot");
	if (a->timeout && !power)
		return hl_run_usage(run, "--timeout is for reboot and shutdown");
	if ((a->yes || a->insecure) && !power)
		return hl_run_usage(run, "--yes and --insecure are for reboot "
		    "and shutdown");
	if (power && nsels == 0)
		return hl_run_usage(run, "%s needs selectors (all, to mean all)",
		    v);
	return 0;
}

/* inventory: the protocol's bare document for --list and --host. */
static int
inventory(struct hl_run *run, const struct args *a, struct hl_lab *lab,
    unsigned char *picked)
{
	struct hl_err e = { 0 };
	jv inv = hl_cv_inventory(lab, picked, &run->progress, &e), out;

	if (!jv_is_valid(inv))
		return hl_run_fail(run, &e);
	if (!a->list && !a->host)
		return hl_run_finish(run, jv_object_set(jv_object(),
		    jv_string("inventory"), inv), 0);
	if (a->host)
		out = hl_json_get(hl_json_get(hl_json_get(inv, "_meta"),
		    "hostvars"), a->host);
	else
		out = inv;
	if (jv_get_kind(out) != JV_KIND_OBJECT) {
		jv_free(out);
		hl_err_set(&e, HL_E_USAGE, "--host %s: no such host the "
		    "inventory holds", a->host);
		return hl_run_fail(run, &e);
	}
	/* for Ansible, not for people: keys as they come, not sorted */
	out = jv_dump_string(out, 0);
	if (puts(jv_string_value(out)) == EOF || fclose(stdout) != 0) {
		jv_free(out);
		return HL_EXIT_INTERNAL;
	}
	jv_free(out);
	return 0;
}

/* apply and check: meta.ansible, and the error of a run that failed. */
static int
converge(struct hl_run *run, const struct args *a, struct hl_lab *lab,
    unsigned char *picked)
{
	struct hl_cv_opts o = { .forks = a->forks, .exit_code = a->exit_code,
		.tags = a->tags, .progress = &run->progress };
	struct hl_err e = { 0 };
	jv res, meta;
	int code;

	o.mode = strcmp(a->verb, "check") == 0 || a->dry_run ? HL_CV_CHECK :
	    HL_CV_APPLY;
	o.commit = hl_json_get_str(run->git, "commit");
	o.dirty = hl_json_get_kind(run->git, "dirty") == JV_KIND_TRUE;
	if (o.mode == HL_CV_APPLY && hl_run_mutate(run, lab->root, a->dirty,
	    &e) < 0)
		return hl_run_fail(run, &e);
	code = hl_cv_run(lab, picked, &o, &res, &e);
	if (!jv_is_valid(res) || jv_get_kind(res) != JV_KIND_OBJECT)
		return hl_run_result(run, code, res, &e);
	meta = jv_object_set(jv_object(), jv_string("ansible"),
	    hl_json_get(jv_copy(res), "ansible"));
	if (a->tags)
		meta = jv_object_set(meta, jv_string("tags"),
		    jv_string_split(jv_string(a->tags), jv_string(",")));
	res = jv_object_set(jv_object_delete(res, jv_string("ansible")),
	    jv_string("meta"), meta);
	if (a->dry_run) {
		res = jv_object_set(res, jv_string("dry_run"), jv_true());
		if (code == 1)
			code = 0;
	}
	if (code > 1) {
		res = jv_object_set(res, jv_string("error"), hl_json_err(&e));
		hl_note(&run->progress, HL_NOTE_ERROR, NULL, "%s", e.msg);
	}
	/* a part of each host's roles converges nothing whole */
	if (o.mode == HL_CV_APPLY && a->tags == NULL)
		hl_run_record(run, lab, "L3", res, (const char *const []){
		    "changed", "failed", "unreachable", NULL }, 0);
	return hl_run_result(run, code, res, &e);
}

/* reboot and shutdown, through Proxmox. */
static int
power(struct hl_run *run, const struct args *a, struct hl_lab *lab,
    unsigned char *picked)
{
	struct hl_cv_power_opts o = { .yes = a->yes, .dry_run = a->dry_run,
		.only_if_needed = a->only, .timeout = a->timeout,
		.progress = &run->progress };
	struct hl_err e = { 0 };
	struct hl_pve *p = NULL;
	jv res;
	int code;

	o.what = strcmp(a->verb, "reboot") == 0 ? HL_CV_REBOOT :
	    HL_CV_SHUTDOWN;
	if ((a->yes && !a->dry_run && hl_run_mutate(run, lab->root, a->dirty,
	    &e) < 0) || hl_pve_connect(&p, lab, a->insecure, &run->progress,
	    &e) < 0)
		return hl_run_fail(run, &e);
	code = hl_cv_power(p, lab, picked, &o, &res, &e);
	hl_pve_close(p);
	return hl_run_result(run, code, res, &e);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "list", no_argument, NULL, OPT_LIST },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "exit-code", no_argument, NULL, OPT_EXIT_CODE },
		{ "allow-dirty", no_argument, NULL, OPT_DIRTY },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "only-if-needed", no_argument, NULL, OPT_ONLY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ 0 } };
	struct args a = { 0 };
	struct hl_run run;
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	int opt, nsels, code;

	hl_run_init(&run, "hl-converge");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:h", longopts, usage,
	    &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		if (opt == OPT_LIST)
			a.list = 1;
		else if (opt == OPT_HOST)
			a.host = optarg;
		else if (opt == OPT_EXIT_CODE)
			a.exit_code = 1;
		else if (opt == OPT_DIRTY)
			a.dirty = 1;
		else if (opt == OPT_DRY_RUN)
			a.dry_run = 1;
		else if (opt == OPT_ONLY)
			a.only = 1;
		else if (opt == OPT_YES)
			a.yes = 1;
		else if (opt == OPT_INSECURE)
			a.insecure = 1;
		else if (opt == OPT_TAGS) {
			if (!tags_ok(optarg))
				return hl_run_usage(&run, "--tags needs Ansible "
				    "tag names, comma-separated (letters, "
				    "digits, '_', '-', '.')");
			a.tags = optarg;
		} else if (opt == OPT_PARALLEL) {
			if (hl_num_int(optarg, 1, 64, &a.forks) < 0)
				return hl_run_usage(&run, "--parallel needs a "
				    "number of hosts from 1 to 64");
		} else if (opt == OPT_TIMEOUT) {
			if (hl_num_double(optarg, &a.timeout) < 0 ||
			    a.timeout <= 0)
				return hl_run_usage(&run, "--timeout needs a "
				    "number of seconds above 0");
		} else
			return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (inventory, apply, "
		    "check, reboot or shutdown)");
	a.verb = argv[optind++];
	nsels = argc - optind;
	if ((code = check_args(&run, &a, nsels)) != 0)
		return code;
	if (hl_run_lab(&run, argv + optind, nsels, 0, &lab, &picked,
	    &code) < 0)
		goto done;
	if (strcmp(a.verb, "inventory") == 0)
		code = inventory(&run, &a, lab, picked);
	else if (strcmp(a.verb, "apply") == 0 || strcmp(a.verb, "check") == 0)
		code = converge(&run, &a, lab, picked);
	else
		code = power(&run, &a, lab, picked);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
