/*
 * hl-deploy: L4, each host's Compose stacks as declared, health-gated.
 *
 *   hl-deploy plan [SELECTOR...] [--exit-code] [--parallel N]
 *   hl-deploy apply [SELECTOR...] [--force] [--prune --yes] [--parallel N]
 *       [--dry-run]
 *
 * One JSON document on stdout.  See docs/hl-deploy.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run.h"
#include "core/json.h"
#include "core/num.h"
#include "deploy/deploy.h"
#include "spec/spec.h"

static const char usage[] =
"usage: hl-deploy plan [SELECTOR...] [--exit-code] [--parallel N] [options]\n"
"       hl-deploy apply [SELECTOR...] [--force] [--prune --yes]\n"
"                       [--parallel N] [--allow-dirty] [--dry-run] [options]\n"
"\n"
"plan   per host and stack: deploy (new, or changed: which files, which env\n"
"       keys), unchanged, unhealthy (running, failing its checks) or orphan\n"
"       (deployed there, declared nowhere); one ssh call per host; prints\n"
"       {hosts, meta}\n"
"apply  each stack that changed (or is unhealthy) released to\n"
"       /opt/hl/stacks/NAME/releases/DIGEST/, switched to, brought up\n"
"       (compose -p NAME up -d --remove-orphans) and health-gated; a\n"
"       release that fails its gate is rolled back to the previous one;\n"
"       unchanged healthy stacks are not touched; the last three releases\n"
"       are kept; the commit applied is recorded beside them\n"
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all)\n"
"\n"
"options:\n"
"      --exit-code      plan: exit 1 when anything would change\n"
"      --parallel N     hosts at a time (8)\n"
"      --force          apply: redeploy unchanged stacks too\n"
"      --prune          apply: bring orphan stacks down (needs --yes); their\n"
"                       volumes and data paths are kept\n"
"      --yes            apply --prune: do it\n"
"      --allow-dirty    apply: go on with uncommitted spec changes\n"
"      --dry-run        apply: the plan, \"dry_run\": true, exit 0\n"
HL_RUN_OPTIONS_HELP
"\n"
"Secrets a stack names (stack.yaml secrets) come from the environment; a\n"
"missing one fails before any host is touched (3).\n"
"\n"
HL_EXIT_TABLE;

enum { OPT_EXIT_CODE = 0x200, OPT_PARALLEL, OPT_FORCE, OPT_PRUNE, OPT_YES,
	OPT_DIRTY, OPT_DRY_RUN };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "exit-code", no_argument, NULL, OPT_EXIT_CODE },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "prune", no_argument, NULL, OPT_PRUNE },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "allow-dirty", no_argument, NULL, OPT_DIRTY },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ 0 } };
	struct hl_dp_opts o = { 0 };
	struct hl_run run;
	struct hl_err e = { 0 };
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	int opt, code, dirty = 0, dry = 0, apply;
	const char *verb;
	jv res;

	hl_run_init(&run, "hl-deploy");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:h", longopts, usage,
	    &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		if (opt == OPT_EXIT_CODE)
			o.exit_code = 1;
		else if (opt == OPT_FORCE)
			o.force = 1;
		else if (opt == OPT_PRUNE)
			o.prune = 1;
		else if (opt == OPT_YES)
			o.yes = 1;
		else if (opt == OPT_DIRTY)
			dirty = 1;
		else if (opt == OPT_DRY_RUN)
			dry = 1;
		else if (opt == OPT_PARALLEL) {
			if (hl_num_int(optarg, 1, 64, &o.parallel) < 0)
				return hl_run_usage(&run, "--parallel needs a "
				    "number of hosts from 1 to 64");
		} else
			return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (plan or apply)");
	verb = argv[optind++];
	apply = strcmp(verb, "apply") == 0;
	if (!apply && strcmp(verb, "plan") != 0)
		return hl_run_usage(&run, "unknown verb '%s' (plan or apply)",
		    verb);
	if (o.exit_code && apply)
		return hl_run_usage(&run, "--exit-code is for plan");
	if ((o.force || o.prune || o.yes || dirty || dry) && !apply)
		return hl_run_usage(&run, "--force, --prune, --yes, "
		    "--allow-dirty and --dry-run are for apply");
	if (o.yes && !o.prune)
		return hl_run_usage(&run, "--yes goes with --prune");
	o.progress = &run.progress;
	if (hl_run_lab(&run, argv + optind, argc - optind, 0, &lab, &picked,
	    &code) < 0)
		goto done;
	o.commit = hl_json_get_str(run.git, "commit");
	o.dirty = hl_json_get_kind(run.git, "dirty") == JV_KIND_TRUE;
	if (apply && o.prune && !o.yes && !dry) {
		hl_err_set(&e, HL_E_REFUSED, "--prune brings orphan stacks down: "
		    "add --yes (their volumes and data are kept), or see them "
		    "with hl-deploy plan");
		code = hl_run_fail(&run, &e);
		goto done;
	}
	if (apply && !dry && hl_run_mutate(&run, lab->root, dirty, &e) < 0) {
		code = hl_run_fail(&run, &e);
		goto done;
	}
	if (apply && !dry)
		code = hl_dp_apply(lab, picked, &o, &res, &e);
	else
		code = hl_dp_plan(lab, picked, &o, &res, &e);
	if (dry && jv_get_kind(res) == JV_KIND_OBJECT) {
		res = jv_object_set(res, jv_string("dry_run"), jv_true());
		if (code == 1)
			code = 0;
	}
	if (code > 1 && jv_get_kind(res) == JV_KIND_OBJECT) {
		res = jv_object_set(res, jv_string("error"), hl_json_err(&e));
		hl_note(&run.progress, HL_NOTE_ERROR, NULL, "%s", e.msg);
	}
	if (apply && !dry)
		hl_run_record(&run, lab, "L4", res, NULL, 0);
	code = hl_run_result(&run, code, res, &e);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
