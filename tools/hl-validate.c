/*
 * hl-validate: check the lab's specs and show each host's effective
 * configuration.
 *
 *   hl-validate specs [SELECTOR...]   every problem in one run
 *   hl-validate show [SELECTOR...]    the configuration later layers use
 *   hl-validate runway [SELECTOR...]  is the hypervisor ready for them?
 *   hl-validate drift [SELECTOR...]   which layers each host needs again
 *
 * One JSON document on stdout; problems also on stderr as FILE:LINE:COL.
 * Exit status: 0 valid (runway: nothing failed), 1 any spec problem (YAML
 * syntax included), a selector that matches nothing or a failed runway
 * check, 2 usage, 3 no lab found at all, 4 the endpoint cannot be reached
 * or refuses the token, 7 internal error.  See docs/hl-validate.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/json.h"
#include "pve/pve.h"
#include "cli/run.h"
#include "drift/drift.h"
#include "runway/runway.h"
#include "spec/select.h"
#include "spec/spec.h"

static const char usage[] =
"usage: hl-validate specs [SELECTOR...] [options]\n"
"       hl-validate show [SELECTOR...] [options]\n"
"       hl-validate runway [SELECTOR...] [--insecure] [options]\n"
"       hl-validate drift [SELECTOR...] [--live] [--exit-code] [options]\n"
"\n"
"specs  check lab.yaml, personas/ and layers/: YAML, unknown\n"
"       keys, types and ranges, required keys, references, lab-wide\n"
"       uniqueness; prints {ok, errors, warnings, hosts, meta}\n"
"show   each selected host's effective configuration (lab defaults, then\n"
"       persona, then host); prints {hosts, meta}\n"
"runway read-only checks of the Proxmox side for the selected hosts:\n"
"       endpoint, TLS identity, token, version, cluster, privileges,\n"
"       nodes, storages, bridges, templates, vmids, node SSH, local\n"
"       tools; prints {ok, checks, facts, meta}\n"
"drift  per host, the commit each layer (L2, L3, L4) last applied against\n"
"       HEAD, and the files changed since that the host's layer reads:\n"
"       {head, hosts: [{name, layers: {L2: {applied, files, keys, action},\n"
"       ...}, rebuild_suggested}], meta}; from Git and .hl/hosts/ alone\n"
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all)\n"
"\n"
"options:\n"
"      --insecure       runway: do not verify the endpoint's TLS identity\n"
"      --live           drift: also ask hl-vm plan, hl-converge check and\n"
"                       hl-deploy plan for the hosts\n"
"      --exit-code      drift: exit 1 when a host needs any layer\n"
HL_RUN_OPTIONS_HELP
"\n"
"environment: HL_PVE_ENDPOINT, HL_PVE_CAFILE, HL_PVE_FINGERPRINT override\n"
"lab.yaml; the token comes from HL_PVE_TOKEN (or the variable lab.yaml's\n"
"pve.token_env names) or HL_PVE_TOKEN_FILE (mode 0600)\n"
"\n"
HL_EXIT_TABLE;

/* The selected hosts: their names, or (full) their configurations. */
static jv
picked_hosts(const struct hl_lab *lab, const unsigned char *picked, int full)
{
	jv out = jv_array();
	size_t i;

	for (i = 0; i < lab->nhosts; i++)
		if (picked[i])
			out = jv_array_append(out, full ?
			    hl_spec_host_json(lab, &lab->hosts[i]) :
			    jv_string(lab->hosts[i].name));
	return out;
}

/* runway over the client; on a setup error, a failure document. */
static jv
runway(struct hl_run *run, const struct hl_lab *lab,
    const unsigned char *picked, int insecure, int *code)
{
	struct hl_pve_cfg cfg;
	struct hl_pve *p = NULL;
	struct hl_err e = { 0 };
	jv doc, checks;

	if (hl_pve_cfg_load(&cfg, lab, &e) < 0) {
		*code = e.code;
		return hl_run_error_doc(run, &e);
	}
	cfg.insecure = insecure;
	cfg.progress = &run->progress;
	if (hl_pve_open(&p, &cfg, &e) < 0) {
		*code = e.code;
		doc = hl_run_error_doc(run, &e);
	} else {
		doc = hl_runway(lab, picked, p, &cfg, code);
		/* what failed, on stderr too: a script reads the document,
		 * a person the terminal */
		checks = hl_json_get(jv_copy(doc), "checks");
		if (jv_get_kind(checks) == JV_KIND_ARRAY)
			jv_array_foreach(checks, i, c) {
				const char *st = hl_json_get_str(c, "status");

				if (st && strcmp(st, "fail") == 0)
					hl_note(&run->progress, HL_NOTE_ERROR,
					    hl_json_get_str(c, "id"), "%s",
					    hl_json_get_str(c, "message"));
				jv_free(c);
			}
		jv_free(checks);
	}
	hl_pve_close(p);
	hl_pve_cfg_free(&cfg);
	return doc;
}

/* drift; the directory of this binary is where --live finds the others. */
static jv
drift(struct hl_run *run, const struct hl_lab *lab,
    const unsigned char *picked, int live, int exit_code, const char *argv0,
    int *code)
{
	struct hl_drift_opts o = { .live = live, .progress = &run->progress };
	struct hl_err e = { 0 };
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	jv doc;

	if (n > 0)
		self[n] = '\0';
	else
		snprintf(self, sizeof(self), "%s", argv0);
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(self, sizeof(self), ".");
	o.bindir = self;
	o.head = hl_json_get_str(run->git, "commit");
	if (o.head == NULL) {
		hl_err_set(&e, HL_E_LAB, "drift needs the lab in Git, with a "
		    "commit");
		*code = e.code;
		return hl_run_error_doc(run, &e);
	}
	*code = hl_drift(lab, picked, &o, &doc, &e);
	if (*code > 1)
		return hl_run_error_doc(run, &e);
	if (!exit_code)
		*code = HL_EXIT_OK;
	return doc;
}

int
main(int argc, char **argv)
{
	enum { OPT_INSECURE = 0x200, OPT_LIVE, OPT_EXIT_CODE };
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "live", no_argument, NULL, OPT_LIVE },
		{ "exit-code", no_argument, NULL, OPT_EXIT_CODE }, { 0 } };
	int insecure = 0, live = 0, exit_code = 0;
	struct hl_run run;
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	char **sels;
	const char *verb;
	int opt, nsels, code;
	jv doc;

	hl_run_init(&run, "hl-validate");
	while ((opt = hl_run_getopt(&run, argc, argv, "C:h", longopts,
	    usage, &code)) != -1) {
		if (opt == HL_RUN_EXIT)
			return code;
		if (opt == OPT_INSECURE) {
			insecure = 1;
			continue;
		}
		if (opt == OPT_LIVE || opt == OPT_EXIT_CODE) {
			*(opt == OPT_LIVE ? &live : &exit_code) = 1;
			continue;
		}
		return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (specs, show, runway "
		    "or drift)");
	verb = argv[optind++];
	if (strcmp(verb, "specs") != 0 && strcmp(verb, "show") != 0 &&
	    strcmp(verb, "runway") != 0 && strcmp(verb, "drift") != 0)
		return hl_run_usage(&run, "unknown verb '%s' (specs, show, "
		    "runway or drift)", verb);
	if (insecure && strcmp(verb, "runway") != 0)
		return hl_run_usage(&run, "--insecure is for runway only");
	if ((live || exit_code) && strcmp(verb, "drift") != 0)
		return hl_run_usage(&run, "--%s is for drift only", live ?
		    "live" : "exit-code");
	sels = argv + optind;
	nsels = argc - optind;

	if (hl_run_lab(&run, sels, nsels, HL_RUN_LAB_PROBLEMS_OK, &lab,
	    &picked, &code) < 0)
		goto done;
	hl_run_report(&run, &lab->diag);
	code = hl_diag_count(&lab->diag, HL_DIAG_ERROR) ? HL_EXIT_NO :
	    HL_EXIT_OK;

	if (strcmp(verb, "runway") == 0 && code == HL_EXIT_OK) {
		doc = runway(&run, lab, picked, insecure, &code);
	} else if (strcmp(verb, "drift") == 0 && code == HL_EXIT_OK) {
		doc = drift(&run, lab, picked, live, exit_code, argv[0], &code);
	} else if (strcmp(verb, "specs") == 0) {
		doc = jv_object_set(jv_object(), jv_string("ok"),
		    jv_bool(code == HL_EXIT_OK));
		doc = jv_object_set(doc, jv_string("hosts"),
		    picked_hosts(lab, picked, 0));
	} else if (code == HL_EXIT_OK) {
		doc = jv_object_set(jv_object(), jv_string("hosts"),
		    picked_hosts(lab, picked, 1));
	} else {
		struct hl_err e;

		/* the problems themselves are on stderr already */
		hl_err_set(&e, HL_E_NO, "the specs have %d problem(s): see "
		    "'errors' or run hl-validate specs",
		    hl_diag_count(&lab->diag, HL_DIAG_ERROR));
		doc = jv_object_set(jv_object(), jv_string("error"),
		    hl_json_err(&e));
	}
	if (strcmp(verb, "specs") == 0 || code != HL_EXIT_OK) {
		doc = jv_object_set(doc, jv_string("errors"),
		    jv_copy(lab->diag.errors));
		doc = jv_object_set(doc, jv_string("warnings"),
		    jv_copy(lab->diag.warnings));
	}
	code = hl_run_finish(&run, doc, code);
done:
	free(picked);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
