/*
 * Many GETs at once through curl multi, and reading numbers out of PVE's
 * replies (pve.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/num.h"
#include "pve/pve.h"
#include "pve/pve_impl.h"

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
		hl_err_set(&reqs[i].err, HL_E_INTERNAL, "out of memory");
	}
	if (m == NULL || h == NULL || x == NULL || urls == NULL)
		goto out;
	/* 16 at once hide a far cluster's latency (20 ms x 500 reads: 0.6 s,
	 * not 2.5 s at 4); pveproxy keeps each in its event loop */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	p->seen_fp[0] = '\0';
	for (attempt = 0; attempt < HL_PVE_ATTEMPTS && left > 0; attempt++) {
		int running = 1;
		CURLMsg *msg;
		int q;

		if (attempt)
			hl_pve_backoff(attempt - 1);
		for (i = 0; i < n; i++) {
			if (reqs[i].rc == 0 || (attempt && !hl_pve_retryable(
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
			curl_multi_remove_handle(m, h[i]);
		}
		for (left = 0, i = 0; i < n; i++)
			if (reqs[i].rc != 0 && !p->seen_fp[0] && hl_pve_retryable(
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
	return hl_num_double(jv_string_value(v), out);
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
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
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
		hl_err_set(e, HL_E_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		if (rc == 0 && r[i].rc == 0)
			*out = jv_object_set(*out, jv_array_get(jv_copy(keys),
			    i), jv_copy(r[i].data));
		else if (rc == 0)
			rc = hl_err_copy(e, &r[i].err);
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
		return hl_err_set(e, HL_E_REPLY, "GET /cluster/resources: "
		    "not a list");
	return 0;
}

int
hl_pve_free_vmid(struct hl_pve *p, int first, int last, int *vmid,
    struct hl_err *e)
{
	for (int v = first; v > 0 && v <= last; v++) {
		char path[64];
		struct hl_err ve = { 0 };
		int status = 0;
		jv d;

		snprintf(path, sizeof(path), "/cluster/nextid?vmid=%d", v);
		if (hl_pve_call(p, HL_PVE_READ, "GET", path, jv_null(), &d,
		    &status, &ve) == 0) {
			jv_free(d);
			*vmid = v;
			return 0;
		}
		jv_free(d);
		/* 400: "VM N already exists" */
		if (status != 400) {
			hl_err_copy(e, &ve);
			return -1;
		}
	}
	return 1;
}
