/*
 * Checksums of a host's data (capture_impl.h): sums.py, built in as a
 * string, run as root on the host over ssh.
 */
#include <stdlib.h>
#include <string.h>

#include "capture/capture_impl.h"
#include "core/json.h"
#include "ssh/ssh.h"

static const char sums[] =
#include "capture_sums.h"
;

int
cp_sums(struct cp_host *h, const char *verb, jv args, double timeout,
    jv *res, struct hl_err *e)
{
	char **argv = cp_argv("python3", sums, verb, args);
	struct hl_buf out = { 0 }, err = { 0 };
	struct hl_ssh_io io = { .out = &out, .err = &err };
	const char *last;
	char why[300];
	int rc;

	*res = jv_null();
	if (argv == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	rc = hl_ssh_run_io(&h->reach.ssh, argv, &io, timeout, e);
	free(argv);
	if (rc < 0)
		goto out;
	while (out.len && strchr("\n\r ", out.s[out.len - 1]))
		hl_buf_truncate(&out, out.len - 1);
	last = out.len ? strrchr(hl_buf_str(&out), '\n') : NULL;
	*res = out.len ? jv_parse(last ? last + 1 : out.s) : jv_invalid();
	if (rc != 0 || jv_get_kind(*res) != JV_KIND_OBJECT) {
		rc = hl_err_set(e, HL_E_FAILED, "%s: the checksums of its data "
		    "failed (exit %d): %s", h->name, rc, cp_why(&err, why,
		    sizeof(why)));
	} else if (hl_json_get_str(*res, "error")) {
		rc = hl_err_set(e, HL_E_FAILED, "%s: the checksums of its data "
		    "failed: %s", h->name, hl_json_get_str(*res, "error"));
	}
	if (rc != 0) {
		jv_free(*res);
		*res = jv_null();
	}
out:
	hl_buf_free(&out);
	hl_buf_free(&err);
	return rc == 0 ? 0 : -1;
}
