/*
 * The host side of hl-deploy (agent.py, built in as a string): run with
 * `sudo python3 -c AGENT VERB` over ssh, its request and any release on
 * stdin, its answer one JSON document on stdout.
 */
#include <string.h>

#include "core/json.h"
#include "deploy/deploy_impl.h"
#include "ssh/ssh.h"

static const char agent[] =
#include "deploy_agent.h"
;

#define ANSWER_MAX (4u << 20)

int
dp_agent(const struct hl_reach *r, const char *verb, jv req,
    const struct hl_buf *payload, double timeout, jv *res, struct hl_err *e)
{
	char *argv[] = { "sudo", "-n", "python3", "-c", (char *)agent,
		(char *)verb, NULL };
	struct hl_buf in = { 0 }, out = { 0 };
	struct hl_ssh_io io = { .in = &in, .out = &out, .out_cap = ANSWER_MAX };
	const char *last;
	jv line;
	int rc;

	*res = jv_null();
	line = jv_dump_string(req, 0);
	hl_buf_printf(&in, "%s\n", jv_string_value(line));
	jv_free(line);
	if (payload && payload->len)
		hl_buf_add(&in, payload->s, payload->len);
	rc = hl_ssh_run_io(&r->ssh, argv, &io, timeout, e);
	/* what went in may hold secrets (the release's .env) */
	if (in.s)
		memset(in.s, 0, in.len);
	hl_buf_free(&in);
	if (rc < 0) {
		hl_buf_free(&out);
		return -1;
	}
	/* the answer is the last line; Python's warnings may come before */
	while (out.len && strchr("\n\r ", out.s[out.len - 1]))
		hl_buf_truncate(&out, out.len - 1);
	last = out.len ? strrchr(hl_buf_str(&out), '\n') : NULL;
	*res = out.len ? jv_parse(last ? last + 1 : out.s) : jv_invalid();
	if (!jv_is_valid(*res) || jv_get_kind(*res) != JV_KIND_OBJECT) {
		jv_free(*res);
		*res = jv_null();
		rc = hl_err_set(e, HL_E_FAILED, "%s: hl-deploy's %s on the host "
		    "failed (exit %d)%s%.300s", r->ssh.alias, verb, rc,
		    out.len ? ": " : "", out.len ? hl_buf_str(&out) : "");
	} else if (hl_json_get_str(*res, "error")) {
		rc = hl_err_set(e, HL_E_FAILED, "%s: %s", r->ssh.alias,
		    hl_json_get_str(*res, "error"));
	} else {
		rc = 0;
	}
	hl_buf_free(&out);
	return rc;
}
