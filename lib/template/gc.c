/*
 * hl-template gc: the templates and artifact files nothing needs any more.
 * Kept: what a channel points to, the newest --keep per node, and any
 * template a VM depends on (a linked clone keeps its base).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/progress.h"
#include "state/git.h"
#include "state/owner.h"
#include "state/registry.h"
#include "template/template_impl.h"

/* Whether any VM on node uses a disk of template vmid as its base. */
static int
has_linked_clone(jv configs, const char *node, double vmid)
{
	char base[64], prefix[160];
	int found = 0;

	snprintf(base, sizeof(base), ":base-%.0f-disk-", vmid);
	snprintf(prefix, sizeof(prefix), "/nodes/%s/", node);
	jv_object_foreach(configs, path, conf) {
		if (strncmp(jv_string_value(path), prefix, strlen(prefix)) == 0 &&
		    jv_get_kind(conf) == JV_KIND_OBJECT)
			jv_object_foreach(conf, k, v) {
				if (jv_get_kind(v) == JV_KIND_STRING &&
				    strstr(jv_string_value(v), base) &&
				    strstr(jv_string_value(v), "/"))
					found = 1;
				jv_free(k);
				jv_free(v);
			}
		jv_free(path);
		jv_free(conf);
	}
	return found;
}

/* Every VM (resources) and every VM's config by its path. */
static int
view(struct hl_pve *p, jv *vms, jv *configs, struct hl_err *e)
{
	jv paths = jv_array();

	*configs = jv_object();
	if (hl_pve_vms(p, vms, e) < 0) {
		jv_free(paths);
		return -1;
	}
	jv_array_foreach(*vms, i, v) {
		if (hl_json_get_str(v, "node"))
			paths = jv_array_append(paths, jv_string_fmt(
			    "/nodes/%s/qemu/%.0f/config", hl_json_get_str(v,
			    "node"), hl_pve_get_num(v, "vmid", 0)));
		jv_free(v);
	}
	/* a config not read could hide a linked clone: no guessing */
	return hl_pve_get_map(p, jv_copy(paths), paths, configs, e);
}

/*
 * Whether artifact a's template is still there and hl's: a template at
 * its vmid on its node with the lab's tag and a marker naming the
 * template and the artifact.  A vmid reused since, by hand or another
 * lab, is not the artifact's: gc leaves that VM alone.
 */
static int
template_on(jv vms, jv configs, const struct hl_lab *lab, const char *name,
    jv a)
{
	const char *node = hl_json_get_str(a, "node"),
	    *id = hl_json_get_str(a, "id");
	double vmid = hl_pve_get_num(a, "vmid", -1);
	int found = 0;

	jv_array_foreach(vms, i, v) {
		const char *n = hl_json_get_str(v, "node");

		if (!found && n && node && strcmp(n, node) == 0 &&
		    hl_pve_get_num(v, "vmid", -2) == vmid &&
		    hl_pve_get_num(v, "template", 0) == 1) {
			char path[300], *art;
			jv conf;

			snprintf(path, sizeof(path), "/nodes/%s/qemu/%.0f/config",
			    n, vmid);
			conf = hl_json_get(jv_copy(configs), path);
			art = hl_owner_get(hl_json_get_str(conf, "description"),
			    "artifact");
			found = hl_owner_is(v, conf, hl_json_str(lab->id),
			    "template", name) && art && id && strcmp(art, id) == 0;
			free(art);
			jv_free(conf);
		}
		jv_free(v);
	}
	return found;
}

/*
 * A dry run: what gc would remove, said; the cluster and the commit
 * checked as the removal would check them.  Returns 0, or -1 with e.
 */
static int
would_remove(struct hl_pve *p, const struct hl_lab *lab, jv gone,
    unsigned flags, const struct hl_progress *progress, struct hl_err *e)
{
	int templates = 0, n = 0;

	jv_array_foreach(gone, i, g) {
		const char *t = hl_json_get_str(g, "template");

		if (hl_json_get_kind(g, "exists") == JV_KIND_TRUE) {
			hl_note(progress, HL_NOTE_PROGRESS, t, "would destroy "
			    "template %.0f on %s", hl_pve_get_num(g, "vmid", 0),
			    hl_json_get_str(g, "node"));
			templates++;
		}
		hl_note(progress, HL_NOTE_PROGRESS, t, "would remove %s",
		    hl_json_get_str(g, "file"));
		n++;
		jv_free(g);
	}
	if (templates && hl_pve_check_cluster(p, e) < 0)
		return -1;
	if (n && (flags & HL_TPL_COMMIT) && hl_git_can_commit(lab->root, e) < 0)
		return -1;
	return 0;
}

int
hl_tpl_gc(struct hl_pve *p, const struct hl_lab *lab, const char *only,
    int keep, unsigned flags, const struct hl_progress *progress, jv *doc,
    struct hl_err *e)
{
	int dry = (flags & HL_TPL_DRY_RUN) != 0;
	int yes = (flags & HL_TPL_YES) && !dry;	/* a dry run never does it */
	jv vms = jv_null(), configs = jv_null(), channels = hl_registry_channels(lab);
	jv gone = jv_array();
	const char **files = NULL;
	char hex[64] = "", msg[256];
	int n = 0, code = HL_EXIT_OK;

	if (view(p, &vms, &configs, e) < 0)
		goto fail;
	jv_object_foreach(lab->templates, name, def) {
		const char *nm = jv_string_value(name);
		jv nodes = hl_json_get(jv_copy(channels), nm), arts;

		if (only && strcmp(only, nm) != 0) {
			jv_free(nodes);
			jv_free(name);
			jv_free(def);
			continue;
		}
		arts = hl_registry_artifacts(lab, nm, NULL);
		jv_array_foreach(arts, i, a) {
			const char *id = hl_json_get_str(a, "id"),
			    *node = hl_json_get_str(a, "node");
			double vmid = hl_pve_get_num(a, "vmid", -1);
			int newer = 0, pointed = 0;

			/* how many artifacts of this node are newer */
			jv_array_foreach(arts, k, b) {
				const char *bn = hl_json_get_str(b, "node"),
				    *bid = hl_json_get_str(b, "id");

				if (bn && strcmp(bn, node) == 0 && bid &&
				    strcmp(bid, id) > 0)
					newer++;
				jv_free(b);
			}
			if (jv_get_kind(nodes) == JV_KIND_OBJECT)
				jv_object_foreach(nodes, ch, per) {
					const char *at = hl_json_get_str(per,
					    node);

					if (at && strcmp(at, id) == 0)
						pointed = 1;
					jv_free(ch);
					jv_free(per);
				}
			if (!pointed && newer >= keep &&
			    !has_linked_clone(configs, node, vmid))
				gone = jv_array_append(gone, jv_object_set(
				    jv_object_set(jv_copy(a), jv_string(
				    "exists"), jv_bool(template_on(vms, configs,
				    lab, nm, a))), jv_string("template"),
				    jv_copy(name)));
			jv_free(a);
		}
		jv_free(arts);
		jv_free(nodes);
		jv_free(name);
		jv_free(def);
	}
	if (!yes) {
		int count = jv_array_length(jv_copy(gone));

		if (dry && would_remove(p, lab, gone, flags, progress, e) < 0)
			goto fail;
		*doc = jv_object_set(jv_object_set(jv_object(), jv_string("gc"),
		    gone), jv_string("applied"), jv_false());
		gone = jv_null();
		if (dry)
			*doc = jv_object_set(jv_object_set(*doc,
			    jv_string("dry_run"), jv_true()),
			    jv_string("commit"), jv_null());
		else if (count > 0) {
			code = hl_err_set(e, HL_E_REFUSED, "gc would remove "
			    "the listed templates and artifacts: --yes to do "
			    "it") < 0 ? e->code : HL_EXIT_REFUSED;
		}
		goto out;
	}
	/* every file removed is in the commit: as many slots as entries */
	files = calloc(jv_array_length(jv_copy(gone)) + 1, sizeof(*files));
	if (files == NULL) {
		hl_err_set(e, HL_E_INTERNAL, "out of memory");
		goto fail;
	}
	jv_array_foreach(gone, i, g) {
		const char *node = hl_json_get_str(g, "node"),
		    *file = hl_json_get_str(g, "file");
		char path[4200];

		jv ex = hl_json_get(jv_copy(g), "exists");
		int exists = jv_get_kind(ex) == JV_KIND_TRUE;

		jv_free(ex);
		if (exists) {
			struct build b = { .p = p, .lab = lab, .node = node,
			    .e = e, .upids = jv_array(),
			    .vmid = (int)hl_pve_get_num(g, "vmid", 0) };
			struct hl_tpl_opts o = { 0 };
			char vpath[256];

			b.o = &o;
			b.name = hl_json_get_str(g, "template");
			snprintf(vpath, sizeof(vpath), "/nodes/%s/qemu/%d?purge=1",
			    node, b.vmid);
			if (tb_task(&b, "DELETE", vpath, jv_null(), 0) < 0) {
				jv_free(b.upids);
				jv_free(g);
				goto fail;
			}
			jv_free(b.upids);
		}
		snprintf(path, sizeof(path), "%s/%s", lab->root, file);
		unlink(path);
		files[n] = strdup(file);
		jv_free(g);
		if (files[n++] == NULL) {
			hl_err_set(e, HL_E_INTERNAL, "out of memory");
			goto fail;
		}
	}
	files[n] = NULL;
	snprintf(msg, sizeof(msg), "hl-template: gc %s", only ? only : "");
	if (n && (flags & HL_TPL_COMMIT) &&
	    hl_git_commit(lab->root, files, msg, hex, e) < 0)
		goto fail;
	*doc = jv_object_set(jv_object_set(jv_object_set(jv_object(),
	    jv_string("gc"), gone), jv_string("applied"), jv_true()),
	    jv_string("commit"), hex[0] ? jv_string(hex) : jv_null());
	gone = jv_null();
	goto out;
fail:
	code = e->code;
	*doc = jv_null();
out:
	while (files && n > 0)
		free((char *)files[--n]);
	free(files);
	jv_free(gone);
	jv_free(vms);
	jv_free(configs);
	jv_free(channels);
	return code;
}
