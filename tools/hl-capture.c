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
#include "spec/spec.h"

static const char usage[] =
"usage: hl-capture data [SELECTOR...] [options]\n"
"       hl-capture init SELECTOR... --yes [options]\n"
"       hl-capture restore SELECTOR... [--snapshot ID|latest] [--yes] [options]\n"
"       hl-capture list [SELECTOR...] [options]\n"
"       hl-capture verify [SELECTOR...] [--subset PERCENT] [options]\n"
"       hl-capture forget [SELECTOR...] [--yes] [options]\n"
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
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all, for data\n"
"and list; init and restore need one)\n"
"\n"
"options:\n"
"      --snapshot ID    restore: that snapshot (an ID, or latest)\n"
"      --yes            init, restore, forget: do it\n"
"      --subset PERCENT verify: read that percent of the data (1-100)\n"
"      --parallel N     hosts at a time (4)\n"
HL_RUN_OPTIONS_HELP
"\n"
"The repository password comes from the variable lab.yaml's\n"
"capture.restic.password_env names; unset, nothing is touched (3).\n"
"\n"
HL_EXIT_TABLE;

enum { OPT_SNAPSHOT = 0x200, OPT_YES, OPT_PARALLEL, OPT_SUBSET };

static const struct { const char *name; enum hl_cp_verb verb; } verbs[] = {
	{ "data", HL_CP_DATA }, { "init", HL_CP_INIT },
	{ "restore", HL_CP_RESTORE }, { "list", HL_CP_LIST },
	{ "verify", HL_CP_VERIFY }, { "forget", HL_CP_FORGET }, { NULL, 0 } };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "subset", required_argument, NULL, OPT_SUBSET },
		{ 0 } };
	struct hl_cp_opts o = { 0 };
	struct hl_run run;
	struct hl_err e = { 0 };
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	int opt, code, v;
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
		    "list, verify or forget)");
	verb = argv[optind++];
	for (v = 0; verbs[v].name && strcmp(verbs[v].name, verb) != 0; v++)
		;
	if (verbs[v].name == NULL)
		return hl_run_usage(&run, "unknown verb '%s' (data, init, "
		    "restore, list, verify or forget)", verb);
	o.verb = verbs[v].verb;
	if (o.snapshot && o.verb != HL_CP_RESTORE)
		return hl_run_usage(&run, "--snapshot is for restore");
	if (o.yes && o.verb != HL_CP_RESTORE && o.verb != HL_CP_INIT &&
	    o.verb != HL_CP_FORGET)
		return hl_run_usage(&run, "--yes is for init, restore and "
		    "forget");
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
	code = hl_cp_run(lab, picked, &o, &res, &e);
	if (code > 1 && jv_get_kind(res) == JV_KIND_OBJECT)
		res = jv_object_set(res, jv_string("error"), hl_json_err(&e));
	code = hl_run_result(&run, code, res, &e);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
