/*
 * Channels: which artifact of a template each channel (stable, canary)
 * points to, per node, in layers/L1/channels.yaml.  promote and rollback
 * move them, gc removes what nothing needs; each commits its own files
 * only (DESIGN.md 2.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git.h"
#include "json.h"
#include "template_impl.h"

#define CHANNELS "layers/L1/channels.yaml"

static jv
fail_doc(struct hl_err *e)
{
	fprintf(stderr, "hl-template: %s\n", e->msg);
	return jv_object_set(jv_object(), jv_string("error"), jv_object_set(
	    jv_object_set(jv_object(), jv_string("message"),
	    jv_string(e->msg)), jv_string("code"), jv_number(e->code)));
}

/* channels.yaml from channels (borrowed), keys sorted. */
static int
write_channels(const struct hl_lab *lab, jv channels, struct hl_err *e)
{
	char path[4096], tmp[4200];
	FILE *f;
	jv names;

	snprintf(path, sizeof(path), "%s/layers/L1", lab->root);
	tb_mkdirs(path);
	snprintf(path, sizeof(path), "%s/%s", lab->root, CHANNELS);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return hl_err_set(e, HL_EXIT_INTERNAL, "%s: cannot write", tmp);
	fprintf(f, "# Written by hl-template (promote, rollback, gc): the "
	    "artifact each\n# channel of each template points to, per "
	    "node.\n");
	names = jv_keys(jv_copy(channels));
	jv_array_foreach(names, i, name) {
		jv chs = hl_json_get(jv_copy(channels), jv_string_value(name));
		jv chk = jv_get_kind(chs) == JV_KIND_OBJECT ?
		    jv_keys(jv_copy(chs)) : jv_array();

		fprintf(f, "%s:\n", jv_string_value(name));
		jv_array_foreach(chk, k, ch) {
			jv nodes = hl_json_get(jv_copy(chs),
			    jv_string_value(ch));
			jv nk = jv_get_kind(nodes) == JV_KIND_OBJECT ?
			    jv_keys(jv_copy(nodes)) : jv_array();

			fprintf(f, "  %s:\n", jv_string_value(ch));
			jv_array_foreach(nk, m, n) {
				jv id = hl_json_get(jv_copy(nodes),
				    jv_string_value(n));

				if (hl_json_str(id))
					fprintf(f, "    %s: %s\n",
					    jv_string_value(n),
					    hl_json_str(id));
				jv_free(id);
				jv_free(n);
			}
			jv_free(nk);
			jv_free(nodes);
			jv_free(ch);
		}
		jv_free(chk);
		jv_free(chs);
		jv_free(name);
	}
	jv_free(names);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return hl_err_set(e, HL_EXIT_INTERNAL, "%s: cannot write",
		    path);
	return 0;
}

/* Set channels[name][channel][node] = id (a string, or null to drop). */
static jv
set_channel(jv channels, const char *name, const char *channel,
    const char *node, const char *id)
{
	jv chs = hl_json_get(jv_copy(channels), name);
	jv nodes;

	if (jv_get_kind(chs) != JV_KIND_OBJECT) {
		jv_free(chs);
		chs = jv_object();
	}
	nodes = hl_json_get(jv_copy(chs), channel);
	if (jv_get_kind(nodes) != JV_KIND_OBJECT) {
		jv_free(nodes);
		nodes = jv_object();
	}
	nodes = id ? jv_object_set(nodes, jv_string(node), jv_string(id)) :
	    jv_object_delete(nodes, jv_string(node));
	chs = jv_object_set(chs, jv_string(channel), nodes);
	return jv_object_set(channels, jv_string(name), chs);
}

/* Write channels, then commit them and files (NULL-terminated) unless
 * commit is 0; *hex gets the commit. */
static int
save(const struct hl_lab *lab, jv channels, const char **files, int commit,
    const char *msg, char *hex, struct hl_err *e)
{
	hex[0] = '\0';
	if (write_channels(lab, channels, e) < 0)
		return -1;
	if (!commit)
		return 0;
	return hl_git_commit(lab->root, files, msg, hex, e);
}

static jv
result(const char *name, const char *channel, jv nodes, jv previous,
    const char *hex)
{
	jv o = jv_object_set(jv_object(), jv_string("template"),
	    jv_string(name));

	o = jv_object_set(o, jv_string("channel"), jv_string(channel));
	o = jv_object_set(o, jv_string("nodes"), nodes);
	o = jv_object_set(o, jv_string("previous"), previous);
	return jv_object_set(o, jv_string("commit"), hex[0] ?
	    jv_string(hex) : jv_null());
}

int
hl_tpl_promote(const struct hl_lab *lab, const char *name, const char *node,
    const char *channel, const char *artifact, int commit, jv *doc)
{
	jv arts = hl_tpl_artifacts(lab, name, node), chosen = jv_null();
	jv channels = hl_tpl_channels(lab), nodes = jv_object(),
	    previous = jv_object(), targets;
	struct hl_err e = { 0 };
	const char *files[66] = { CHANNELS };
	char msg[512], hex[64] = "";
	int n = 1, code = HL_EXIT_OK;
	const char *digest;

	/* the artifact named, else the newest */
	jv_array_foreach(arts, i, a) {
		const char *id = hl_json_get_str(a, "id");

		if (artifact ? strcmp(id, artifact) == 0 :
		    (jv_get_kind(chosen) == JV_KIND_NULL ||
		    strcmp(id, hl_json_get_str(chosen, "id")) > 0)) {
			jv_free(chosen);
			chosen = jv_copy(a);
		}
		jv_free(a);
	}
	if (jv_get_kind(chosen) == JV_KIND_NULL) {
		hl_err_set(&e, HL_EXIT_NO, artifact ? "no artifact '%s' of %s%s%s"
		    : "%s%s%s has no artifact: hl-template build it first",
		    artifact ? artifact : name, artifact ? name : "",
		    node ? " on " : "", node ? node : "");
		goto fail;
	}
	digest = hl_json_get_str(chosen, "digest");
	/* on every node that has it: its newest artifact of that digest */
	jv_array_foreach(arts, i, a) {
		const char *id = hl_json_get_str(a, "id"),
		    *an = hl_json_get_str(a, "node"),
		    *d = hl_json_get_str(a, "digest");
		const char *have = hl_json_get_str(nodes, an);

		if (d && digest && strcmp(d, digest) == 0 &&
		    (!artifact || !node || strcmp(id, artifact) == 0) &&
		    (!have || strcmp(id, have) > 0))
			nodes = jv_object_set(nodes, jv_string(an),
			    jv_string(id));
		jv_free(a);
	}
	targets = jv_copy(nodes);
	jv_object_foreach(targets, k, id) {
		char *old = hl_tpl_channel_artifact(channels, name, channel,
		    jv_string_value(k));
		char f[1024];

		previous = jv_object_set(previous, jv_copy(k), old ?
		    jv_string(old) : jv_null());
		free(old);
		channels = set_channel(channels, name, channel,
		    jv_string_value(k), jv_string_value(id));
		snprintf(f, sizeof(f), "layers/L1/artifacts/%s/%s/%s.json",
		    name, jv_string_value(k), jv_string_value(id));
		if (n < 65)
			files[n++] = strdup(f);
		jv_free(k);
		jv_free(id);
	}
	jv_free(targets);
	snprintf(msg, sizeof(msg), "hl-template: promote %s to %s (%s)", name,
	    channel, hl_json_get_str(chosen, "id"));
	if (save(lab, channels, files, commit, msg, hex, &e) < 0)
		goto fail;
	*doc = result(name, channel, nodes, previous, hex);
	nodes = previous = jv_null();
	goto out;
fail:
	code = e.code;
	*doc = fail_doc(&e);
out:
	while (n > 1)
		free((char *)files[--n]);
	jv_free(nodes);
	jv_free(previous);
	jv_free(chosen);
	jv_free(arts);
	jv_free(channels);
	return code;
}

int
hl_tpl_rollback(const struct hl_lab *lab, const char *name, const char *node,
    const char *channel, int commit, jv *doc)
{
	jv channels = hl_tpl_channels(lab), nodes = jv_object(),
	    previous = jv_object();
	jv cur = hl_json_get(hl_json_get(jv_copy(channels), name), channel);
	struct hl_err e = { 0 };
	const char *files[66] = { CHANNELS };
	char msg[512], hex[64] = "";
	int n = 1, code = HL_EXIT_OK;

	if (jv_get_kind(cur) != JV_KIND_OBJECT ||
	    (node && !hl_json_get_str(cur, node))) {
		hl_err_set(&e, HL_EXIT_NO, "channel %s of %s points to nothing"
		    "%s%s: nothing to roll back", channel, name,
		    node ? " on " : "", node ? node : "");
		goto fail;
	}
	jv_object_foreach(cur, k, id) {
		const char *kn = jv_string_value(k), *now = hl_json_str(id);
		jv arts;
		char *older = NULL, f[1024];

		if (node && strcmp(node, kn) != 0) {
			jv_free(k);
			jv_free(id);
			continue;
		}
		arts = hl_tpl_artifacts(lab, name, kn);
		jv_array_foreach(arts, i, a) {
			const char *aid = hl_json_get_str(a, "id");

			if (now && aid && strcmp(aid, now) < 0) {
				free(older);
				older = strdup(aid);
			}
			jv_free(a);
		}
		jv_free(arts);
		if (older == NULL) {
			hl_err_set(&e, HL_EXIT_NO, "no artifact of %s on %s is "
			    "older than %s: nothing to roll back to", name, kn,
			    now ? now : "?");
			jv_free(k);
			jv_free(id);
			goto fail;
		}
		previous = jv_object_set(previous, jv_copy(k), jv_copy(id));
		nodes = jv_object_set(nodes, jv_copy(k), jv_string(older));
		channels = set_channel(channels, name, channel, kn, older);
		snprintf(f, sizeof(f), "layers/L1/artifacts/%s/%s/%s.json",
		    name, kn, older);
		if (n < 65)
			files[n++] = strdup(f);
		free(older);
		jv_free(k);
		jv_free(id);
	}
	snprintf(msg, sizeof(msg), "hl-template: roll %s back on %s", name,
	    channel);
	if (save(lab, channels, files, commit, msg, hex, &e) < 0)
		goto fail;
	*doc = result(name, channel, nodes, previous, hex);
	nodes = previous = jv_null();
	goto out;
fail:
	code = e.code;
	*doc = fail_doc(&e);
out:
	while (n > 1)
		free((char *)files[--n]);
	jv_free(cur);
	jv_free(nodes);
	jv_free(previous);
	jv_free(channels);
	return code;
}
