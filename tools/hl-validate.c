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
#include "state/git.h"
#include "spec/lab.h"
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
runway(const struct hl_lab *lab, const unsigned char *picked, int insecure,
    int *code)
{
	struct hl_pve_cfg cfg;
	struct hl_pve *p = NULL;
	struct hl_err e = { 0 };
	jv doc;

	if (hl_pve_cfg_load(&cfg, lab, &e) == 0) {
		cfg.insecure = insecure;
		if (hl_pve_open(&p, &cfg, &e) == 0) {
			doc = hl_runway(lab, picked, p, &cfg, code);
			hl_pve_close(p);
			hl_pve_cfg_free(&cfg);
			return doc;
		}
		hl_pve_cfg_free(&cfg);
	}
	*code = e.code;
	return hl_error_doc("hl-validate", &e);
}

int
main(int argc, char **argv)
{
	enum { OPT_INSECURE = 0x200 };
	static const struct option longopts[] = { HL_RUN_LONGOPTS,
		{ "insecure", no_argument, NULL, OPT_INSECURE }, { 0 } };
	int insecure = 0;
	struct hl_run run;
	struct hl_err e = { 0 };
	struct hl_lab *lab = NULL;
	unsigned char *picked = NULL;
	char *root = NULL, **sels;
	const char *verb, *why = NULL;
	int opt, nsels, i, code;
	jv doc;

	hl_run_init(&run, "hl-validate");
	while ((opt = getopt_long(argc, argv, "C:h", longopts, NULL)) != -1) {
		switch (hl_run_option(&run, opt, optarg)) {
		case 1:
			continue;
		case -1:
			return HL_EXIT_USAGE;
		}
		if (opt == OPT_INSECURE) {
			insecure = 1;
			continue;
		}
		if (opt == 'h') {
			fputs(usage, stdout);
			return fclose(stdout) == 0 ? HL_EXIT_OK : HL_EXIT_INTERNAL;
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
	for (i = 0; i < nsels; i++)
		if (!hl_select_check(sels[i], &why))
			return hl_run_usage(&run, "bad selector '%s': %s",
			    sels[i], why);

	if (hl_lab_find(run.lab_dir, &root, &e) < 0) {
		code = hl_run_fail(&run, e.code, e.msg);
		goto done;
	}
	jv_free(run.git);
	run.git = hl_git_state(root, &e);
	if (!jv_is_valid(run.git)) {
		run.git = jv_null();
		code = hl_run_fail(&run, e.code, e.msg);
		goto done;
	}
	if (hl_spec_load(root, &lab, &e) < 0) {
		code = hl_run_fail(&run, e.code, e.msg);
		goto done;
	}
	jv_free(run.lab);
	run.lab = jv_copy(lab->id);
	picked = calloc(lab->nhosts + 1, 1);
	if (picked == NULL) {
		code = hl_run_fail(&run, HL_EXIT_INTERNAL, "out of memory");
		goto done;
	}
	hl_select(lab, sels, nsels, picked, &lab->diag);
	hl_diag_finish(&lab->diag);
	hl_run_report(&run, &lab->diag);
	code = hl_diag_count(&lab->diag, HL_DIAG_ERROR) ? HL_EXIT_NO :
	    HL_EXIT_OK;

	if (strcmp(verb, "runway") == 0 && code == HL_EXIT_OK) {
		doc = runway(lab, picked, insecure, &code);
	} else if (strcmp(verb, "specs") == 0) {
		doc = jv_object_set(jv_object(), jv_string("ok"),
		    jv_bool(code == HL_EXIT_OK));
		doc = jv_object_set(doc, jv_string("hosts"),
		    picked_hosts(lab, picked, 0));
	} else if (code == HL_EXIT_OK) {
		doc = jv_object_set(jv_object(), jv_string("hosts"),
		    picked_hosts(lab, picked, 1));
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "the specs have %d problem(s): "
		    "see 'errors' or run hl-validate specs",
		    hl_diag_count(&lab->diag, HL_DIAG_ERROR));
		doc = jv_object_set(jv_object(), jv_string("error"),
		    jv_object_set(jv_object_set(jv_object(),
		    jv_string("message"), jv_string(msg)), jv_string("code"),
		    jv_number(code)));
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
	free(root);
	hl_spec_free(lab);
	hl_run_free(&run);
	return code;
}
