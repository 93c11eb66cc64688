/*
 * A thin driver over lib/pve for tests/bats/hl-pve-client.bats: the client's
 * wire rules, retries and task waits, run against the simulator.
 *
 *   pve-client [--kind read|write|once] call METHOD PATH [K=V | K:=JSON]...
 *   pve-client [--timeout S] task METHOD PATH [K=V | K:=JSON]...
 *   pve-client get-all PATH...
 *
 * Settings from HL_PVE_ENDPOINT, HL_PVE_CAFILE, HL_PVE_FINGERPRINT and
 * HL_PVE_TOKEN; the expected cluster from HL_TEST_CLUSTER, the nodes'
 * pinned certificates from HL_TEST_PINS ("NODE=FP ...").  Prints one JSON
 * document: {data} or {error, code, status}; exits with the error's code
 * (0 on success).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/num.h"
#include "pve/pve.h"

static jv
params(int argc, char **argv)
{
	jv o = jv_object();
	int i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		jv v;

		if (eq == NULL)
			continue;
		if (eq > argv[i] && eq[-1] == ':') {
			v = jv_parse(eq + 1);
			o = jv_object_set(o, jv_string_sized(argv[i],
			    (int)(eq - 1 - argv[i])), v);
		} else {
			o = jv_object_set(o, jv_string_sized(argv[i],
			    (int)(eq - argv[i])), jv_string(eq + 1));
		}
	}
	return o;
}

static int
report(int rc, jv data, int status, const struct hl_err *e)
{
	jv out = jv_object();

	if (rc == 0) {
		out = jv_object_set(out, jv_string("data"), data);
	} else {
		jv_free(data);
		out = jv_object_set(out, jv_string("error"),
		    jv_string(e->msg));
		out = jv_object_set(out, jv_string("code"),
		    jv_number(e->code));
	}
	out = jv_object_set(out, jv_string("status"), jv_number(status));
	jv_dumpf(out, stdout, 0);
	putchar('\n');
	return rc == 0 ? 0 : e->code;
}

int
main(int argc, char **argv)
{
	struct hl_pve_cfg cfg = { 0 };
	struct hl_pve *p;
	struct hl_err e = { 0 };
	enum hl_pve_kind kind = HL_PVE_ONCE;
	double timeout = 0;
	int i = 1, rc, status = 0, code;
	jv data;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			return 2;
		if (strcmp(argv[i], "--kind") == 0)
			kind = strcmp(argv[i + 1], "read") == 0 ? HL_PVE_READ :
			    strcmp(argv[i + 1], "write") == 0 ? HL_PVE_WRITE :
			    HL_PVE_ONCE;
		else if (strcmp(argv[i], "--timeout") == 0) {
			if (hl_num_double(argv[i + 1], &timeout) < 0)
				return 2;
		}
		else
			return 2;
	}
	if (i >= argc)
		return 2;
	cfg.endpoint = getenv("HL_PVE_ENDPOINT");
	cfg.cafile = getenv("HL_PVE_CAFILE");
	cfg.fingerprint = getenv("HL_PVE_FINGERPRINT");
	cfg.token = getenv("HL_PVE_TOKEN");
	cfg.cluster = getenv("HL_TEST_CLUSTER");
	cfg.pins = getenv("HL_TEST_PINS");
	if (cfg.fingerprint && !*cfg.fingerprint)
		cfg.fingerprint = NULL;
	if (cfg.endpoint == NULL || hl_pve_open(&p, &cfg, &e) < 0) {
		fprintf(stderr, "pve-client: %s\n", cfg.endpoint ? e.msg :
		    "HL_PVE_ENDPOINT is not set");
		return 4;
	}
	if (strcmp(argv[i], "get-all") == 0) {
		int n = argc - i - 1, k;
		struct hl_pve_req *r = calloc(n + 1, sizeof(*r));
		jv out = jv_array();

		for (k = 0; k < n; k++)
			r[k].path = argv[i + 1 + k];
		hl_pve_get_all(p, r, n);
		code = 0;
		for (k = 0; k < n; k++) {
			jv one = jv_object_set(jv_object(), jv_string("status"),
			    jv_number(r[k].status));

			if (r[k].rc == 0) {
				one = jv_object_set(one, jv_string("data"),
				    r[k].data);
			} else {
				jv_free(r[k].data);
				one = jv_object_set(one, jv_string("error"),
				    jv_string(r[k].err.msg));
				code = r[k].err.code;
			}
			out = jv_array_append(out, one);
		}
		jv_dumpf(out, stdout, 0);
		putchar('\n');
		free(r);
		hl_pve_close(p);
		return code;
	}
	if (i + 2 >= argc) {
		hl_pve_close(p);
		return 2;
	}
	rc = hl_pve_call(p, strcmp(argv[i], "call") == 0 ? kind : HL_PVE_ONCE,
	    argv[i + 1], argv[i + 2], params(argc - i - 3, argv + i + 3),
	    &data, &status, &e);
	if (rc == 0 && strcmp(argv[i], "task") == 0) {
		if (jv_get_kind(data) != JV_KIND_STRING) {
			rc = -1;
			hl_err_set(&e, HL_E_REPLY, "no task id in the reply");
		} else {
			rc = hl_pve_task_wait(p, jv_string_value(data), timeout,
			    NULL, &e);
		}
	}
	code = report(rc, data, status, &e);
	hl_pve_close(p);
	return code;
}
