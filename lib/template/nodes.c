/*
 * Which nodes a build goes to, and the builds on them at once, each in
 * its own worker (template.h: hl_tpl_known, hl_tpl_nodes,
 * hl_tpl_build_nodes).
 */
#include <stdio.h>
#include <string.h>

#include "core/fanout.h"
#include "core/json.h"
#include "template/template.h"

/* The nodes a build goes to: node; else, with all, every node a VM host
 * using the template sits on; else defaults.node. */
static jv
build_nodes(const struct hl_lab *lab, const char *name, const char *node,
    int all)
{
	jv out = jv_array();
	size_t i;

	if (node)
		return jv_array_append(out, jv_string(node));
	if (!all) {
		jv d = hl_json_get(jv_copy(lab->spec), "defaults");
		const char *n = hl_json_get_str(d, "node");

		if (n)
			out = jv_array_append(out, jv_string(n));
		jv_free(d);
		return out;
	}
	for (i = 0; i < lab->nhosts; i++) {
		jv h = hl_spec_host_json(lab, &lab->hosts[i]);
		jv t = hl_json_get(jv_copy(h), "template");
		const char *tn = hl_json_get_str(t, "name"),
		    *hn = hl_json_get_str(h, "node");

		if (tn && hn && strcmp(tn, name) == 0 &&
		    !lab->hosts[i].external)
			out = jv_array_append(out, jv_string(hn));
		jv_free(t);
		jv_free(h);
	}
	return hl_json_sorted_unique(out);
}

int
hl_tpl_known(const struct hl_lab *lab, const char *name, struct hl_err *e)
{
	if (jv_object_has(jv_copy(lab->templates), jv_string(name)))
		return 0;
	return hl_err_set(e, HL_E_LAB, "no template '%s': no valid "
	    "layers/L1/templates/%s.yaml", name, name);
}

int
hl_tpl_nodes(const struct hl_lab *lab, const char *name, const char *node,
    int all, jv *nodes, struct hl_err *e)
{
	*nodes = build_nodes(lab, name, node, all);
	if (jv_array_length(jv_copy(*nodes)) > 0)
		return 0;
	jv_free(*nodes);
	*nodes = jv_null();
	return hl_err_set(e, HL_E_USAGE, all ? "no host uses template '%s'" :
	    "no node: give --node or set defaults.node", name);
}

struct nodes_job {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const char *name;
	jv nodes;
	const struct hl_tpl_opts *o;
};

/* One node's build (job i), in its own process when forked: its entry,
 * with "code" its exit status. */
static jv
build_one(size_t i, int forked, void *arg)
{
	struct nodes_job *j = arg;
	struct hl_err be = { 0 };
	jv n = jv_array_get(jv_copy(j->nodes), (int)i), r = jv_null();
	int rc = forked ? hl_pve_forked(j->p, &be) : 0;

	if (rc == 0)
		rc = hl_tpl_build(j->p, j->lab, j->name, jv_string_value(n),
		    j->o, &r, &be);
	if (rc < 0) {
		char subject[300];

		snprintf(subject, sizeof(subject), "%s on %s", j->name,
		    jv_string_value(n));
		hl_note(j->o->progress, HL_NOTE_ERROR, subject, "%s", be.msg);
		jv_free(r);
		r = jv_object_set(jv_object_set(jv_object(),
		    jv_string("action"), jv_string("failed")),
		    jv_string("error"), hl_json_err(&be));
	}
	r = jv_object_set(r, jv_string("name"), jv_string(j->name));
	r = jv_object_set(r, jv_string("node"), n);
	return jv_object_set(r, jv_string("code"), jv_number(rc < 0 ?
	    be.code : HL_EXIT_OK));
}

/* A node whose worker died: its entry. */
static jv
build_died(size_t i, const char *how, void *arg)
{
	struct nodes_job *j = arg;
	struct hl_err de;
	jv n = jv_array_get(jv_copy(j->nodes), (int)i), r;

	hl_err_set(&de, HL_E_INTERNAL, "%s on %s: its worker %s; build again",
	    j->name, jv_string_value(n), how);
	hl_note(j->o->progress, HL_NOTE_ERROR, NULL, "%s", de.msg);
	r = jv_object_set(jv_object(), jv_string("action"),
	    jv_string("failed"));
	r = jv_object_set(r, jv_string("error"), hl_json_err(&de));
	r = jv_object_set(r, jv_string("name"), jv_string(j->name));
	r = jv_object_set(r, jv_string("node"), n);
	return jv_object_set(r, jv_string("code"), jv_number(de.code));
}

int
hl_tpl_build_nodes(struct hl_pve *p, const struct hl_lab *lab,
    const char *name, jv nodes, const struct hl_tpl_opts *o, jv *result)
{
	struct nodes_job j = { p, lab, name, nodes, o };
	jv results;
	int code;

	/* the nodes at once, each in its own process: one node's failure
	 * (or crash) is its own, the others are still built */
	results = hl_fanout_collect(hl_fanout((size_t)jv_array_length(
	    jv_copy(nodes)), 8, build_one, &j), &code, build_died, &j);
	jv_free(nodes);
	*result = jv_object_set(jv_object(), jv_string("templates"), results);
	if (o->dry_run)
		*result = jv_object_set(*result, jv_string("dry_run"),
		    jv_true());
	return code;
}
