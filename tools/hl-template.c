/*
 * hl-template: L1, OS templates as versioned artifacts, per node.
 *
 *   hl-template build NAME [--node N | --all-nodes] [--force] [--dry-run]
 *   hl-template promote NAME [--node N] [--channel C] [ARTIFACT] [--dry-run]
 *   hl-template rollback NAME [--node N] [--channel C] [--dry-run]
 *   hl-template list [NAME]
 *   hl-template gc [NAME] [--keep N] [--yes | --dry-run]
 *
 * One JSON document on stdout; progress on stderr.  See
 * docs/hl-template.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/num.h"
#include "core/json.h"
#include "pve/pve.h"
#include "cli/run.h"
#include "spec/spec.h"
#include "template/template.h"
#include "version.h"

static const char usage[] =
"usage: hl-template build NAME [--node N | --all-nodes] [options]\n"
"       hl-template promote NAME [--node N] [--channel C] [ARTIFACT] [options]\n"
"       hl-template rollback NAME [--node N] [--channel C] [options]\n"
"       hl-template list [NAME] [options]\n"
"       hl-template gc [NAME] [--keep N] [--yes | --dry-run] [options]\n"
"\n"
"build  build template NAME (layers/L1/templates/NAME.yaml) on a node:\n"
"       download its source to the node's import storage (checksum\n"
"       verified), create a VM importing it, prepare it (agent: install),\n"
"       convert it to a template, and record the artifact in\n"
"       layers/L1/artifacts/NAME/NODE/ID.json.  The same definition\n"
"       already built there is left alone unless --force.\n"
"promote  point channel C (default stable) at ARTIFACT (default: the\n"
"       newest); without --node, at that definition's newest artifact on\n"
"       every node that has one.  Writes layers/L1/channels.yaml and\n"
"       commits it with the artifacts (--no-commit to skip)\n"
"rollback  point the channel back at the artifact before the current one\n"
"list   the templates' artifacts, whether each template still exists and\n"
"       which VMs came from it; prints {templates, meta}\n"
"gc     templates and artifact files no channel points to, no VM depends\n"
"       on (a linked clone keeps its base) and not among the --keep newest\n"
"       of their node (default 1): listed, exit 6; removed with --yes\n"
"\n"
"options:\n"
"      --node N         build on node N (default: lab.yaml defaults.node)\n"
"      --all-nodes      build on every node a host using NAME is placed on\n"
"      --force          build even when this definition is built there\n"
"      --channel C      promote, rollback: stable (default) or canary\n"
"      --no-commit      promote, rollback, gc: change the files, no commit\n"
"      --keep N         gc: keep the N newest artifacts per node (1)\n"
"      --yes            gc: remove what it lists\n"
"      --dry-run        build, promote, rollback, gc: every read and check,\n"
"                       nothing created, written, committed or removed; say\n"
"                       what would be done (would_build), \"dry_run\": true,\n"
"                       exit 0 unless a check fails; gc needs no --yes\n"
"      --timeout S      wait at most S seconds for the guest agent (900)\n"
"      --allow-dirty    build though the specs have uncommitted changes\n"
"      --insecure       do not verify the endpoint's TLS identity\n"
HL_RUN_OPTIONS_HELP
"\n"
HL_EXIT_TABLE;

enum {
	OPT_NODE = 0x200, OPT_ALL, OPT_FORCE, OPT_TIMEOUT, OPT_DIRTY,
	OPT_INSECURE, OPT_CHANNEL, OPT_NOCOMMIT, OPT_KEEP, OPT_YES,
	OPT_DRY_RUN,
};

struct args {
	const char *node, *channel;
	int all, force, dirty, insecure, nocommit, keep, yes, dry_run;
	double timeout;
};

/* A refusal for a mutating verb, or 0: dirty specs, the lock. */
static int
may_change(struct hl_run *run, const struct hl_lab *lab, const struct args *a,
    struct hl_err *e)
{
	return hl_run_mutate(run, lab->root, a->dirty, e);
}

/* promote, rollback and gc's flags from the options */
static unsigned
flags(const struct args *a)
{
	return (a->nocommit ? 0 : HL_TPL_COMMIT) | (a->yes ? HL_TPL_YES : 0) |
	    (a->dry_run ? HL_TPL_DRY_RUN : 0);
}

static int
build(struct hl_run *run, const struct hl_lab *lab, const char *name,
    const struct args *a, jv *doc, struct hl_err *e)
{
	struct hl_pve *p = NULL;
	struct hl_tpl_opts o = { a->force, a->timeout, &run->progress,
	    hl_json_get_str(run->git, "commit"), HL_VERSION, a->dry_run };
	jv nodes = jv_null();
	int code;

	*doc = jv_null();
	if (hl_tpl_known(lab, name, e) < 0 || may_change(run, lab, a, e) < 0 ||
	    hl_tpl_nodes(lab, name, a->node, a->all, &nodes, e) < 0 ||
	    hl_pve_connect(&p, lab, a->insecure, &run->progress, e) < 0) {
		jv_free(nodes);
		return e->code;
	}
	code = hl_tpl_build_nodes(p, lab, name, nodes, &o, doc);
	hl_pve_close(p);
	return code;
}

static int
gc(struct hl_run *run, const struct hl_lab *lab, const char *name,
    const struct args *a, jv *doc, struct hl_err *e)
{
	struct hl_pve *p = NULL;
	int code;

	*doc = jv_null();
	if ((name && hl_tpl_known(lab, name, e) < 0) ||
	    may_change(run, lab, a, e) < 0 ||
	    hl_pve_connect(&p, lab, a->insecure, &run->progress, e) < 0)
		return e->code;
	code = hl_tpl_gc(p, lab, name, a->keep, flags(a), &run->progress, doc,
	    e);
	hl_pve_close(p);
	return code;
}

static int
channel_verb(struct hl_run *run, const struct hl_lab *lab, const char *verb,
    char **names, int n, const struct args *a, jv *doc, struct hl_err *e)
{
	const char *ch = a->channel ? a->channel : "stable";

	*doc = jv_null();
	if (hl_tpl_known(lab, names[0], e) < 0 ||
	    may_change(run, lab, a, e) < 0)
		return e->code;
	return strcmp(verb, "promote") == 0 ?
	    hl_tpl_promote(lab, names[0], a->node, ch, n > 1 ? names[1] : NULL,
	    flags(a), &run->progress, doc, e) :
	    hl_tpl_rollback(lab, names[0], a->node, ch, flags(a),
	    &run->progress, doc, e);
}

static int
list(struct hl_run *run, const struct hl_lab *lab, const char *name,
    const struct args *a, jv *doc, struct hl_err *e)
{
	struct hl_pve *p = NULL;
	int code;

	*doc = jv_null();
	if ((name && hl_tpl_known(lab, name, e) < 0) ||
	    hl_pve_connect(&p, lab, a->insecure, &run->progress, e) < 0)
		return e->code;
	code = hl_tpl_list(p, lab, name, doc, e);
	hl_pve_close(p);
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "node", required_argument, NULL, OPT_NODE },
		{ "all-nodes", no_argument, NULL, OPT_ALL },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "allow-dirty", no_argument, NULL, OPT_DIRTY },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "no-commit", no_argument, NULL, OPT_NOCOMMIT },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ 0 } };
	struct hl_run run;
	struct hl_lab *lab = NULL;
	struct args a = { .keep = 1 };
	struct hl_err e = { 0 };
	int mutating;
	const char *verb;
	int opt, code;
	jv doc;

	hl_run_init(&run, "hl-template");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:h", longopts,
	    usage, &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		switch (opt) {
		case OPT_NODE:
			a.node = optarg;
			break;
		case OPT_ALL:
			a.all = 1;
			break;
		case OPT_FORCE:
			a.force = 1;
			break;
		case OPT_DIRTY:
			a.dirty = 1;
			break;
		case OPT_INSECURE:
			a.insecure = 1;
			break;
		case OPT_CHANNEL:
			if (strcmp(optarg, "stable") != 0 &&
			    strcmp(optarg, "canary") != 0)
				return hl_run_usage(&run, "--channel is stable "
				    "or canary");
			a.channel = optarg;
			break;
		case OPT_NOCOMMIT:
			a.nocommit = 1;
			break;
		case OPT_YES:
			a.yes = 1;
			break;
		case OPT_DRY_RUN:
			a.dry_run = 1;
			break;
		case OPT_KEEP:
			if (hl_num_int(optarg, 0, 1000, &a.keep) < 0)
				return hl_run_usage(&run, "--keep needs a count "
				    "of 0 or more");
			break;
		case OPT_TIMEOUT:
			if (hl_num_double(optarg, &a.timeout) < 0 ||
			    a.timeout <= 0)
				return hl_run_usage(&run, "--timeout needs a "
				    "number of seconds above 0");
			break;
		default:
			return hl_run_usage(&run, "unknown option");
		}
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (build, promote, "
		    "rollback or list)");
	verb = argv[optind++];
	if (strcmp(verb, "build") != 0 && strcmp(verb, "list") != 0 &&
	    strcmp(verb, "promote") != 0 && strcmp(verb, "rollback") != 0 &&
	    strcmp(verb, "gc") != 0)
		return hl_run_usage(&run, "unknown verb '%s' (build, promote, "
		    "rollback, list or gc)", verb);
	if (strcmp(verb, "gc") == 0 && argc - optind > 1)
		return hl_run_usage(&run, "gc takes at most one template name");
	mutating = strcmp(verb, "list") != 0;
	if ((strcmp(verb, "build") == 0 || strcmp(verb, "rollback") == 0) &&
	    argc - optind != 1)
		return hl_run_usage(&run, "%s takes one template name", verb);
	if (strcmp(verb, "promote") == 0 && (argc - optind < 1 ||
	    argc - optind > 2))
		return hl_run_usage(&run, "promote takes a template name and "
		    "maybe an artifact");
	if (a.dry_run && !mutating)
		return hl_run_usage(&run, "--dry-run is for build, promote, "
		    "rollback and gc");
	if (a.all && strcmp(verb, "build") != 0)
		return hl_run_usage(&run, "--all-nodes is for build");
	if (strcmp(verb, "list") == 0 && argc - optind > 1)
		return hl_run_usage(&run, "list takes at most one template name");
	if (a.node && a.all)
		return hl_run_usage(&run, "--node and --all-nodes exclude each "
		    "other");

	if (hl_run_lab(&run, NULL, 0, 0, &lab, NULL, &code) < 0)
		goto done;
	if (strcmp(verb, "build") == 0)
		code = build(&run, lab, argv[optind], &a, &doc, &e);
	else if (strcmp(verb, "gc") == 0)
		code = gc(&run, lab, argc > optind ? argv[optind] : NULL, &a,
		    &doc, &e);
	else if (mutating)
		code = channel_verb(&run, lab, verb, argv + optind,
		    argc - optind, &a, &doc, &e);
	else
		code = list(&run, lab, argc > optind ? argv[optind] : NULL, &a,
		    &doc, &e);
	code = hl_run_result(&run, code, doc, &e);
done:
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
