/*
 * Channels: which artifact of a template each channel (stable, canary)
 * points to, per node, in layers/L1/channels.yaml.  promote and rollback
 * move them, gc removes what nothing needs; each commits its own files
 * only (DESIGN.md 2.2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "state/git.h"
#include "spec/yamldoc.h"
#include "state/registry.h"
#include "template/template_impl.h"

#define CHANNELS "layers/L1/channels.yaml"

/* channels.yaml from channels (borrowed), keys sorted; each name a YAML
 * scalar that reads back as that string ("true" and "123" quoted). */
static int
write_channels(const struct hl_lab *lab, jv channels, struct hl_err *e)
{
	char path[4096];
	struct hl_buf f = { 0 };
	jv names;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/layers/L1", lab->root);
	hl_file_mkdirs(path, 0755);
	snprintf(path, sizeof(path), "%s/%s", lab->root, CHANNELS);
	hl_buf_printf(&f, "# Written by hl-template (promote, rollback, gc): "
	    "the artifact each\n# channel of each template points to, per "
	    "node.\n");
	names = jv_keys(jv_copy(channels));
	jv_array_foreach(names, i, name) {
		jv chs = hl_json_get(jv_copy(channels), jv_string_value(name));
		jv chk = jv_get_kind(chs) == JV_KIND_OBJECT ?
		    jv_keys(jv_copy(chs)) : jv_array();

		hl_yaml_scalar(&f, jv_string_value(name));
		hl_buf_adds(&f, ":\n");
		jv_array_foreach(chk, k, ch) {
			jv nodes = hl_json_get(jv_copy(chs),
			    jv_string_value(ch));
			jv nk = jv_get_kind(nodes) == JV_KIND_OBJECT ?
			    jv_keys(jv_copy(nodes)) : jv_array();

			hl_buf_adds(&f, "  ");
			hl_yaml_scalar(&f, jv_string_value(ch));
			hl_buf_adds(&f, ":\n");
			jv_array_foreach(nk, m, n) {
				jv id = hl_json_get(jv_copy(nodes),
				    jv_string_value(n));

				if (hl_json_str(id)) {
					hl_buf_adds(&f, "    ");
					hl_yaml_scalar(&f, jv_string_value(n));
					hl_buf_adds(&f, ": ");
					hl_yaml_scalar(&f, hl_json_str(id));
					hl_buf_adds(&f, "\n");
				}
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
	rc = hl_file_write(path, &f, 0644, e);
	hl_buf_free(&f);
	return rc;
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
save(const struct hl_lab *lab, jv channels, const char *const *files,
    int commit, const char *msg, char *hex, struct hl_err *e)
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

/* What promote and rollback change: the channels, the nodes moved (and
 * where they pointed), the files to commit. */
struct move {
	jv channels, nodes, previous;
	char **files;		/* to commit: channels.yaml, then artifacts */
	size_t n, cap;
	int oom;		/* a file could not be listed: fail, not skip */
};

/* List path for the commit, the list kept NULL-ended; no path is left
 * out (m->oom when memory ran out). */
static void
move_add(struct move *m, const char *path)
{
	char **grown;

	if (m->n + 2 > m->cap) {
		m->cap = m->cap ? 2 * m->cap : 8;
		grown = realloc(m->files, m->cap * sizeof(*m->files));
		if (grown == NULL) {
			m->oom = 1;
			return;
		}
		m->files = grown;
	}
	m->files[m->n] = strdup(path);
	if (m->files[m->n] == NULL) {
		m->oom = 1;
		return;
	}
	m->files[++m->n] = NULL;
}

static void
move_init(struct move *m, const struct hl_lab *lab)
{
	m->channels = hl_registry_channels(lab);
	m->nodes = jv_object();
	m->previous = jv_object();
	m->files = NULL;
	m->n = m->cap = 0;
	m->oom = 0;
	move_add(m, CHANNELS);
}

static void
move_file(struct move *m, const char *name, const char *node, const char *id)
{
	char f[1024];

	snprintf(f, sizeof(f), "layers/L1/artifacts/%s/%s/%s.json", name, node,
	    id);
	move_add(m, f);
}

/*
 * Save and commit the move when ok, else report e; free it; the status.
 * A dry run saves nothing and commits nothing, but a commit that would
 * be refused (detached HEAD, a rebase) fails it as it would the real run.
 */
static int
move_finish(const struct hl_lab *lab, const char *name, const char *channel,
    unsigned flags, const char *msg, struct move *m, int ok,
    const struct hl_progress *progress, struct hl_err *e, jv *doc)
{
	char hex[64] = "";
	int code = HL_EXIT_OK, dry = (flags & HL_TPL_DRY_RUN) != 0;

	if (ok && m->oom) {
		hl_err_set(e, HL_E_INTERNAL, "out of memory");
		ok = 0;
	}
	if (ok && dry && (flags & HL_TPL_COMMIT) &&
	    hl_git_can_commit(lab->root, e) < 0)
		ok = 0;
	if (ok && !dry && save(lab, m->channels,
	    (const char *const *)m->files, flags & HL_TPL_COMMIT, msg, hex,
	    e) < 0)
		ok = 0;
	if (ok) {
		jv_object_foreach(m->nodes, k, id) {
			hl_note(progress, HL_NOTE_PROGRESS, name, "%s%s on %s: "
			    "%s", dry ? "would point " : "", channel,
			    jv_string_value(k), jv_string_value(id));
			jv_free(k);
			jv_free(id);
		}
		if (hex[0])
			hl_note(progress, HL_NOTE_PROGRESS, name, "committed %.12s",
			    hex);
		*doc = result(name, channel, m->nodes, m->previous, hex);
		if (dry)
			*doc = jv_object_set(*doc, jv_string("dry_run"),
			    jv_true());
		m->nodes = m->previous = jv_null();
	} else {
		code = e->code;
		*doc = jv_null();
	}
	while (m->n > 0)
		free(m->files[--m->n]);
	free(m->files);
	jv_free(m->nodes);
	jv_free(m->previous);
	jv_free(m->channels);
	return code;
}

int
hl_tpl_promote(const struct hl_lab *lab, const char *name, const char *node,
    const char *channel, const char *artifact, unsigned flags,
    const struct hl_progress *progress, jv *doc, struct hl_err *e)
{
	jv arts = hl_registry_artifacts(lab, name, node), chosen = jv_null(), targets;
	struct move m;
	char msg[512];
	const char *digest;
	int code;

	move_init(&m, lab);
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
		hl_err_set(e, HL_E_NO, artifact ? "no artifact '%s' of %s%s%s"
		    : "%s%s%s has no artifact: hl-template build it first",
		    artifact ? artifact : name, artifact ? name : "",
		    node ? " on " : "", node ? node : "");
		code = move_finish(lab, name, channel, flags, NULL, &m, 0,
		    progress, e, doc);
		goto out;
	}
	digest = hl_json_get_str(chosen, "digest");
	/* on every node that has it: its newest artifact of that digest */
	jv_array_foreach(arts, i, a) {
		const char *id = hl_json_get_str(a, "id"),
		    *an = hl_json_get_str(a, "node"),
		    *d = hl_json_get_str(a, "digest");
		const char *have = hl_json_get_str(m.nodes, an);

		if (d && digest && strcmp(d, digest) == 0 &&
		    (!artifact || !node || strcmp(id, artifact) == 0) &&
		    (!have || strcmp(id, have) > 0))
			m.nodes = jv_object_set(m.nodes, jv_string(an),
			    jv_string(id));
		jv_free(a);
	}
	targets = jv_copy(m.nodes);
	jv_object_foreach(targets, k, id) {
		char *old = hl_registry_channel_artifact(m.channels, name, channel,
		    jv_string_value(k));

		m.previous = jv_object_set(m.previous, jv_copy(k), old ?
		    jv_string(old) : jv_null());
		free(old);
		m.channels = set_channel(m.channels, name, channel,
		    jv_string_value(k), jv_string_value(id));
		move_file(&m, name, jv_string_value(k), jv_string_value(id));
		jv_free(k);
		jv_free(id);
	}
	jv_free(targets);
	snprintf(msg, sizeof(msg), "hl-template: promote %s to %s (%s)", name,
	    channel, hl_json_get_str(chosen, "id"));
	code = move_finish(lab, name, channel, flags, msg, &m, 1,
	    progress, e, doc);
out:
	jv_free(chosen);
	jv_free(arts);
	return code;
}

int
hl_tpl_rollback(const struct hl_lab *lab, const char *name, const char *node,
    const char *channel, unsigned flags, const struct hl_progress *progress,
    jv *doc, struct hl_err *e)
{
	struct move m;
	char msg[512];
	jv cur;
	int ok = 1, code;

	move_init(&m, lab);
	cur = hl_json_get(hl_json_get(jv_copy(m.channels), name), channel);
	if (jv_get_kind(cur) != JV_KIND_OBJECT ||
	    (node && !hl_json_get_str(cur, node))) {
		hl_err_set(e, HL_E_NO, "channel %s of %s points to nothing"
		    "%s%s: nothing to roll back", channel, name,
		    node ? " on " : "", node ? node : "");
		ok = 0;
	}
	if (ok)
		jv_object_foreach(cur, k, id) {
			const char *kn = jv_string_value(k),
			    *now = hl_json_str(id);
			char *older = NULL;
			jv arts;

			if (!ok || (node && strcmp(node, kn) != 0)) {
				jv_free(k);
				jv_free(id);
				continue;
			}
			arts = hl_registry_artifacts(lab, name, kn);
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
				hl_err_set(e, HL_E_NO, "no artifact of %s on "
				    "%s is older than %s: nothing to roll back "
				    "to", name, kn, now ? now : "?");
				ok = 0;
			} else {
				m.previous = jv_object_set(m.previous,
				    jv_copy(k), jv_copy(id));
				m.nodes = jv_object_set(m.nodes, jv_copy(k),
				    jv_string(older));
				m.channels = set_channel(m.channels, name,
				    channel, kn, older);
				move_file(&m, name, kn, older);
			}
			free(older);
			jv_free(k);
			jv_free(id);
		}
	snprintf(msg, sizeof(msg), "hl-template: roll %s back on %s", name,
	    channel);
	code = move_finish(lab, name, channel, flags, msg, &m, ok,
	    progress, e, doc);
	jv_free(cur);
	return code;
}
