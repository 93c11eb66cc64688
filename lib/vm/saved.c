/*
 * Saved plans (hl-vm plan -o FILE, apply --plan FILE): what a plan was
 * made from, so that apply can refuse (6) when any of it no longer holds.
 *
 *   {"hl_vm_plan": 1, "lab", "spec_commit",
 *    "channels": [{template, channel, node, artifact}],
 *    "hosts": [{name, action, changes, ..., "expect": {"exists": false} |
 *               {"exists": true, "vmid", "digest"}}]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

#define PLAN_CAP (16 << 20)

static const struct hl_host *
host_named(const struct hl_lab *lab, const char *name)
{
	size_t i;

	for (i = 0; name && i < lab->nhosts; i++)
		if (strcmp(lab->hosts[i].name, name) == 0)
			return &lab->hosts[i];
	return NULL;
}

/* The channel a host's template comes from, on node, as recorded. */
static jv
channel_of(jv h, jv channels, const char *node)
{
	jv tpl = hl_json_get(jv_copy(h), "template"), o;
	const char *name = hl_json_get_str(tpl, "name"),
	    *ch = hl_json_get_str(tpl, "channel");
	char *art = node ? hl_registry_host_artifact(channels, h, node) : NULL;

	o = jv_object_set(jv_object(), jv_string("template"), name ?
	    jv_string(name) : jv_null());
	o = jv_object_set(o, jv_string("channel"), jv_string(ch ? ch :
	    "stable"));
	o = jv_object_set(o, jv_string("node"), node ? jv_string(node) :
	    jv_null());
	o = jv_object_set(o, jv_string("artifact"), art ? jv_string(art) :
	    jv_null());
	free(art);
	jv_free(tpl);
	return o;
}

/* What the host's VM is now: {"exists": false} or its vmid and digest. */
static jv
expect_of(struct view *v, const char *name)
{
	jv res = hl_json_get(jv_copy(v->managed), name), conf, o;

	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		jv_free(res);
		return jv_object_set(jv_object(), jv_string("exists"),
		    jv_false());
	}
	conf = hl_json_get(jv_copy(v->configs), name);
	o = jv_object_set(jv_object(), jv_string("exists"), jv_true());
	o = jv_object_set(o, jv_string("vmid"), hl_json_get(jv_copy(res),
	    "vmid"));
	o = jv_object_set(o, jv_string("digest"), hl_json_get(jv_copy(conf),
	    "digest"));
	jv_free(conf);
	jv_free(res);
	return o;
}

jv
saved_make(const struct hl_lab *lab, jv hosts, struct view *v, jv channels,
    const char *head)
{
	jv out = jv_object_set(jv_object(), jv_string("hl_vm_plan"),
	    jv_number(1)), rec = jv_array(), list = jv_array();

	out = jv_object_set(out, jv_string("lab"), jv_copy(lab->id));
	out = jv_object_set(out, jv_string("spec_commit"), jv_string(head));
	jv_array_foreach(hosts, i, ph) {
		const char *name = hl_json_get_str(ph, "name");
		const struct hl_host *hh = host_named(lab, name);
		jv h = hh ? hl_spec_host_json(lab, hh) : jv_null();

		rec = jv_array_append(rec, channel_of(h, channels,
		    hl_json_get_str(h, "node")));
		list = jv_array_append(list, jv_object_set(ph, jv_string(
		    "expect"), expect_of(v, name)));
		jv_free(h);
	}
	jv_free(hosts);
	out = jv_object_set(out, jv_string("channels"),
	    hl_json_sorted_unique(rec));
	return jv_object_set(out, jv_string("hosts"), list);
}

int
saved_write(const char *path, jv saved, struct hl_err *e)
{
	jv text = jv_dump_string(saved, JV_PRINT_PRETTY | JV_PRINT_SORTED);
	struct hl_buf b = { 0 };
	int rc = 0;

	hl_buf_printf(&b, "%s\n", jv_string_value(text));
	rc = hl_file_write(path, &b, 0644, e);
	hl_buf_free(&b);
	jv_free(text);
	return rc;
}

int
hl_vm_plan_read(const char *path, jv *saved, struct hl_err *e)
{
	char *text = NULL;
	size_t n = 0;
	enum hl_file_status st = hl_file_read(path, PLAN_CAP, &text, &n);
	jv hosts;

	*saved = jv_null();
	if (st != HL_FILE_OK)
		return hl_err_set(e, HL_E_USAGE, "%s %s", path,
		    hl_file_strerror(st, 0));
	*saved = jv_parse_sized(text, (int)n);
	free(text);
	hosts = hl_json_get(jv_copy(*saved), "hosts");
	if (!jv_is_valid(*saved) || jv_get_kind(*saved) != JV_KIND_OBJECT ||
	    hl_pve_get_num(*saved, "hl_vm_plan", 0) != 1 ||
	    jv_get_kind(hosts) != JV_KIND_ARRAY ||
	    !hl_json_get_str(*saved, "spec_commit") ||
	    !hl_json_get_str(*saved, "lab")) {
		jv_free(hosts);
		jv_free(*saved);
		*saved = jv_null();
		return hl_err_set(e, HL_E_USAGE, "%s: not a plan hl-vm "
		    "plan -o wrote", path);
	}
	jv_free(hosts);
	return 0;
}

/* Append "what: why" to the reasons. */
static void
why(jv *reasons, const char *fmt, const char *a, const char *b)
{
	char msg[600];

	snprintf(msg, sizeof(msg), fmt, a, b ? b : "none");
	*reasons = jv_array_append(*reasons, jv_string(msg));
}

int
saved_check(const struct hl_lab *lab, jv saved, struct view *v, jv channels,
    const char *head, unsigned char *picked,
    const struct hl_progress *progress, struct hl_err *e)
{
	jv reasons = jv_array(), hosts = hl_json_get(jv_copy(saved), "hosts"),
	    recs = hl_json_get(jv_copy(saved), "channels");
	const char *sc = hl_json_get_str(saved, "spec_commit");
	int pending = 0, n;

	memset(picked, 0, lab->nhosts);
	if (strcmp(hl_json_get_str(saved, "lab"), hl_json_str(lab->id)) != 0)
		why(&reasons, "the plan is for lab %s, not %s",
		    hl_json_get_str(saved, "lab"), hl_json_str(lab->id));
	if (head == NULL || strcmp(sc, head) != 0)
		why(&reasons, "HEAD moved since the plan (%.12s, now %.12s)",
		    sc, head);
	if (jv_get_kind(recs) == JV_KIND_ARRAY) {
		jv_array_foreach(recs, i, r) {
			const char *t = hl_json_get_str(r, "template");
			char *now = t ? hl_registry_channel_artifact(channels, t,
			    hl_json_get_str(r, "channel"), hl_json_get_str(r,
			    "node")) : NULL;
			const char *was = hl_json_get_str(r, "artifact");
			char what[300];

			snprintf(what, sizeof(what), "%s@%s on %s", t ? t : "?",
			    hl_json_get_str(r, "channel"), hl_json_get_str(r,
			    "node") ? hl_json_get_str(r, "node") : "?");
			if ((now == NULL) != (was == NULL) || (now && was &&
			    strcmp(now, was) != 0))
				why(&reasons, "the channel %s moved since the "
				    "plan (to %s)", what, now);
			free(now);
			jv_free(r);
		}
	}
	jv_array_foreach(hosts, i, ph) {
		const char *name = hl_json_get_str(ph, "name");
		const struct hl_host *hh = name ? host_named(lab, name) : NULL;
		jv want = hl_json_get(jv_copy(ph), "expect"), now, h, again;

		if (hh == NULL) {
			why(&reasons, "%s: no such host in the specs now",
			    name ? name : "?", NULL);
			jv_free(want);
			jv_free(ph);
			continue;
		}
		picked[hh - lab->hosts] = 1;
		now = expect_of(v, name);
		if (!jv_equal(jv_copy(want), jv_copy(now))) {
			int was = hl_json_get_kind(want, "exists") ==
			    JV_KIND_TRUE, is = hl_json_get_kind(now, "exists") ==
			    JV_KIND_TRUE;

			why(&reasons, "%s: %s since the plan", name, !was && is ?
			    "its VM appeared" : was && !is ? "its VM disappeared"
			    : "its VM changed (config digest)");
		} else {
			/* the same inputs must give the same plan */
			h = hl_spec_host_json(lab, hh);
			again = plan_host(lab, h, v, channels, &pending);
			again = jv_object_set(again, jv_string("expect"),
			    jv_copy(want));
			if (!jv_equal(jv_copy(again), jv_copy(ph)))
				why(&reasons, "%s: the plan for it is not the "
				    "one saved", name, NULL);
			jv_free(again);
			jv_free(h);
		}
		jv_free(now);
		jv_free(want);
		jv_free(ph);
	}
	jv_free(hosts);
	jv_free(recs);
	n = jv_array_length(jv_copy(reasons));
	if (n > 0) {
		jv first = jv_array_get(jv_copy(reasons), 0);

		hl_err_set(e, HL_E_REFUSED, "the saved plan no longer holds: "
		    "%s%s", jv_string_value(first), n > 1 ? " (and more: see "
		    "stderr)" : "");
		jv_array_foreach(reasons, i, r) {
			hl_note(progress, HL_NOTE_ERROR, NULL, "the saved plan no "
			    "longer holds: %s", jv_string_value(r));
			jv_free(r);
		}
		jv_free(first);
	}
	jv_free(reasons);
	return n > 0 ? -1 : 0;
}
