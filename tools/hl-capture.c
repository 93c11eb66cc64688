/*
 * hl-capture: each host's durable data kept with restic, proven
 * restorable, never overwritten by an empty host.
 *
 *   hl-capture data [SELECTOR...]
 *   hl-capture init SELECTOR... --yes
 *   hl-capture restore SELECTOR... [--snapshot ID|latest] [--yes]
 *   hl-capture list [SELECTOR...]
 *   hl-capture verify [SELECTOR...] [--subset PERCENT]
 *   hl-capture forget [SELECTOR...] [--yes]
 *   hl-capture boot [SELECTOR...]
 *   hl-capture boot --as-template NAME HOST [VOLID|latest]
 *   hl-capture boot-list [SELECTOR...]
 *   hl-capture boot-restore HOST [VOLID|latest] --yes
 *
 * One JSON document on stdout.  See docs/hl-capture.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/run.h"
#include "core/json.h"
#include "core/num.h"
#include "pve/pve.h"
#include "spec/spec.h"
#include "version.h"

static const char usage[] =
"usage: hl-capture data [SELECTOR...] [options]\n"
"       hl-capture init SELECTOR... --yes [options]\n"
"       hl-capture restore SELECTOR... [--snapshot ID|latest] [--yes] [options]\n"
"       hl-capture list [SELECTOR...] [options]\n"
"       hl-capture verify [SELECTOR...] [--subset PERCENT] [options]\n"
"       hl-capture forget [SELECTOR...] [--yes] [options]\n"
"       hl-capture boot [SELECTOR...] [options]\n"
"       hl-capture boot --as-template NAME HOST [VOLID|latest] [options]\n"
"       hl-capture boot-list [SELECTOR...] [options]\n"
"       hl-capture boot-restore HOST [VOLID|latest] --yes [options]\n"
"\n"
"data     restic backup of each host's data paths (its own and its\n"
"         stacks'), run on the host, tagged hl, host:, persona:, commit:;\n"
"         the repository is made on first use.  Only a host whose data is\n"
"         authoritative (restored, or init) is captured: others are\n"
"         refused (6)\n"
"init     declare the data on the host authoritative as it is (--yes)\n"
"restore  put a snapshot (latest by default) back over the data paths,\n"
"         owners and modes included, then mark the data authoritative;\n"
"         without --yes, refused (6) when the host already holds data\n"
"list     each host's snapshots\n"
"verify   restic check reading all of the repository's data (--subset:\n"
"         that percent), then a restore drill of the latest snapshot into a\n"
"         directory on the host, compared file by file (type, owner, mode,\n"
"         size) with restic's list of it; exit 1 when either finds a fault\n"
"forget   lab.yaml's capture.restic.keep applied, pruned: without --yes a\n"
"         dry run that lists what would go (would_remove)\n"
"boot     the boot disk of each host with boot_capture, through vzdump to\n"
"         lab.yaml's capture.boot storage; captures past its keep removed.\n"
"         With --as-template NAME: no vzdump; HOST's capture (the latest by\n"
"         default) becomes an artifact of template NAME (its definition's\n"
"         source: {boot_capture: HOST}), promotable like a built one\n"
"boot-list  each such host's boot captures, oldest first\n"
"boot-restore  a capture (the latest by default) restored over the host's\n"
"         VM (hl's: tag and marker), its vmid and MAC kept, started (--yes)\n"
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all, for data\n"
"and list; init and restore need one)\n"
"\n"
"options:\n"
"      --snapshot ID    restore: that snapshot (an ID, or latest)\n"
"      --as-template NAME  boot: make template NAME of a capture\n"
"      --yes            init, restore, forget: do it\n"
"      --subset PERCENT verify: read that percent of the data (1-100)\n"
"      --insecure       boot verbs: do not verify the endpoint's TLS\n"
"      --parallel N     hosts at a time (4)\n"
HL_RUN_OPTIONS_HELP
"\n"
"The repository password comes from the variable lab.yaml's\n"
"capture.restic.password_env names; unset, nothing is touched (3).\n"
"\n"
HL_EXIT_TABLE;

enum { OPT_SNAPSHOT = 0x200, OPT_YES, OPT_PARALLEL, OPT_SUBSET,
	OPT_INSECURE, OPT_AS_TEMPLATE };

static const struct { const char *name; enum hl_cp_verb verb; } verbs[] = {
	{ "data", HL_CP_DATA }, { "init", HL_CP_INIT },
	{ "restore", HL_CP_RESTORE }, { "list", HL_CP_LIST },
	{ "verify", HL_CP_VERIFY }, { "forget", HL_CP_FORGET },
	{ "boot", HL_CP_BOOT }, { "boot-list", HL_CP_BOOT_LIST },
	{ "boot-restore", HL_CP_BOOT_RESTORE }, { NULL, 0 } };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "subset", required_argument, NULL, OPT_SUBSET },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "as-template", required_argument, NULL, OPT_AS_TEMPLATE },
		{ 0 } };
	struct hl_cp_opts o = { 0 };
	struct hl_run run;
	struct hl_err e = { 0 };
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	int opt, code, v, insecure = 0, boot;
	struct hl_pve *p = NULL;
	const char *verb;
	jv res;

	hl_run_init(&run, "hl-capture");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:h", longopts, usage,
	    &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		if (opt == OPT_SNAPSHOT) {
			size_t hex = strspn(optarg, "0123456789abcdef");

			if (strcmp(optarg, "latest") != 0 && (optarg[0] == '\0'
			    || hex != strlen(optarg) || hex > 64))
				return hl_run_usage(&run, "--snapshot needs a "
				    "snapshot ID (hex, as hl-capture list "
				    "shows) or latest");
			o.snapshot = optarg;
		} else if (opt == OPT_YES)
			o.yes = 1;
		else if (opt == OPT_INSECURE)
			insecure = 1;
		else if (opt == OPT_AS_TEMPLATE)
			o.as_template = optarg;
		else if (opt == OPT_SUBSET) {
			if (hl_num_int(optarg, 1, 100, &o.subset) < 0)
				return hl_run_usage(&run, "--subset needs a "
				    "percent from 1 to 100");
		} else if (opt == OPT_PARALLEL) {
			if (hl_num_int(optarg, 1, 64, &o.parallel) < 0)
				return hl_run_usage(&run, "--parallel needs a "
				    "number of hosts from 1 to 64");
		} else
			return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (data, init, restore, "
		    "list, verify, forget, boot, boot-list or boot-restore)");
	verb = argv[optind++];
	for (v = 0; verbs[v].name && strcmp(verbs[v].name, verb) != 0; v++)
		;
	if (verbs[v].name == NULL)
		return hl_run_usage(&run, "unknown verb '%s' (data, init, "
		    "restore, list, verify, forget, boot, boot-list or "
		    "boot-restore)", verb);
	o.verb = verbs[v].verb;
	if (o.snapshot && o.verb != HL_CP_RESTORE)
		return hl_run_usage(&run, "--snapshot is for restore");
	boot = o.verb == HL_CP_BOOT || o.verb == HL_CP_BOOT_LIST ||
	    o.verb == HL_CP_BOOT_RESTORE;
	if (o.yes && o.verb != HL_CP_RESTORE && o.verb != HL_CP_INIT &&
	    o.verb != HL_CP_FORGET && o.verb != HL_CP_BOOT_RESTORE)
		return hl_run_usage(&run, "--yes is for init, restore, forget "
		    "and boot-restore");
	if (insecure && !boot)
		return hl_run_usage(&run, "--insecure is for the boot verbs");
	if (o.as_template && o.verb != HL_CP_BOOT)
		return hl_run_usage(&run, "--as-template is for boot");
	if (o.verb == HL_CP_BOOT_RESTORE || o.as_template) {
		/* HOST [VOLID|latest]: one host, by name */
		const char *what = o.as_template ? "boot --as-template" :
		    "boot-restore";

		if (optind >= argc || argc - optind > 2)
			return hl_run_usage(&run, "%s takes one host and, after "
			    "it, a capture (VOLID or latest)", what);
		if (strchr(argv[optind], '@') || strchr(argv[optind], ':') ||
		    strcmp(argv[optind], "all") == 0)
			return hl_run_usage(&run, "%s takes one host by its "
			    "name, not '%s'", what, argv[optind]);
		if (argc - optind == 2) {
			o.volid = argv[optind + 1];
			if (strcmp(o.volid, "latest") != 0 &&
			    strstr(o.volid, ":backup/") == NULL)
				return hl_run_usage(&run, "'%s' is no capture: a "
				    "VOLID as boot-list shows it "
				    "(STORAGE:backup/vzdump-...) or latest",
				    o.volid);
			argc--;
		}
	}
	if (o.subset && o.verb != HL_CP_VERIFY)
		return hl_run_usage(&run, "--subset is for verify");
	if ((o.verb == HL_CP_RESTORE || o.verb == HL_CP_INIT) && optind >= argc)
		return hl_run_usage(&run, "%s needs the hosts it is for (a "
		    "SELECTOR)", verb);
	o.progress = &run.progress;
	if (hl_run_lab(&run, argv + optind, argc - optind, 0, &lab, &picked,
	    &code) < 0)
		goto done;
	o.commit = hl_json_get_str(run.git, "commit");
	o.version = HL_VERSION;
	if (boot) {
		if (hl_pve_connect(&p, lab, insecure, &run.progress, &e) < 0) {
			code = hl_run_fail(&run, &e);
			goto done;
		}
		code = hl_cp_boot(p, lab, picked, &o, &res, &e);
		hl_pve_close(p);
	} else {
		/* what status shows and drift reads: .hl/hosts/HOST.json */
		static const char *const keep[] = { "snapshot", "action",
			"paths", NULL };
		const char *section = o.verb == HL_CP_DATA ? "capture" :
		    o.verb == HL_CP_RESTORE || o.verb == HL_CP_INIT ? "restore" :
		    o.verb == HL_CP_VERIFY ? "verify" : NULL;

		code = hl_cp_run(lab, picked, &o, &res, &e);
		if (section)
			hl_run_record(&run, lab, section, res, keep, 0);
	}
	if (code > 1 && jv_get_kind(res) == JV_KIND_OBJECT)
		res = jv_object_set(res, jv_string("error"), hl_json_err(&e));
	code = hl_run_result(&run, code, res, &e);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
