/*
 * hl-validate: check the lab's specs and show each host's effective
 * configuration.
 *
 *   hl-validate specs [SELECTOR...]   every problem in one run
 *   hl-validate show [SELECTOR...]    the configuration later layers use
 *   hl-validate runway [SELECTOR...]  is the hypervisor ready for them?
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

#include "core/exit.h"
#include "core/json.h"
#include "pve/pve.h"
#include "cli/run.h"
#include "runway/runway.h"
#include "spec/select.h"
#include "spec/spec.h"

static const char usage[] =
"usage: hl-validate specs [SELECTOR...] [options]\n"
"       hl-validate show [SELECTOR...] [options]\n"
"       hl-validate runway [SELECTOR...] [--insecure] [options]\n"
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
"\n"
"SELECTOR: a host name, @TAG, persona:NAME or all (default: all)\n"
"\n"
"options:\n"
"      --insecure       runway: do not verify the endpoint's TLS identity\n"
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

int
main(int argc, char **argv)
{
	enum { OPT_INSECURE = 0x200 };
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "insecure", no_argument, NULL, OPT_INSECURE }, { 0 } };
	int insecure = 0;
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
		return hl_run_usage(&run, "unknown option");
	}
	if (optind >= argc)
		return hl_run_usage(&run, "missing verb (specs, show or runway)");
	verb = argv[optind++];
	if (strcmp(verb, "specs") != 0 && strcmp(verb, "show") != 0 &&
	    strcmp(verb, "runway") != 0)
		return hl_run_usage(&run, "unknown verb '%s' (specs, show or "
		    "runway)", verb);
	if (insecure && strcmp(verb, "runway") != 0)
		return hl_run_usage(&run, "--insecure is for runway only");
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
