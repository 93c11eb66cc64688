/*
 * Waiting for a PVE task (NOTES.md section 2, quirk 6): poll the node in
 * the UPID with backoff; "OK" and "WARNINGS: n" are success; anything
 * else is the error, with the task's last log lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/clock.h"
#include "pve/pve.h"
#include "pve/pve_impl.h"

static const struct {
	const char *type;
	double seconds;
} timeouts[] = {
	{ "qmclone", 1800 }, { "qmcreate", 1800 }, { "qmstart", 1800 },
	{ "qmshutdown", 1800 }, { "qmreboot", 1800 }, { "qmrestore", 3600 },
	{ "vzdump", 7200 }, { "download", 3600 }, { "qmstop", 300 },
	{ "qmdestroy", 600 }, { "qmtemplate", 600 }, { "qmconfig", 600 },
	{ "resize", 600 }, { "imgcopy", 1800 },
};

/* Field n (0-based) of a UPID into out. */
static int
upid_field(const char *upid, int n, char *out, size_t len)
{
	const char *s = upid;
	size_t k;

	if (strncmp(upid, "UPID:", 5) != 0)
		return -1;
	while (n-- > 0) {
		s = strchr(s, ':');
		if (s == NULL)
			return -1;
		s++;
	}
	k = strcspn(s, ":");
	if (k == 0 || k >= len || s[k] != ':')
		return -1;
	memcpy(out, s, k);
	out[k] = '\0';
	return 0;
}

double
hl_pve_task_timeout(const char *upid)
{
	char type[64];
	size_t i;

	if (upid_field(upid, 5, type, sizeof(type)) == 0)
		for (i = 0; i < sizeof(timeouts) / sizeof(*timeouts); i++)
			if (strcmp(type, timeouts[i].type) == 0)
				return timeouts[i].seconds;
	return 600;
}

/* The path of a task endpoint: /nodes/NODE/tasks/<escaped UPID>/what. */
static void
task_path(struct hl_buf *b, const char *node, const char *upid,
    const char *what)
{
	hl_buf_printf(b, "/nodes/%s/tasks/", node);
	for (const char *c = upid; *c; c++) {
		if (*c == ':' || *c == '@' || *c == '!' || *c == '%' ||
		    *c == '/' || *c == ' ')
			hl_buf_printf(b, "%%%02X", (unsigned char)*c);
		else
			hl_buf_add(b, c, 1);
	}
	hl_buf_printf(b, "/%s", what);
}

/* The last lines of the task's log, "; "-joined, into m. */
static void
log_tail(struct hl_pve *p, const char *node, const char *upid,
    struct hl_buf *m)
{
	struct hl_buf path = { 0 };
	struct hl_err e;
	jv log;
	int n, from;

	task_path(&path, node, upid, "log?start=0&limit=0");
	if (hl_pve_get(p, hl_buf_str(&path), &log, &e) == 0 &&
	    jv_get_kind(log) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(log));
		from = n > 6 ? n - 6 : 0;
		for (int i = from; i < n; i++) {
			jv line = jv_array_get(jv_copy(log), i);
			const char *t = hl_json_get_str(line, "t");

			if (t && strncmp(t, "TASK ", 5) != 0)
				hl_buf_printf(m, "%s%s", m->len ? "; " : "", t);
			jv_free(line);
		}
	}
	jv_free(log);
	hl_buf_free(&path);
}

/* "WARNINGS: N": a task that succeeded with warnings. */
static int
warnings(const char *x)
{
	if (strncmp(x, "WARNINGS: ", 10) != 0 || !x[10])
		return 0;
	return strspn(x + 10, "0123456789") == strlen(x + 10);
}

int
hl_pve_task_wait(struct hl_pve *p, const char *upid, double timeout_s,
    const char *subject, struct hl_err *e)
{
	char node[128];
	struct hl_buf path = { 0 };
	double t0 = hl_clock(), wait = 0.2, last_note = t0;
	int rc = -1, odd = 0;

	if (upid_field(upid, 1, node, sizeof(node)) < 0)
		return hl_err_set(e, HL_E_FAILED, "'%s' is not a task id",
		    upid);
	if (timeout_s <= 0)
		timeout_s = hl_pve_task_timeout(upid);
	task_path(&path, node, upid, "status");
	for (;;) {
		jv st;
		struct hl_err ce;
		int status = 0;
		const char *s, *x;

		if (hl_pve_call(p, HL_PVE_READ, "GET", hl_buf_str(&path),
		    jv_null(), &st, &status, &ce) < 0) {
			/* 400 "no such task" right after the fork: keep on */
			if (status != 400 || hl_clock() - t0 > 10) {
				*e = ce;
				break;
			}
		} else {
			s = hl_json_get_str(st, "status");
			x = hl_json_get_str(st, "exitstatus");
			if (s == NULL && ++odd >= 5) {
				hl_err_set(e, HL_E_REPLY, "GET %s: the "
				    "replies are not a task's status",
				    hl_buf_str(&path));
				jv_free(st);
				break;
			}
			if (s && strcmp(s, "stopped") == 0) {
				if (x && (strcmp(x, "OK") == 0 ||
				    warnings(x))) {
					rc = 0;
				} else {
					struct hl_buf m = { 0 };

					log_tail(p, node, upid, &m);
					enum hl_reason r = x ?
					    hl_pve_condition(x) : HL_E_NONE;

					hl_err_set(e, r != HL_E_NONE ? r :
					    HL_E_TASK, "task %s "
					    "failed: %s%s%s", upid,
					    x ? x : "unexpected status",
					    m.len ? " (log: " : "",
					    m.len ? hl_buf_str(&m) : "");
					if (m.len && strlen(e->msg) + 2 <
					    sizeof(e->msg))
						strcat(e->msg, ")");
					hl_buf_free(&m);
				}
				jv_free(st);
				break;
			}
		}
		jv_free(st);
		if (hl_clock() - t0 >= timeout_s) {
			hl_err_set(e, HL_E_TIMEOUT, "task %s did not finish "
			    "within %.0f s", upid, timeout_s);
			break;
		}
		if (subject && hl_clock() - last_note >= 5) {
			hl_note(p->cfg.progress, HL_NOTE_PROGRESS, subject,
			    "waiting for %s (%.0f s)", upid, hl_clock() - t0);
			last_note = hl_clock();
		}
		hl_sleep(wait);
		wait = wait * 1.5 > 2 ? 2 : wait * 1.5;
	}
	hl_buf_free(&path);
	return rc;
}

int
hl_pve_wait_booted(struct hl_pve *p, const char *node, int vmid,
    double timeout_s, struct hl_err *e)
{
	char path[300];
	double t0 = hl_clock();

	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/agent/file-read?"
	    "file=%%2Fvar%%2Flib%%2Fcloud%%2Finstance%%2Fboot-finished", node,
	    vmid);
	while (hl_clock() - t0 < timeout_s) {
		jv d;

		if (hl_pve_get(p, path, &d, e) == 0) {
			jv_free(d);
			return 0;
		}
		jv_free(d);
		/* a wrong identity or token does not heal by waiting */
		if (e->reason == HL_E_TLS || e->reason == HL_E_AUTH)
			return -1;
		hl_sleep(2);
	}
	return 1;
}

int
hl_pve_wait_unlocked(struct hl_pve *p, const char *node, int vmid,
    double timeout_s, jv *conf, struct hl_err *e)
{
	char path[300];
	double t0 = hl_clock();

	*conf = jv_null();
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/config", node, vmid);
	for (;;) {
		int status = 0;

		if (hl_pve_call(p, HL_PVE_READ, "GET", path, jv_null(), conf,
		    &status, e) < 0) {
			jv_free(*conf);
			*conf = jv_null();
			/* PVE: 500 "Configuration file ... does not exist" */
			return status == 500 || status == 404 ? 2 : -1;
		}
		if (hl_json_get_str(*conf, "lock") == NULL)
			return 0;
		jv_free(*conf);
		*conf = jv_null();
		if (hl_clock() - t0 >= timeout_s)
			return 1;
		hl_sleep(hl_clock() - t0 + 1 > timeout_s ? 0.2 : 1);
	}
}

int
hl_pve_run_task(struct hl_pve *p, const char *method, const char *path,
    jv params, double timeout_s, const char *subject, jv *upid,
    struct hl_err *e)
{
	jv u;
	int rc;

	if (upid)
		*upid = jv_null();
	if (hl_pve_call(p, HL_PVE_ONCE, method, path, params, &u, NULL,
	    e) < 0) {
		jv_free(u);
		return -1;
	}
	rc = jv_get_kind(u) == JV_KIND_STRING ? hl_pve_task_wait(p,
	    jv_string_value(u), timeout_s, subject, e) : 0;
	if (upid && jv_get_kind(u) == JV_KIND_STRING)
		*upid = u;
	else
		jv_free(u);
	return rc;
}
