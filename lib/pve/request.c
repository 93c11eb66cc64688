/*
 * The Proxmox VE client's requests: parameters as PVE reads them, replies
 * and their errors typed, retries where they are safe, the cluster's
 * identity checked before the first change (pve.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/num.h"
#include "pve/pve.h"
#include "pve/pve_impl.h"

/* ---- requests -------------------------------------------------------- */

/* Percent-encode s as PVE's "urlencoded" format wants (%20, not +). */
static void
urlencode(struct hl_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || strchr("-_.!~*'()", ch))
			hl_buf_add(b, s, 1);
		else
			hl_buf_printf(b, "%%%02X", ch);
	}
}

static void
add_pair(struct hl_buf *b, const char *k, const char *v)
{
	if (b->len)
		hl_buf_adds(b, "&");
	urlencode(b, k);
	hl_buf_adds(b, "=");
	if (strcmp(k, "sshkeys") == 0) {
		/* NOTES.md quirk 1: URL-encoded, then form-encoded again */
		struct hl_buf inner = { 0 };

		urlencode(&inner, v);
		urlencode(b, hl_buf_str(&inner));
		hl_buf_free(&inner);
	} else {
		urlencode(b, v);
	}
}

static void
add_value(struct hl_buf *b, const char *k, jv v)
{
	char num[64];

	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		add_pair(b, k, jv_string_value(v));
		break;
	case JV_KIND_NUMBER:
		if (jv_number_value(v) == (double)(long long)jv_number_value(v))
			snprintf(num, sizeof(num), "%lld",
			    (long long)jv_number_value(v));
		else
			snprintf(num, sizeof(num), "%.15g", jv_number_value(v));
		add_pair(b, k, num);
		break;
	case JV_KIND_TRUE:
		add_pair(b, k, "1");
		break;
	case JV_KIND_FALSE:
		add_pair(b, k, "0");
		break;
	case JV_KIND_ARRAY:
		jv_array_foreach(v, i, item) {
			add_value(b, k, item);
			jv_free(item);
		}
		break;
	default:
		break;
	}
}

/* params (consumed) as a form or query string into b. */
static void
encode_params(struct hl_buf *b, jv params)
{
	if (jv_get_kind(params) == JV_KIND_OBJECT) {
		jv_object_foreach(params, k, v) {
			add_value(b, jv_string_value(k), v);
			jv_free(k);
			jv_free(v);
		}
	}
	jv_free(params);
}

/* The URL of path with an optional query. */
void
hl_pve_url(const struct hl_pve *p, struct hl_buf *b, const char *path,
    const char *query)
{
	hl_buf_printf(b, "%s/api2/json%s", p->cfg.endpoint, path);
	if (query && *query)
		hl_buf_printf(b, "%c%s", strchr(path, '?') ? '&' : '?', query);
}

/*
 * The condition a text of PVE's names, or HL_E_NONE: the few phrases of
 * PVE's own messages that callers act on become a type here, in the one
 * place that reads PVE's words, so no caller searches text.
 */
enum hl_reason
hl_pve_condition(const char *text)
{
	/* PVE::Tools::lock_file_full: "can't lock file ... - got timeout" */
	if (strstr(text, "got timeout"))
		return HL_E_LOCKED;
	/* PVE::QemuServer::Helpers: "VM N already exists" (nextid, create) */
	if (strstr(text, "already exists"))
		return HL_E_EXISTS;
	/* PVE::API2::Qemu resize_vm: "shrinking disks is not supported" */
	if (strstr(text, "shrinking disks is not supported"))
		return HL_E_SHRINK;
	return HL_E_NONE;
}

/* What PVE's error reply means: its condition, else HL_E_API. */
static enum hl_reason
api_reason(const char *reason, const char *all)
{
	enum hl_reason r = hl_pve_condition(reason);

	if (r == HL_E_NONE)
		r = hl_pve_condition(all);
	return r == HL_E_NONE ? HL_E_API : r;
}

/*
 * The outcome of a finished transfer: rc 0 with *data, or -1 with e.
 * what is "GET /version" for messages.
 */
int
hl_pve_result(struct hl_pve *p, struct hl_pve_xfer *x, CURLcode cc,
    long status, const char *what, jv *data, struct hl_err *e)
{
	jv reply, v;
	struct hl_buf m = { 0 };
	int rc;

	*data = jv_null();
	x->status = (int)status;
	if (cc != CURLE_OK) {
		if (p->seen_fp[0])
			return hl_err_set(e, HL_E_TLS, "%s: the endpoint's "
			    "certificate %s is not the pinned %s", what,
			    p->seen_fp, p->cfg.fingerprint);
		if (hl_pve_tls_error(cc))
			return hl_err_set(e, HL_E_TLS, "%s: %s", what,
			    x->curlerr[0] ? x->curlerr : curl_easy_strerror(cc));
		return hl_err_set(e, HL_E_CONNECT, "%s: %s%s%s%s", what,
		    x->curlerr[0] ? x->curlerr : curl_easy_strerror(cc),
		    p->cfg.hint ? " (" : "", p->cfg.hint ? p->cfg.hint : "",
		    p->cfg.hint ? ")" : "");
	}
	if (status == 401 || status == 403)
		return hl_err_set(e, HL_E_AUTH, "%s: %ld %s", what, status,
		    x->reason[0] ? x->reason : "refused");
	reply = x->body.len ? jv_parse_sized(hl_buf_str(&x->body),
	    (int)x->body.len) : jv_invalid();
	if (status >= 200 && status < 300) {
		if (jv_get_kind(reply) != JV_KIND_OBJECT ||
		    !jv_object_has(jv_copy(reply), jv_string("data"))) {
			jv_free(reply);
			return hl_err_set(e, HL_E_REPLY, "%s: %ld, but the "
			    "reply is not PVE's JSON ({\"data\": ...})", what,
			    status);
		}
		*data = jv_object_get(reply, jv_string("data"));
		return 0;
	}
	if (status >= 595 || status < 100) {
		jv_free(reply);
		return hl_err_set(e, HL_E_CONNECT, "%s: %ld %s", what, status,
		    x->reason);
	}
	/* an error: "<what>: <status> <reason>", the errors map, the message */
	hl_buf_printf(&m, "%s: %ld %s", what, status, x->reason);
	if (jv_get_kind(reply) == JV_KIND_OBJECT) {
		v = jv_object_get(jv_copy(reply), jv_string("errors"));
		if (jv_get_kind(v) == JV_KIND_OBJECT) {
			jv_object_foreach(v, k, msg) {
				if (jv_get_kind(msg) == JV_KIND_STRING) {
					char *t = strdup(jv_string_value(msg));

					if (t) {
						while (*t && strchr("\n ",
						    t[strlen(t) - 1]))
							t[strlen(t) - 1] = '\0';
						for (char *c = t; *c; c++)
							if (*c == '\n')
								*c = ' ';
						hl_buf_printf(&m, "; %s: %s",
						    jv_string_value(k), t);
						free(t);
					}
				}
				jv_free(k);
				jv_free(msg);
			}
		}
		jv_free(v);
		v = jv_object_get(jv_copy(reply), jv_string("message"));
		if (jv_get_kind(v) == JV_KIND_STRING) {
			char line[512];

			snprintf(line, sizeof(line), "%s", jv_string_value(v));
			line[strcspn(line, "\n")] = '\0';
			if (strcmp(line, x->reason) != 0 && line[0])
				hl_buf_printf(&m, " (%s)", line);
		}
		jv_free(v);
	}
	jv_free(reply);
	rc = hl_err_set(e, api_reason(x->reason, hl_buf_str(&m)), "%s",
	    hl_buf_str(&m));
	hl_buf_free(&m);
	return rc;
}

/*
 * Reads are retried on the transport, a reply cut short and 5xx; writes
 * only when PVE did not take the lock ("got timeout": nothing was done).
 */
int
hl_pve_retryable(enum hl_pve_kind kind, int rc, int status, const struct hl_err *e)
{
	if (rc == 0 || e->reason == HL_E_TLS || e->reason == HL_E_AUTH)
		return 0;
	if (kind == HL_PVE_READ)
		return hl_reason_transient(e->reason) || status >= 500;
	if (kind == HL_PVE_WRITE)
		return e->reason == HL_E_LOCKED;
	return 0;
}

void
hl_pve_backoff(int attempt)
{
	struct timespec ts;
	long ms = 200L << attempt;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

int
hl_pve_check_pins(const char *pins, jv nodes, struct hl_err *e)
{
	const char *s = pins ? pins : "";

	while (*s) {
		char node[256], want[200];
		const char *fp = NULL;
		size_t n = strcspn(s, "="), m;

		if (n >= sizeof(node) || s[n] != '=')
			return hl_err_set(e, HL_E_INTERNAL, "bad pin list");
		memcpy(node, s, n);
		node[n] = '\0';
		m = strcspn(s + n + 1, " ");
		if (m >= sizeof(want))
			return hl_err_set(e, HL_E_INTERNAL, "bad pin list");
		memcpy(want, s + n + 1, m);
		want[m] = '\0';
		s += n + 1 + m + strspn(s + n + 1 + m, " ");
		if (jv_get_kind(nodes) == JV_KIND_ARRAY) {
			jv_array_foreach(nodes, i, o) {
				const char *name = hl_json_get_str(o, "node");

				if (fp == NULL && name && strcmp(name, node) == 0)
					fp = hl_json_get_str(o, "ssl_fingerprint");
				jv_free(o);
			}
		}
		/* fp points into nodes, which the caller still holds */
		if (fp == NULL)
			return hl_err_set(e, HL_E_REFUSED, "this is not the "
			    "lab's cluster: it has no node '%s' with a "
			    "certificate, and lab.yaml pins one", node);
		if (strcasecmp(fp, want) != 0)
			return hl_err_set(e, HL_E_REFUSED, "this is not the "
			    "lab's cluster: node %s's certificate is %s, "
			    "not %s that lab.yaml pins", node, fp, want);
	}
	return 0;
}

/*
 * Before the first call that changes anything: is this the cluster
 * lab.yaml names, by its name or by its nodes' pinned certificates (a
 * single node outside any cluster has only those)?  A mismatch refuses
 * (exit 6) and nothing is sent.
 */
static int
check_identity(struct hl_pve *p, struct hl_err *e)
{
	jv st;
	const char *name = NULL;
	int rc;

	if (p->identity_ok || (p->cfg.cluster == NULL && p->cfg.pins == NULL))
		return 0;
	if (p->cfg.pins) {
		if (hl_pve_get(p, "/nodes", &st, e) < 0)
			return -1;
		rc = hl_pve_check_pins(p->cfg.pins, st, e);
		jv_free(st);
		if (rc < 0) {
			char why[sizeof(e->msg)];

			snprintf(why, sizeof(why), "%s", e->msg);
			return hl_err_set(e, HL_E_REFUSED, "refusing to change "
			    "anything: %s", why);
		}
		if (p->cfg.cluster == NULL) {
			p->identity_ok = 1;
			return 0;
		}
	}
	if (hl_pve_get(p, "/cluster/status", &st, e) < 0)
		return -1;
	if (jv_get_kind(st) == JV_KIND_ARRAY) {
		jv_array_foreach(st, i, item) {
			const char *t = hl_json_get_str(item, "type");

			if (t && strcmp(t, "cluster") == 0 && name == NULL) {
				name = hl_json_get_str(item, "name");
				if (name)
					snprintf(p->cluster_seen,
					    sizeof(p->cluster_seen), "%s", name);
			}
			jv_free(item);
		}
	}
	jv_free(st);
	if (name && strcmp(p->cluster_seen, p->cfg.cluster) == 0) {
		p->identity_ok = 1;
		return 0;
	}
	rc = hl_err_set(e, HL_E_REFUSED, "refusing to change anything: "
	    "this is %s%s%s, not cluster '%s' that lab.yaml expects",
	    name ? "cluster '" : "not a cluster", name ? p->cluster_seen : "",
	    name ? "'" : "", p->cfg.cluster);
	return rc;
}

int
hl_pve_check_cluster(struct hl_pve *p, struct hl_err *e)
{
	return check_identity(p, e);
}

int
hl_pve_call(struct hl_pve *p, enum hl_pve_kind kind, const char *method,
    const char *path, jv params, jv *data, int *status, struct hl_err *e)
{
	struct hl_buf form = { 0 }, url = { 0 }, what = { 0 };
	struct hl_pve_xfer x;
	int attempt, rc = -1, body = strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0;

	if (strcmp(method, "GET") != 0 && check_identity(p, e) < 0) {
		jv_free(params);
		*data = jv_null();
		if (status)
			*status = 0;
		return -1;
	}

	encode_params(&form, params);
	hl_pve_url(p, &url, path, body ? NULL : hl_buf_str(&form));
	hl_buf_printf(&what, "%s %s", method, path);
	*data = jv_null();
	for (attempt = 0; attempt < HL_PVE_ATTEMPTS; attempt++) {
		CURLcode cc;
		long st = 0;

		memset(&x, 0, sizeof(x));
		curl_easy_reset(p->easy);
		if (hl_pve_setup(p, p->easy, &x, e) < 0)
			break;
		curl_easy_setopt(p->easy, CURLOPT_URL, hl_buf_str(&url));
		curl_easy_setopt(p->easy, CURLOPT_CUSTOMREQUEST, method);
		if (body) {
			curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS,
			    hl_buf_str(&form));
			curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE,
			    (long)form.len);
		} else if (strcmp(method, "GET") == 0) {
			curl_easy_setopt(p->easy, CURLOPT_HTTPGET, 1L);
		}
		/* libcurl resends a request whose reused connection died
		 * before any reply: a call that must go out once gets a
		 * fresh one */
		if (kind == HL_PVE_ONCE)
			curl_easy_setopt(p->easy, CURLOPT_FRESH_CONNECT, 1L);
		p->seen_fp[0] = '\0';
		cc = curl_easy_perform(p->easy);
		curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &st);
		rc = hl_pve_result(p, &x, cc, st, hl_buf_str(&what), data, e);
		hl_buf_free(&x.body);
		if (status)
			*status = x.status;
		if (p->seen_fp[0] || !hl_pve_retryable(kind, rc, x.status, e))
			break;
		jv_free(*data);
		*data = jv_null();
		if (attempt + 1 < HL_PVE_ATTEMPTS)
			hl_pve_backoff(attempt);
	}
	hl_buf_free(&form);
	hl_buf_free(&url);
	hl_buf_free(&what);
	if (rc == 0 && e)
		memset(e, 0, sizeof(*e));	/* no failed try's error stays */
	return rc;
}

int
hl_pve_get(struct hl_pve *p, const char *path, jv *data, struct hl_err *e)
{
	return hl_pve_call(p, HL_PVE_READ, "GET", path, jv_null(), data, NULL,
	    e);
}

int
hl_pve_segment(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c)) {
			if (n + 1 >= len)
				return -1;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= len)
				return -1;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (len == 0)
		return -1;
	out[n] = '\0';
	return 0;
}
