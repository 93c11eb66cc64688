/*
 * hl-deploy's plan and apply (deploy.h): per host, in parallel, one state
 * call to its host side, each declared stack's release compared with
 * what runs there, and (apply) each one that changed deployed and
 * health-gated, one after another.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/exit.h"
#include "core/fanout.h"
#include "core/json.h"
#include "deploy/deploy_impl.h"
#include "spec/spec.h"

#define STATE_TIMEOUT 120.0

struct run {
	const struct hl_lab *lab;
	const struct hl_dp_opts *o;
	const struct hl_host **hosts;	/* the picked ones */
	int apply;
};

int
hl_dp_secrets(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_err *e)
{
	for (size_t i = 0; i < lab->nhosts; i++) {
		jv hj, stacks;
		int rc = 0;

		if (picked && !picked[i])
			continue;
		hj = hl_spec_host_json(lab, &lab->hosts[i]);
		stacks = hl_json_get(hj, "stacks");
		if (jv_get_kind(stacks) == JV_KIND_ARRAY)
			jv_array_foreach(stacks, j, s) {
				jv sec = hl_json_get(hl_json_get(jv_copy(
				    lab->stacks), jv_string_value(s)),
				    "secrets");

				if (rc == 0 && jv_get_kind(sec) == JV_KIND_ARRAY)
					jv_array_foreach(sec, k, v) {
						const char *n = jv_string_value(v);

						if (rc == 0 && (getenv(n) == NULL))
							rc = hl_err_set(e, HL_E_LAB,
							    "stack %s (host %s) needs "
							    "the secret %s from the "
							    "environment: it is not set",
							    jv_string_value(s),
							    lab->hosts[i].name, n);
						jv_free(v);
					}
				jv_free(sec);
				jv_free(s);
			}
		jv_free(stacks);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The names in a that b lacks or holds with another value (both objects
 * NAME -> hash), sorted. */
static jv
differ(jv a, jv b)
{
	jv out = jv_array();

	if (jv_get_kind(a) == JV_KIND_OBJECT)
		jv_object_foreach(a, k, v) {
			jv w = hl_json_get(jv_copy(b), jv_string_value(k));

			if (!jv_equal(v, w))
				out = jv_array_append(out, jv_copy(k));
			jv_free(k);
		}
	if (jv_get_kind(b) == JV_KIND_OBJECT)
		jv_object_foreach(b, k, v) {
			if (hl_json_get_kind(a, jv_string_value(k)) ==
			    JV_KIND_NULL)
				out = jv_array_append(out, jv_copy(k));
			jv_free(k);
			jv_free(v);
		}
	jv_free(a);
	jv_free(b);
	return hl_json_sorted_unique(out);
}

/* Containers as the document lists them: {service, state, health}. */
static jv
shown(jv conts)
{
	jv out = jv_array();

	if (jv_get_kind(conts) == JV_KIND_ARRAY)
		jv_array_foreach(conts, i, c) {
			jv o = jv_object_set(jv_object(), jv_string("service"),
			    hl_json_get(jv_copy(c), "service"));

			o = jv_object_set(o, jv_string("state"),
			    hl_json_get(jv_copy(c), "state"));
			o = jv_object_set(o, jv_string("health"),
			    hl_json_get(c, "health"));
			out = jv_array_append(out, o);
		}
	jv_free(conts);
	return out;
}

/* What plan says of one declared stack, from rel and the host's state. */
static jv
compare(const char *name, const struct dp_release *rel, jv remote)
{
	const char *cur = hl_json_get_str(remote, "current");
	jv s = jv_object_set(jv_object(), jv_string("name"), jv_string(name)),
	    man = hl_json_get(jv_copy(remote), "manifest"), problems =
	    hl_json_get(jv_copy(remote), "problems");
	const char *action;

	s = jv_object_set(s, jv_string("digest"), jv_string(rel->digest));
	s = jv_object_set(s, jv_string("current"), cur ? jv_string(cur) :
	    jv_null());
	if (cur == NULL) {
		action = "deploy";
		s = jv_object_set(s, jv_string("reason"), jv_string("new"));
	} else if (strcmp(cur, rel->digest) != 0) {
		action = "deploy";
		s = jv_object_set(s, jv_string("reason"), jv_string("changed"));
		s = jv_object_set(s, jv_string("files"), differ(hl_json_get(
		    jv_copy(rel->manifest), "files"), hl_json_get(jv_copy(man),
		    "files")));
		s = jv_object_set(s, jv_string("env"), differ(hl_json_get(
		    jv_copy(rel->manifest), "env"), hl_json_get(jv_copy(man),
		    "env")));
	} else if (jv_get_kind(problems) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(problems)) > 0) {
		action = "unhealthy";
	} else {
		action = "unchanged";
	}
	s = jv_object_set(s, jv_string("action"), jv_string(action));
	s = jv_object_set(s, jv_string("problems"), jv_get_kind(problems) ==
	    JV_KIND_ARRAY ? problems : (jv_free(problems), jv_array()));
	s = jv_object_set(s, jv_string("containers"), shown(hl_json_get(
	    jv_copy(remote), "containers")));
	jv_free(man);
	jv_free(remote);
	return s;
}

/* Deploy one stack's release; its entry in the document. */
static jv
deploy(struct run *r, const struct hl_reach *reach, const char *name,
    struct dp_release *rel, jv planned, int *code)
{
	const struct hl_dp_opts *o = r->o;
	jv req = jv_object(), res, s = planned;
	struct hl_err e = { 0 };
	double t0 = hl_clock();

	hl_note(o->progress, HL_NOTE_PROGRESS, reach->ssh.alias, "%s: "
	    "deploying release %s", name, rel->digest);
	req = jv_object_set(req, jv_string("name"), jv_string(name));
	req = jv_object_set(req, jv_string("digest"), jv_string(rel->digest));
	req = jv_object_set(req, jv_string("compose"), jv_string(rel->compose));
	req = jv_object_set(req, jv_string("probes"), jv_copy(rel->probes));
	req = jv_object_set(req, jv_string("timeout"), jv_number(rel->timeout));
	req = jv_object_set(req, jv_string("commit"), o->commit ?
	    jv_string(o->commit) : jv_null());
	req = jv_object_set(req, jv_string("dirty"), jv_bool(o->dirty));
	/* --force over the same release: its containers made anew */
	req = jv_object_set(req, jv_string("force"), jv_bool(o->force));
	if (dp_agent(reach, "deploy", req, &rel->tar, rel->timeout * 2 + 600,
	    &res, &e) < 0) {
		*code = hl_exit_worse(*code, e.code);
		hl_note(o->progress, HL_NOTE_ERROR, reach->ssh.alias, "%s: %s",
		    name, e.msg);
		s = jv_object_set(s, jv_string("action"), jv_string("failed"));
		s = jv_object_set(s, jv_string("error"), hl_json_err(&e));
		jv_free(res);
		return s;
	}
	s = jv_object_set(s, jv_string("previous"), hl_json_get(jv_copy(res),
	    "previous"));
	s = jv_object_set(s, jv_string("healthy"), hl_json_get(jv_copy(res),
	    "healthy"));
	s = jv_object_set(s, jv_string("rolled_back"), hl_json_get(jv_copy(res),
	    "rolled_back"));
	s = jv_object_set(s, jv_string("containers"), shown(hl_json_get(
	    jv_copy(res), "containers")));
	s = jv_object_set(s, jv_string("problems"), hl_json_get(jv_copy(res),
	    "problems"));
	s = jv_object_set(s, jv_string("duration_s"), jv_number(
	    (double)(long)((hl_clock() - t0) * 10 + 0.5) / 10));
	if (hl_json_get_kind(res, "healthy") == JV_KIND_TRUE) {
		s = jv_object_set(s, jv_string("action"), jv_string("deployed"));
		hl_note(o->progress, HL_NOTE_PROGRESS, reach->ssh.alias, "%s: "
		    "release %s up and healthy", name, rel->digest);
	} else {
		s = jv_object_set(s, jv_string("action"), jv_string("failed"));
		s = jv_object_set(s, jv_string("logs"), hl_json_get(jv_copy(res),
		    "logs"));
		s = jv_object_set(s, jv_string("rollback_healthy"),
		    hl_json_get(jv_copy(res), "rollback_healthy"));
		*code = hl_exit_worse(*code, HL_EXIT_FAILED);
		hl_note(o->progress, HL_NOTE_ERROR, reach->ssh.alias, "%s: "
		    "release %s failed its health gate%s", name, rel->digest,
		    hl_json_get_kind(res, "rolled_back") == JV_KIND_TRUE ?
		    (hl_json_get_kind(res, "rollback_healthy") == JV_KIND_TRUE
		    ? "; the previous release is back and healthy" : "; the "
		    "previous release is back but not healthy") : "; no "
		    "previous release to go back to");
	}
	jv_free(res);
	return s;
}

/* One host: its state, each stack compared, (apply) deployed. */
static jv
one_host(size_t i, int forked, void *arg)
{
	struct run *r = arg;
	const struct hl_host *h = r->hosts[i];
	jv hj = hl_spec_host_json(r->lab, h), stacks = hl_json_get(jv_copy(hj),
	    "stacks"), req = jv_object(), state = jv_null(), out = jv_array(),
	    entry = jv_object_set(jv_object(), jv_string("name"),
	    jv_string(h->name)), remote;
	struct dp_release *rels = NULL;
	struct hl_reach reach;
	struct hl_err e = { 0 };
	int code = 0, n = 0;

	(void)forked;
	if (jv_get_kind(stacks) != JV_KIND_ARRAY) {
		jv_free(stacks);
		stacks = jv_array();
	}
	n = jv_array_length(jv_copy(stacks));
	rels = calloc((size_t)n + 1, sizeof(*rels));
	if (hl_reach(r->lab, h, hj, &reach) < 0) {
		code = hl_err_set(&e, HL_E_SSH, "%s: no address to reach it at "
		    "(a DHCP host hl-vm has not seen running)", h->name);
		goto fail;
	}
	jv_array_foreach(stacks, j, s) {
		if (code == 0 && dp_release(r->lab, hj, jv_string_value(s),
		    &rels[j], &e) < 0)
			code = -1;
		else if (code == 0)
			req = jv_object_set(req, jv_copy(s), jv_object_set(
			    jv_object(), jv_string("probes"),
			    jv_copy(rels[j].probes)));
		jv_free(s);
	}
	if (code < 0)
		goto fail;
	if (dp_agent(&reach, "state", jv_object_set(jv_object(),
	    jv_string("stacks"), req), NULL, STATE_TIMEOUT, &state, &e) < 0) {
		req = jv_null();
		goto fail;
	}
	req = jv_null();
	remote = hl_json_get(jv_copy(state), "stacks");
	jv_array_foreach(stacks, j, s) {
		const char *name = jv_string_value(s);
		jv st = compare(name, &rels[j], hl_json_get(jv_copy(remote),
		    name));
		const char *act = hl_json_get_str(st, "action");

		if (r->apply && (strcmp(act, "unchanged") != 0 ||
		    r->o->force))
			st = deploy(r, &reach, name, &rels[j], st, &code);
		else if (r->apply)
			st = jv_object_set(st, jv_string("healthy"), jv_true());
		out = jv_array_append(out, st);
		jv_free(s);
	}
	/* deployed there, declared nowhere now */
	jv_object_foreach(remote, k, v) {
		int declared = 0;

		jv_array_foreach(stacks, j, s) {
			declared |= strcmp(jv_string_value(s),
			    jv_string_value(k)) == 0;
			jv_free(s);
		}
		if (!declared && hl_json_get_kind(v, "deployed") ==
		    JV_KIND_TRUE) {
			jv o = jv_object_set(jv_object_set(jv_object(),
			    jv_string("name"), jv_copy(k)), jv_string("action"),
			    jv_string("orphan"));
			jv pres;

			if (r->apply && r->o->prune && r->o->yes) {
				if (dp_agent(&reach, "prune", jv_object_set(
				    jv_object(), jv_string("name"), jv_copy(k)),
				    NULL, 300, &pres, &e) < 0) {
					code = hl_exit_worse(code, e.code);
					o = jv_object_set(o, jv_string("error"),
					    hl_json_err(&e));
				} else {
					o = jv_object_set(o, jv_string("action"),
					    jv_string("pruned"));
				}
				jv_free(pres);
			}
			out = jv_array_append(out, o);
		}
		jv_free(k);
		jv_free(v);
	}
	jv_free(remote);
	entry = jv_object_set(entry, jv_string("compose"),
	    hl_json_get(jv_copy(state), "compose"));
	goto done;
fail:
	code = e.code;
	hl_note(r->o->progress, HL_NOTE_ERROR, h->name, "%s", e.msg);
	entry = jv_object_set(entry, jv_string("error"), hl_json_err(&e));
done:
	entry = jv_object_set(entry, jv_string("stacks"), out);
	entry = jv_object_set(entry, jv_string("code"), jv_number(code));
	for (int j = 0; j < n; j++)
		dp_release_free(&rels[j]);
	free(rels);
	hl_reach_free(&reach);
	jv_free(req);
	jv_free(state);
	jv_free(stacks);
	jv_free(hj);
	return entry;
}

static jv
died(size_t i, const char *how, void *arg)
{
	struct run *r = arg;

	return jv_object_set(jv_object_set(jv_object_set(jv_object(),
	    jv_string("name"), jv_string(r->hosts[i]->name)),
	    jv_string("error"), jv_string(how)), jv_string("code"),
	    jv_number(HL_EXIT_INTERNAL));
}

static int
run_all(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_dp_opts *o, int apply, jv *res, struct hl_err *e)
{
	struct run r = { lab, o, NULL, apply };
	size_t n = 0;
	int code = 0;
	jv hosts;

	*res = jv_null();
	if (hl_dp_secrets(lab, picked, e) < 0)
		return e->code;
	r.hosts = calloc(lab->nhosts + 1, sizeof(*r.hosts));
	if (r.hosts == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory"), e->code;
	for (size_t i = 0; i < lab->nhosts; i++)
		if (!picked || picked[i])
			r.hosts[n++] = &lab->hosts[i];
	hosts = hl_fanout_collect(hl_fanout(n, o->parallel > 0 ? o->parallel :
	    8, one_host, &r), &code, died, &r);
	free(r.hosts);
	if (!apply && o->exit_code && code == 0)
		jv_array_foreach(hosts, i, h) {
			jv st = hl_json_get(h, "stacks");

			jv_array_foreach(st, j, s) {
				if (strcmp(hl_json_get_str(s, "action"),
				    "unchanged") != 0)
					code = 1;
				jv_free(s);
			}
			jv_free(st);
		}
	*res = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (code > 1)
		hl_err_set(e, code == HL_EXIT_FAILED ? HL_E_FAILED : code ==
		    HL_EXIT_REMOTE ? HL_E_SSH : HL_E_INTERNAL, "%s",
		    code == HL_EXIT_FAILED ? "a stack failed on a host (see "
		    "each host)" : "a host was not reached or refused us (see "
		    "each host)");
	return code;
}

int
hl_dp_plan(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_dp_opts *o, jv *res, struct hl_err *e)
{
	return run_all(lab, picked, o, 0, res, e);
}

int
hl_dp_apply(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_dp_opts *o, jv *res, struct hl_err *e)
{
	return run_all(lab, picked, o, 1, res, e);
}
