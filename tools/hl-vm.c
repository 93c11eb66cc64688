/*
 * hl-vm: L2, every VM exactly as declared.
 *
 *   hl-vm plan [SELECTOR...] [--exit-code] [-o FILE]
 *   hl-vm status [SELECTOR...]
 *   hl-vm apply [SELECTOR... | --plan FILE] [--reboot] [--timeout S]
 *       [--parallel N] [--dry-run]
 *   hl-vm destroy SELECTOR... [--yes | --dry-run]
 *
 * One JSON document on stdout.  See docs/hl-vm.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/json.h"
#include "core/num.h"
#include "pve/pve.h"
#include "cli/run.h"
#include "spec/select.h"
#include "spec/spec.h"
#include "vm/vm.h"

static const char usage[] =
"usage: hl-vm plan [SELECTOR...] [--exit-code] [-o FILE] [options]\n"
"       hl-vm status [SELECTOR...] [options]\n"
"       hl-vm apply [SELECTOR... | --plan FILE] [--reboot] [--timeout S]\n"
"                   [--parallel N] [--dry-run] [options]\n"
"       hl-vm destroy SELECTOR... [--yes | --dry-run] [options]\n"
"\n"
"plan    compare each selected host's VM with its specs: create, update\n"
"        (field by field, with reboot_needed and rotates_host_keys, and\n"
"        pending for what a running VM takes at its next boot; power when\n"
"        it runs or not against its declared power), noop or blocked (a\n"
"        smaller disk, another node); template drift is reported, never\n"
"        a replacement; prints {hosts, meta}, and on a terminal a diff on\n"
"        stderr\n"
"status  whether each VM exists, where, its power, address, and which\n"
"        commit and template artifact it was made from; prints {hosts, meta}\n"
"apply   create the missing VMs: a full clone of the host's template on\n"
"        its node, configured, the disk grown, started; the agent and\n"
"        cloud-init waited for; its SSH host keys into .hl/known_hosts.\n"
"        A create an interrupted run left is resumed, and its tasks and\n"
"        locks waited for, not sent again. Updates in place; what needs\n"
"        a reboot waits for --reboot, which reboots and re-reads host\n"
"        keys a change rotated. The declared power state is enforced: a\n"
"        VM declared running is started (waited for, its host keys read\n"
"        again), one declared stopped is shut down (stopped hard after\n"
"        60 s, or --timeout when shorter); a create declared stopped is\n"
"        left stopped, its host keys read when it first starts\n"
"destroy stop and delete (purge) the selected hosts' VMs that hl made for\n"
"        them (tag and marker); without --yes, list them and exit 6\n"
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all)\n"
"\n"
"options:\n"
"      --exit-code      plan: exit 1 when changes are pending\n"
"  -o, --out FILE       plan: also save it, with what it was made from\n"
"                       (spec commit, channels, each VM's config digest)\n"
"      --plan FILE      apply: apply exactly that saved plan; refused (6)\n"
"                       when HEAD, a channel or a VM moved since\n"
"      --timeout S      apply: wait at most S seconds for the agent (600),\n"
"                       and for a clean shutdown (60)\n"
"      --parallel N     apply: work on N hosts at a time (4)\n"
"      --allow-dirty    apply, destroy: go on with uncommitted spec changes\n"
"                       (apply: and clone from an uncommitted channel)\n"
"      --yes            destroy: do it\n"
"      --dry-run        apply, destroy: every read and check, nothing\n"
"                       changed; say what would be done (would_create,\n"
"                       would_update, would_destroy), \"dry_run\": true,\n"
"                       exit 0 unless a check fails; destroy needs no --yes\n"
"      --reboot         apply: reboot running VMs whose changes need it\n"
"      --insecure       do not verify the endpoint's TLS identity\n"
HL_RUN_OPTIONS_HELP
"\n"
HL_EXIT_TABLE;

enum { OPT_EXIT_CODE = 0x200, OPT_INSECURE, OPT_TIMEOUT, OPT_DIRTY,
	OPT_YES, OPT_REBOOT, OPT_PARALLEL, OPT_PLAN, OPT_DRY_RUN };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "exit-code", no_argument, NULL, OPT_EXIT_CODE },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "allow-dirty", no_argument, NULL, OPT_DIRTY },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "reboot", no_argument, NULL, OPT_REBOOT },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "out", required_argument, NULL, 'o' },
		{ "plan", required_argument, NULL, OPT_PLAN },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ 0 } };
	/* what .hl/hosts/HOST.json keeps of a run (hl_run_record) */
	static const char *const keep[] = { "action", NULL },
	    *const layers[] = { "L2", "L3", "L4", "restore", NULL };
	struct hl_vm_opts vo = { 0 };
	struct hl_vm_plan_opts po = { 0 };
	const char *plan_file = NULL;
	int dirty = 0;
	struct hl_run run;
	struct hl_err e = { 0 };
	struct hl_lab *lab = NULL;
	struct hl_pve *p = NULL;
	unsigned char *picked = NULL;
	char **sels;
	const char *verb;
	int opt, nsels, code, insecure = 0;
	jv doc;

	hl_run_init(&run, "hl-vm");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:ho:", longopts,
	    usage, &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		if (opt == OPT_EXIT_CODE)
			po.exit_code = 1;
		else if (opt == 'o')
			po.save = optarg;
		else if (opt == OPT_PLAN)
			plan_file = optarg;
		else if (opt == OPT_INSECURE)
			insecure = 1;
		else if (opt == OPT_DIRTY)
			dirty = 1;
		else if (opt == OPT_YES)
			vo.yes = 1;
		else if (opt == OPT_DRY_RUN)
			vo.dry_run = 1;
		else if (opt == OPT_REBOOT)
			vo.reboot = 1;
		else if (opt == OPT_PARALLEL) {
			if (hl_num_int(optarg, 1, 64, &vo.parallel) < 0)
				return hl_run_usage(&run, "--parallel needs a "
				    "number of hosts from 1 to 64");
		} else if (opt == OPT_TIMEOUT) {
			if (hl_num_double(optarg, &vo.timeout) < 0 ||
			    vo.timeout <= 0)
				return hl_run_usage(&run, "--timeout needs a "
				    "number of seconds above 0");
		}
		else
			return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (plan, status or apply)");
	verb = argv[optind++];
	if (strcmp(verb, "plan") != 0 && strcmp(verb, "status") != 0 &&
	    strcmp(verb, "apply") != 0 && strcmp(verb, "destroy") != 0)
		return hl_run_usage(&run, "unknown verb '%s' (plan, status, "
		    "apply or destroy)", verb);
	if (strcmp(verb, "destroy") == 0 && optind >= argc)
		return hl_run_usage(&run, "destroy needs selectors (all, to "
		    "mean all)");
	if ((po.exit_code || po.save) && strcmp(verb, "plan") != 0)
		return hl_run_usage(&run, "--exit-code and -o are for plan");
	if (plan_file && (strcmp(verb, "apply") != 0 || optind < argc))
		return hl_run_usage(&run, "--plan is for apply, without "
		    "selectors: the saved plan names its hosts");
	if ((vo.parallel || vo.reboot || vo.timeout) &&
	    strcmp(verb, "apply") != 0)
		return hl_run_usage(&run, "--parallel, --reboot and --timeout "
		    "are for apply");
	if (vo.dry_run && strcmp(verb, "apply") != 0 &&
	    strcmp(verb, "destroy") != 0)
		return hl_run_usage(&run, "--dry-run is for apply and destroy");
	sels = argv + optind;
	nsels = argc - optind;

	vo.saved = jv_null();
	vo.progress = &run.progress;
	vo.allow_dirty = dirty;
	if (hl_run_lab(&run, sels, nsels, 0, &lab, &picked, &code) < 0)
		goto done;
	vo.commit = hl_json_get_str(run.git, "commit");
	po.head = vo.commit;
	if ((strcmp(verb, "apply") == 0 || strcmp(verb, "destroy") == 0) &&
	    hl_run_mutate(&run, lab->root, dirty, &e) < 0)
		;
	else if (hl_pve_connect(&p, lab, insecure, &run.progress, &e) < 0)
		;
	else if (po.save && (vo.commit == NULL ||
	    hl_json_get_kind(run.git, "dirty") != JV_KIND_FALSE))
		hl_err_set(&e, HL_E_REFUSED, "plan -o saves plans of committed "
		    "specs only: commit first");
	else if (plan_file && hl_vm_plan_read(plan_file, &vo.saved, &e) < 0)
		;
	else {
		if (strcmp(verb, "plan") == 0) {
			code = hl_vm_plan(p, lab, picked, &po, &doc, &e);
			/* the JSON stays on stdout; a person at a terminal
			 * also gets it as a diff */
			if (jv_is_valid(doc) && hl_run_human(&run))
				hl_run_plan_text(stderr, doc);
		} else if (strcmp(verb, "apply") == 0) {
			code = hl_vm_apply(p, lab, picked, &vo, &doc, &e);
			if (!vo.dry_run)
				hl_run_record(&run, lab, "L2", doc, keep, 0);
		} else if (strcmp(verb, "destroy") == 0) {
			code = hl_vm_destroy(p, lab, picked, &vo, &doc, &e);
			/* a host without its VM has nothing applied */
			for (int l = 0; vo.yes && !vo.dry_run && layers[l]; l++)
				hl_run_record(&run, lab, layers[l], doc, keep,
				    1);
		} else
			code = hl_vm_status(p, lab, picked, vo.commit, &doc,
			    &e);
		code = hl_run_result(&run, code, doc, &e);
		goto close;
	}
	code = hl_run_fail(&run, &e);
close:
	jv_free(vo.saved);
	hl_pve_close(p);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
