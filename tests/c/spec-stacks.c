/*
 * A thin driver over lib/spec for tests/bats/hl-validate-stacks.bats:
 * lab->stacks, which no tool prints whole (hl-deploy reads it).
 *
 *   spec-stacks LAB
 *
 * Prints one JSON document, {stacks, errors, warnings}; exits 0 when the
 * lab loaded (valid or not), 1 when it could not be.
 */
#include <stdio.h>

#include "core/json.h"
#include "spec/spec.h"

int
main(int argc, char **argv)
{
	struct hl_lab *lab = NULL;
	struct hl_err e = { 0 };
	jv out;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: spec-stacks LAB\n");
		return 2;
	}
	if (hl_spec_load(argv[1], &lab, &e) < 0) {
		fprintf(stderr, "spec-stacks: %s\n", e.msg);
		return 1;
	}
	out = JV_OBJECT(jv_string("stacks"), jv_copy(lab->stacks),
	    jv_string("errors"), jv_copy(lab->diag.errors),
	    jv_string("warnings"), jv_copy(lab->diag.warnings));
	hl_spec_free(lab);
	rc = hl_json_print(stdout, out, 0, &e);
	if (fclose(stdout) != 0 || rc < 0)
		return 1;
	return 0;
}
