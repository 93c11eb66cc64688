/* The Proxmox VE client: transport, trust, requests, replies (pve.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "json.h"
#include "pve.h"
#include "pve_impl.h"

#define MAX_REPLY (64u << 20)
#define ATTEMPTS 4

/* ---- trust ----------------------------------------------------------- */

/* "AA:BB:..." of cert's SHA-256 into out (96 bytes). */
static void
fingerprint(X509 *cert, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0, i;

	out[0] = '\0';
	if (!X509_digest(cert, EVP_sha256(), md, &n))
		return;
	for (i = 0; i < n; i++)
		sprintf(out + 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

static int ex_index = -1;

/*
 * The handshake's verdict on the leaf certificate: its fingerprint must be
 * the pinned one (as PVE's own client pins: the chain and the name are
 * then not asked about).  Runs for every connection.
 */
static int
verify_pinned(int preverify, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct hl_pve *p = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    ex_index) : NULL;
	char seen[3 * EVP_MAX_MD_SIZE + 1];

	(void)preverify;
	if (p == NULL)
		return 0;
	if (X509_STORE_CTX_get_error_depth(x) > 0) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	fingerprint(X509_STORE_CTX_get_current_cert(x), seen);
	if (strcasecmp(seen, p->cfg.fingerprint) == 0) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	snprintf(p->seen_fp, sizeof(p->seen_fp), "%s", seen);
	return 0;
}

static CURLcode
ssl_ctx_pin(CURL *c, void *sslctx, void *arg)
{
	(void)c;
	SSL_CTX_set_ex_data(sslctx, ex_index, arg);
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, verify_pinned);
	return CURLE_OK;
}

static int
tls_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return 1;
	default:
		return 0;
	}
}

/* ---- handles --------------------------------------------------------- */

static size_t
on_body(char *d, size_t sz, size_t n, void *arg)
{
	struct hl_pve_xfer *x = arg;

	if (x->body.len + sz * n > MAX_REPLY)
		return 0;
	return hl_buf_add(&x->body, d, sz * n) < 0 ? 0 : sz * n;
}

/* The status line's reason phrase: PVE puts its message there. */
static size_t
on_header(char *d, size_t sz, size_t n, void *arg)
{
	struct hl_pve_xfer *x = arg;
	size_t len = sz * n;

	if (len > 9 && strncmp(d, "HTTP/", 5) == 0) {
		const char *sp = memchr(d, ' ', len);
		const char *r = sp ? memchr(sp + 1, ' ', len - (sp + 1 - d)) :
		    NULL;

		x->reason[0] = '\0';
		if (r) {
			size_t k = len - (size_t)(r + 1 - d);

			while (k > 0 && (r[k] == '\r' || r[k] == '\n' ||
			    r[k] == '\0'))
				k--;
			if (k >= sizeof(x->reason))
				k = sizeof(x->reason) - 1;
			memcpy(x->reason, r + 1, k);
			x->reason[k] = '\0';
			x->reason[strcspn(x->reason, "\r\n")] = '\0';
		}
	}
	return len;
}

int
hl_pve_setup(struct hl_pve *p, CURL *c, struct hl_pve_xfer *x,
    struct hl_err *e)
{
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hl/" HL_PVE_UA);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curlerr);
	/* every connection makes a full handshake, so every one is checked */
	curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	if (p->share)
		curl_easy_setopt(c, CURLOPT_SHARE, p->share);
	if (p->cfg.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (p->cfg.fingerprint) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		if (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION,
		    ssl_ctx_pin) != CURLE_OK)
			return hl_err_set(e, HL_EXIT_INTERNAL, "this libcurl "
			    "cannot pin certificates (it needs OpenSSL)");
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, p);
	} else if (p->cfg.cafile) {
		curl_easy_setopt(c, CURLOPT_CAINFO, p->cfg.cafile);
	}
	return 0;
}

int
hl_pve_open(struct hl_pve **out, const struct hl_pve_cfg *c, struct hl_err *e)
{
	struct hl_pve *p;
	struct hl_buf auth = { 0 };

	*out = NULL;
	if (strncmp(c->endpoint, "https://", 8) != 0)
		return hl_err_set(e, HL_EXIT_LAB, "the endpoint '%s' is not "
		    "https://", c->endpoint);
	/* TLS secrets never go to a key log: the token travels inside */
	unsetenv("SSLKEYLOGFILE");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return hl_err_set(e, HL_EXIT_INTERNAL, "libcurl did not start");
	if (ex_index < 0)
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	p->cfg.endpoint = strdup(c->endpoint);
	while (p->cfg.endpoint && *p->cfg.endpoint &&
	    p->cfg.endpoint[strlen(p->cfg.endpoint) - 1] == '/')
		p->cfg.endpoint[strlen(p->cfg.endpoint) - 1] = '\0';
	p->cfg.cafile = c->cafile ? strdup(c->cafile) : NULL;
	p->cfg.fingerprint = c->fingerprint ? strdup(c->fingerprint) : NULL;
	p->cfg.cluster = c->cluster ? strdup(c->cluster) : NULL;
	p->cfg.insecure = c->insecure;
	hl_buf_printf(&auth, "Authorization: PVEAPIToken=%s",
	    c->token ? c->token : "");
	p->headers = curl_slist_append(NULL, hl_buf_str(&auth));
	explicit_bzero(auth.s, auth.cap);
	hl_buf_free(&auth);
	p->headers = curl_slist_append(p->headers, "Accept: application/json");
	p->share = curl_share_init();
	if (p->share)
		curl_share_setopt(p->share, CURLSHOPT_SHARE,
		    CURL_LOCK_DATA_CONNECT);
	p->easy = curl_easy_init();
	if (p->cfg.endpoint == NULL || p->headers == NULL || p->easy == NULL) {
		hl_pve_close(p);
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	}
	if (c->insecure)
		fprintf(stderr, "warning: --insecure: the endpoint's TLS "
		    "certificate is not verified\n");
	*out = p;
	return 0;
}

int
hl_pve_forked(struct hl_pve *p, struct hl_err *e)
{
	/*
	 * The parent's connections are its own: cleaning them up here would
	 * end its TLS sessions on the shared sockets, so they are left as
	 * they are (the child exits soon) and new ones made.
	 */
	p->share = curl_share_init();
	if (p->share)
		curl_share_setopt(p->share, CURLSHOPT_SHARE,
		    CURL_LOCK_DATA_CONNECT);
	p->easy = curl_easy_init();
	if (p->share == NULL || p->easy == NULL)
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	return 0;
}

void
hl_pve_close(struct hl_pve *p)
{
	struct curl_slist *h;

	if (p == NULL)
		return;
	if (p->easy)
		curl_easy_cleanup(p->easy);
	if (p->share)
		curl_share_cleanup(p->share);
	/* the token lives in the first header: gone with it */
	for (h = p->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(p->headers);
	free(p->cfg.endpoint);
	free(p->cfg.cafile);
	free(p->cfg.fingerprint);
	free(p->cfg.cluster);
	free(p);
}

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
	x->fail = HL_PVE_FAIL_NONE;
	if (cc != CURLE_OK) {
		x->fail = p->seen_fp[0] || tls_error(cc) ? HL_PVE_FAIL_TLS :
		    HL_PVE_FAIL_CONNECT;
		if (p->seen_fp[0])
			return hl_err_set(e, HL_EXIT_REMOTE, "%s: the endpoint's "
			    "certificate %s is not the pinned %s", what,
			    p->seen_fp, p->cfg.fingerprint);
		return hl_err_set(e, HL_EXIT_REMOTE, "%s: %s", what,
		    x->curlerr[0] ? x->curlerr : curl_easy_strerror(cc));
	}
	x->fail = HL_PVE_FAIL_AUTH;
	if (status == 401 || status == 403)
		return hl_err_set(e, HL_EXIT_REMOTE, "%s: %ld %s", what, status,
		    x->reason[0] ? x->reason : "refused");
	x->fail = HL_PVE_FAIL_REPLY;
	reply = x->body.len ? jv_parse_sized(hl_buf_str(&x->body),
	    (int)x->body.len) : jv_invalid();
	if (status >= 200 && status < 300) {
		if (jv_get_kind(reply) != JV_KIND_OBJECT ||
		    !jv_object_has(jv_copy(reply), jv_string("data"))) {
			jv_free(reply);
			return hl_err_set(e, HL_EXIT_REMOTE, "%s: %ld, but the "
			    "reply is not PVE's JSON ({\"data\": ...})", what,
			    status);
		}
		*data = jv_object_get(reply, jv_string("data"));
		x->fail = HL_PVE_FAIL_NONE;
		return 0;
	}
	if (status >= 595 || status < 100) {
		jv_free(reply);
		x->fail = HL_PVE_FAIL_CONNECT;
		return hl_err_set(e, HL_EXIT_REMOTE, "%s: %ld %s", what, status,
		    x->reason);
	}
	x->fail = HL_PVE_FAIL_API;
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
	rc = hl_err_set(e, HL_EXIT_FAILED, "%s", hl_buf_str(&m));
	hl_buf_free(&m);
	return rc;
}

static int
retryable(enum hl_pve_kind kind, int rc, int status, const struct hl_err *e)
{
	if (rc == 0 || status == 401 || status == 403 ||
	    strstr(e->msg, "certificate") || strstr(e->msg, "SSL"))
		return 0;
	if (kind == HL_PVE_READ)
		return status == 0 || status >= 500 ||
		    strstr(e->msg, "not PVE's JSON") != NULL;
	if (kind == HL_PVE_WRITE)
		return strstr(e->msg, "got timeout") != NULL;
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

/*
 * Before the first call that changes anything: is this the cluster
 * lab.yaml names?  A mismatch refuses (exit 6) and nothing is sent.
 */
static int
check_identity(struct hl_pve *p, struct hl_err *e)
{
	jv st;
	const char *name = NULL;
	int rc;

	if (p->cfg.cluster == NULL || p->identity_ok)
		return 0;
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
	rc = hl_err_set(e, HL_EXIT_REFUSED, "refusing to change anything: "
	    "this is %s%s%s, not cluster '%s' that lab.yaml expects",
	    name ? "cluster '" : "not a cluster", name ? p->cluster_seen : "",
	    name ? "'" : "", p->cfg.cluster);
	return rc;
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
	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
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
		p->last = x.fail;
		hl_buf_free(&x.body);
		if (status)
			*status = x.status;
		if (p->seen_fp[0] || !retryable(kind, rc, x.status, e))
			break;
		jv_free(*data);
		*data = jv_null();
		if (attempt + 1 < ATTEMPTS)
			hl_pve_backoff(attempt);
	}
	hl_buf_free(&form);
	hl_buf_free(&url);
	hl_buf_free(&what);
	return rc;
}

enum hl_pve_fail
hl_pve_last_fail(const struct hl_pve *p)
{
	return p->last;
}

int
hl_pve_get(struct hl_pve *p, const char *path, jv *data, struct hl_err *e)
{
	return hl_pve_call(p, HL_PVE_READ, "GET", path, jv_null(), data, NULL,
	    e);
}

/* ---- many GETs at once ------------------------------------------------ */

void
hl_pve_get_all(struct hl_pve *p, struct hl_pve_req *reqs, size_t n)
{
	CURLM *m = curl_multi_init();
	CURL **h = calloc(n ? n : 1, sizeof(*h));
	struct hl_pve_xfer *x = calloc(n ? n : 1, sizeof(*x));
	struct hl_buf *urls = calloc(n ? n : 1, sizeof(*urls));
	size_t i, left = n;
	int attempt;

	for (i = 0; i < n; i++) {
		reqs[i].data = jv_null();
		reqs[i].rc = -1;
		reqs[i].status = 0;
		hl_err_set(&reqs[i].err, HL_EXIT_INTERNAL, "out of memory");
	}
	if (m == NULL || h == NULL || x == NULL || urls == NULL)
		goto out;
	/* 16 at once hide a far cluster's latency (20 ms x 500 reads: 0.6 s,
	 * not 2.5 s at 4); pveproxy keeps each in its event loop */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	p->seen_fp[0] = '\0';
	for (attempt = 0; attempt < ATTEMPTS && left > 0; attempt++) {
		int running = 1;
		CURLMsg *msg;
		int q;

		if (attempt)
			hl_pve_backoff(attempt - 1);
		for (i = 0; i < n; i++) {
			if (reqs[i].rc == 0 || (attempt && !retryable(
			    HL_PVE_READ, reqs[i].rc, reqs[i].status,
			    &reqs[i].err)))
				continue;
			hl_buf_free(&x[i].body);
			memset(&x[i], 0, sizeof(x[i]));
			if (h[i] == NULL)
				h[i] = curl_easy_init();
			if (h[i] == NULL)
				continue;
			curl_easy_reset(h[i]);
			if (hl_pve_setup(p, h[i], &x[i], &reqs[i].err) < 0)
				continue;
			hl_buf_free(&urls[i]);
			hl_pve_url(p, &urls[i], reqs[i].path, NULL);
			curl_easy_setopt(h[i], CURLOPT_URL, hl_buf_str(&urls[i]));
			curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)&reqs[i]);
			curl_multi_add_handle(m, h[i]);
		}
		while (running) {
			if (curl_multi_perform(m, &running) != CURLM_OK)
				break;
			if (running)
				curl_multi_poll(m, NULL, 0, 1000, NULL);
		}
		while ((msg = curl_multi_info_read(m, &q)) != NULL) {
			long st = 0;
			char what[512];

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < n && h[i] != msg->easy_handle; i++)
				;
			if (i == n)
				continue;
			curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
			snprintf(what, sizeof(what), "GET %s", reqs[i].path);
			jv_free(reqs[i].data);
			reqs[i].rc = hl_pve_result(p, &x[i], msg->data.result,
			    st, what, &reqs[i].data, &reqs[i].err);
			reqs[i].status = x[i].status;
			reqs[i].fail = x[i].fail;
			curl_multi_remove_handle(m, h[i]);
		}
		for (left = 0, i = 0; i < n; i++)
			if (reqs[i].rc != 0 && !p->seen_fp[0] && retryable(
			    HL_PVE_READ, reqs[i].rc, reqs[i].status,
			    &reqs[i].err))
				left++;
	}
out:
	for (i = 0; i < n; i++) {
		if (h && h[i])
			curl_easy_cleanup(h[i]);
		if (x)
			hl_buf_free(&x[i].body);
		if (urls)
			hl_buf_free(&urls[i]);
	}
	free(h);
	free(x);
	free(urls);
	if (m)
		curl_multi_cleanup(m);
}

int
hl_pve_num(jv v, double *out)
{
	const char *s;
	char *end;
	double d;

	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		d = jv_number_value(v);
		if (!isfinite(d))
			return -1;
		*out = d;
		return 0;
	}
	if (jv_get_kind(v) != JV_KIND_STRING)
		return -1;
	/* a decimal number only: no hex, inf, nan or trailing text */
	s = jv_string_value(v);
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	d = strtod(jv_string_value(v), &end);
	if (*end || !isfinite(d) || strpbrk(jv_string_value(v), "xXpPnNiI"))
		return -1;
	*out = d;
	return 0;
}

double
hl_pve_get_num(jv o, const char *key, double dflt)
{
	jv v = hl_json_get(jv_copy(o), key);
	double d = dflt;

	if (hl_pve_num(v, &d) < 0)
		d = dflt;
	jv_free(v);
	return d;
}

int
hl_pve_get_map(struct hl_pve *p, jv keys, jv paths, jv *out, struct hl_err *e)
{
	int n = jv_array_length(jv_copy(paths)), i, rc = 0;
	struct hl_pve_req *r = calloc(n + 1, sizeof(*r));

	if (r == NULL) {
		jv_free(keys);
		jv_free(paths);
		return hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		jv path = jv_array_get(jv_copy(paths), i);

		r[i].path = jv_get_kind(path) == JV_KIND_STRING ?
		    strdup(jv_string_value(path)) : NULL;
		jv_free(path);
		if (r[i].path == NULL)
			rc = -1;
	}
	if (rc == 0)
		hl_pve_get_all(p, r, n);
	else
		hl_err_set(e, HL_EXIT_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		if (rc == 0 && r[i].rc == 0)
			*out = jv_object_set(*out, jv_array_get(jv_copy(keys),
			    i), jv_copy(r[i].data));
		else if (rc == 0)
			rc = hl_err_set(e, r[i].err.code ? r[i].err.code :
			    HL_EXIT_REMOTE, "%s", r[i].err.msg);
		jv_free(r[i].data);
		free((char *)r[i].path);
	}
	free(r);
	jv_free(keys);
	jv_free(paths);
	return rc;
}

int
hl_pve_vms(struct hl_pve *p, jv *vms, struct hl_err *e)
{
	if (hl_pve_get(p, "/cluster/resources?type=vm", vms, e) < 0)
		return -1;
	if (jv_get_kind(*vms) != JV_KIND_ARRAY)
		return hl_err_set(e, HL_EXIT_REMOTE, "GET /cluster/resources: "
		    "not a list");
	return 0;
}
