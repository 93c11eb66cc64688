/*
 * hl-capture's verbs on each host (capture.h): data, init, restore, list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/capture.h"
#include "capture/capture_impl.h"
#include "core/clock.h"
#include "core/fanout.h"
#include "core/exit.h"
#include "core/json.h"
#include "spec/lab.h"
#include "spec/spec.h"

struct run {
	const struct hl_lab *lab;
	const struct hl_cp_opts *o;
	const struct hl_host **hosts;
};

int
hl_cp_password(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_err *e)
{
	for (size_t i = 0; i < lab->nhosts; i++) {
		jv hj;
		struct hl_restic r;
		int rc = 0;

		if (picked && !picked[i])
			continue;
		hj = hl_spec_host_json(lab, &lab->hosts[i]);
		if (hl_restic_client(lab, &lab->hosts[i], hj, &r) &&
		    getenv(r.password_env) == NULL)
			rc = hl_err_set(e, HL_E_LAB, "host %s's repository "
			    "needs its password in %s (lab.yaml "
			    "capture.restic.password_env): it is not set",
			    lab->hosts[i].name, r.password_env);
		hl_restic_free(&r);
		jv_free(hj);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The paths in states (cp_look) that hold data. */
static jv
holding(jv states)
{
	jv out = jv_array();

	jv_object_foreach(states, k, v) {
		if (strcmp(jv_string_value(v), "data") == 0)
			out = jv_array_append(out, k);
		else
			jv_free(k);
		jv_free(v);
	}
	return out;
}

/* Whether the array paths (borrowed) holds p. */
static int
has(jv paths, const char *p)
{
	int found = 0;

	jv_array_foreach(paths, i, q) {
		found |= hl_json_str(q) && strcmp(hl_json_str(q), p) == 0;
		jv_free(q);
	}
	return found;
}

/* The array paths (consumed) without p. */
static jv
without(jv paths, const char *p)
{
	jv out = jv_array();

	if (jv_get_kind(paths) == JV_KIND_ARRAY)
		jv_array_foreach(paths, i, q) {
			if (hl_json_str(q) && strcmp(hl_json_str(q), p) == 0)
				jv_free(q);
			else
				out = jv_array_append(out, q);
		}
	jv_free(paths);
	return out;
}

/* restic backup's summary line from its --json output, or null. */
static jv
summary(const struct hl_buf *out)
{
	jv lines = cp_json_lines(hl_buf_str(out)), found = jv_null();

	jv_array_foreach(lines, i, j) {
		const char *t = hl_json_get_str(j, "message_type");

		if (t && strcmp(t, "summary") == 0) {
			jv_free(found);
			found = j;
		} else
			jv_free(j);
	}
	jv_free(lines);
	return found;
}

/*
 * The capture hooks of the host's stacks for when ("before", "after"),
 * each run in its service's container, in the stacks' order.  Before
 * stops at the first that fails; after runs them all.  Each goes into the
 * entry's hooks.  Returns 0, or -1 with e (the first failure).
 */
static int
hooks(struct run *r, struct cp_host *h, jv hj, const char *when, jv *entry,
    struct hl_err *e)
{
	jv stacks = hl_json_get(jv_copy(hj), "stacks"), done;
	int rc = 0, before = strcmp(when, "before") == 0;

	done = hl_json_get(jv_copy(*entry), "hooks");
	if (jv_get_kind(done) != JV_KIND_ARRAY) {
		jv_free(done);
		done = jv_array();
	}
	if (jv_get_kind(stacks) == JV_KIND_ARRAY)
		jv_array_foreach(stacks, i, st) {
			jv list = jv_getpath(jv_copy(r->lab->stacks), JV_ARRAY(
			    jv_copy(st), jv_string("capture"), jv_string(when)));

			if (jv_get_kind(list) == JV_KIND_ARRAY)
				jv_array_foreach(list, j, hk) {
					struct hl_err he = { 0 };
					int hrc = -2;

					if (rc == 0 || !before) {
						hl_note(r->o->progress,
						    HL_NOTE_PROGRESS, h->name,
						    "%s: capture hook (%s) in "
						    "%s", jv_string_value(st),
						    when, hl_json_get_str(hk,
						    "service"));
						hrc = cp_hook(h, jv_string_value(
						    st), hk, &he);
					}
					/* no container running: no live writer
					 * to quiesce, nothing to do */
					if (hrc == CP_HOOK_NO_CONTAINER)
						hl_note(r->o->progress,
						    HL_NOTE_PROGRESS, h->name,
						    "%s: no running container of %s:"
						    " hook skipped",
						    jv_string_value(st),
						    hl_json_get_str(hk, "service"));
					if (hrc != -2)
						done = jv_array_append(done,
						    JV_OBJECT(jv_string("stack"),
						    jv_copy(st), jv_string("when"),
						    jv_string(when),
						    jv_string("service"),
						    hl_json_get(jv_copy(hk),
						    "service"), jv_string("ok"),
						    jv_bool(hrc == 0 || hrc ==
						    CP_HOOK_NO_CONTAINER),
						    jv_string("skipped"),
						    jv_bool(hrc ==
						    CP_HOOK_NO_CONTAINER)));
					if (hrc == CP_HOOK_NO_CONTAINER)
						hrc = 0;
					if (hrc != -2 && hrc != 0 && rc == 0)
						rc = hl_err_set(e, HL_E_FAILED,
						    "%s: %s: the capture hook "
						    "%s in %s failed: %s",
						    h->name, jv_string_value(st),
						    when, hl_json_get_str(hk,
						    "service"), he.msg);
					jv_free(hk);
				}
			jv_free(list);
			jv_free(st);
		}
	jv_free(stacks);
	*entry = jv_object_set(*entry, jv_string("hooks"), done);
	return rc;
}

static int
verb_data(struct run *r, struct cp_host *h, jv hj, jv *entry,
    struct hl_err *e)
{
	jv marker, states, paths = hl_json_get(jv_copy(hj), "data"), present,
	    missing, sum;
	struct hl_buf out = { 0 }, err = { 0 };
	char *args[80], tags[3][300], why[300];
	int n = 0, rc;
	double t0 = hl_clock();

	if (cp_look(h, paths, &marker, &states, e) < 0) {
		jv_free(marker);
		jv_free(states);
		jv_free(paths);
		return -1;
	}
	if (jv_get_kind(marker) != JV_KIND_OBJECT) {
		jv_free(states);
		jv_free(paths);
		return hl_err_set(e, HL_E_REFUSED, "%s: its data is not known to "
		    "be authoritative (no %s): a freshly made host's capture "
		    "would make its empty data the newest snapshot. Restore "
		    "it (hl-capture restore %s), or declare its data as it is "
		    "authoritative (hl-capture init %s --yes)", h->name,
		    CP_MARKER, h->name, h->name);
	}
	jv_free(marker);
	present = jv_array();
	missing = jv_array();
	jv_array_foreach(paths, i, p) {
		const char *st = hl_json_get_str(states, jv_string_value(p));

		if (st && strcmp(st, "missing") != 0)
			present = jv_array_append(present, p);
		else
			missing = jv_array_append(missing, p);
	}
	*entry = jv_object_set(*entry, jv_string("missing"), missing);
	jv_free(states);
	jv_free(paths);
	if (jv_array_length(jv_copy(present)) == 0) {
		jv_free(present);
		return hl_err_set(e, HL_E_FAILED, "%s: none of its data paths "
		    "exists on the host: nothing to capture", h->name);
	}
	snprintf(tags[0], sizeof(tags[0]), "host:%s", h->name);
	snprintf(tags[1], sizeof(tags[1]), "persona:%s",
	    hl_json_get_str(hj, "persona"));
	snprintf(tags[2], sizeof(tags[2]), "commit:%s", r->o->commit ?
	    r->o->commit : "none");
	args[n++] = "--json";
	args[n++] = "backup";
	args[n++] = "--host";
	args[n++] = (char *)h->name;
	args[n++] = "--tag";
	args[n++] = "hl";
	for (int t = 0; t < 3; t++) {
		args[n++] = "--tag";
		args[n++] = tags[t];
	}
	jv_array_foreach(present, i, p) {
		if (n < 77)
			args[n++] = (char *)hl_json_str(p);
		jv_free(p);	/* present keeps it */
	}
	/* the snapshot holds the checksums of what it holds */
	args[n++] = CP_SUMS_DIR;
	args[n] = NULL;
	/* the stacks' hooks around the snapshot: a failing before stops
	 * the capture; after always runs */
	rc = hooks(r, h, hj, "before", entry, e);
	if (rc == 0) {
		jv sums;

		rc = cp_sums(h, "write", present, 3600, &sums, e);
		*entry = jv_object_set(*entry, jv_string("checksums"), sums);
	}
	if (rc == 0) {
		hl_note(r->o->progress, HL_NOTE_PROGRESS, h->name, "restic "
		    "backup of %d data path%s", jv_array_length(jv_copy(
		    present)), jv_array_length(jv_copy(present)) == 1 ? "" :
		    "s");
		rc = cp_restic(h, args, 1, &out, &err, 3600, e);
		sum = rc == 0 ? summary(&out) : jv_null();
		if (rc > 0 || (rc == 0 && jv_get_kind(sum) != JV_KIND_OBJECT)) {
			hl_err_set(e, HL_E_FAILED, "%s: restic backup failed "
			    "(exit %d): %s", h->name, rc, cp_why(&err, why,
			    sizeof(why)));
			rc = -1;
		}
	} else
		sum = jv_null();
	{
		struct hl_err ae = { 0 };

		if (hooks(r, h, hj, "after", entry, &ae) < 0 && rc == 0) {
			hl_err_copy(e, &ae);
			rc = -1;
		}
	}
	if (rc == 0) {
		*entry = jv_object_set(*entry, jv_string("snapshot"),
		    hl_json_get(jv_copy(sum), "snapshot_id"));
		*entry = jv_object_set(*entry, jv_string("paths"),
		    jv_copy(present));
		*entry = jv_object_set(*entry, jv_string("files_new"),
		    hl_json_get(jv_copy(sum), "files_new"));
		*entry = jv_object_set(*entry, jv_string("files_changed"),
		    hl_json_get(jv_copy(sum), "files_changed"));
		*entry = jv_object_set(*entry, jv_string("files_unmodified"),
		    hl_json_get(jv_copy(sum), "files_unmodified"));
		*entry = jv_object_set(*entry, jv_string("bytes_added"),
		    hl_json_get(jv_copy(sum), "data_added"));
		*entry = jv_object_set(*entry, jv_string("duration_s"),
		    jv_number((double)(long)((hl_clock() - t0) * 10 + 0.5) / 10));
		hl_note(r->o->progress, HL_NOTE_PROGRESS, h->name, "snapshot %s",
		    hl_json_get_str(sum, "snapshot_id"));
	}
	jv_free(sum);
	jv_free(present);
	hl_buf_free(&out);
	hl_buf_free(&err);
	return rc;
}

/* What list shows of a snapshot. */
static jv
shown(jv s)
{
	jv o = jv_object();
	static const char *const keys[] = { "id", "short_id", "time", "paths",
		"tags", NULL };

	for (int i = 0; keys[i]; i++)
		o = jv_object_set(o, jv_string(keys[i]), hl_json_get(jv_copy(s),
		    keys[i]));
	/* the data paths: the checksums are hl's */
	{
		jv p = hl_json_get(jv_copy(s), "paths");

		o = jv_object_set(o, jv_string("checksums"), jv_bool(
		    jv_get_kind(p) == JV_KIND_ARRAY && has(p, CP_SUMS_DIR)));
		o = jv_object_set(o, jv_string("paths"), without(p,
		    CP_SUMS_DIR));
	}
	jv_free(s);
	return o;
}

static int
verb_list(struct cp_host *h, jv *entry, struct hl_err *e)
{
	jv list, out = jv_array();

	if (cp_snapshots(h, NULL, &list, e) < 0)
		return -1;
	jv_array_foreach(list, i, s)
		out = jv_array_append(out, shown(s));
	jv_free(list);
	*entry = jv_object_set(*entry, jv_string("snapshots"), out);
	return 0;
}

static int
verb_init(struct run *r, struct cp_host *h, jv *entry, struct hl_err *e)
{
	struct hl_buf err = { 0 };
	char *args[] = { "cat", "config", NULL }, why[300];
	int rc;

	if (!r->o->yes)
		return hl_err_set(e, HL_E_REFUSED, "%s: init declares the data "
		    "on the host authoritative as it is, so that hl-capture "
		    "data captures it: add --yes (or restore a snapshot "
		    "instead: hl-capture restore %s)", h->name, h->name);
	/* the repository, made when it is not there yet */
	rc = cp_restic(h, args, 1, NULL, &err, 300, e);
	if (rc > 0)
		hl_err_set(e, HL_E_FAILED, "%s: its repository cannot be read "
		    "(exit %d): %s", h->name, rc, cp_why(&err, why,
		    sizeof(why)));
	hl_buf_free(&err);
	if (rc != 0)
		return -1;
	if (cp_marker_write(h, JV_OBJECT(jv_string("authoritative"),
	    jv_true(), jv_string("by"), jv_string("init"), jv_string("at"),
	    jv_string(hl_clock_utc((char [32]){ 0 }, 32))), e) < 0)
		return -1;
	*entry = jv_object_set(*entry, jv_string("action"),
	    jv_string("initialised"));
	hl_note(r->o->progress, HL_NOTE_PROGRESS, h->name, "its data is "
	    "authoritative (init)");
	return 0;
}

/*
 * Before a restore, each data path's old data goes aside: a directory's
 * contents into PATH.hl-restore-was (the directory itself stays, so a
 * container that mounts it sees what the restore writes there), anything
 * else whole to PATH.hl-restore-old.  Put back when the restore fails,
 * removed once it is done.
 */
#define WAS ".hl-restore-was"
#define OLD ".hl-restore-old"
static const char aside_script[] =
    "set -e; for p; do rm -rf \"$p" WAS "\" \"$p" OLD "\"; "
    "if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then "
    "mkdir -m 700 \"$p" WAS "\"; "
    "find \"$p\" -mindepth 1 -maxdepth 1 -exec mv -t \"$p" WAS "\" {} +; "
    "elif [ -e \"$p\" ] || [ -L \"$p\" ]; then mv \"$p\" \"$p" OLD "\"; "
    "fi; done";
static const char back_script[] =
    "for p; do "
    "if [ -d \"$p" WAS "\" ]; then mkdir -p \"$p\"; "
    "find \"$p\" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; "
    "find \"$p" WAS "\" -mindepth 1 -maxdepth 1 -exec mv -t \"$p\" {} +; "
    "rmdir \"$p" WAS "\"; "
    "elif [ -e \"$p" OLD "\" ] || [ -L \"$p" OLD "\" ]; then "
    "rm -rf \"$p\"; mv \"$p" OLD "\" \"$p\"; fi; done";
static const char drop_script[] =
    "for p; do rm -rf \"$p" WAS "\" \"$p" OLD "\"; done";

static int
verb_restore(struct run *r, struct cp_host *h, jv hj, jv *entry,
    struct hl_err *e)
{
	const char *want = r->o->snapshot ? r->o->snapshot : "latest";
	jv list, snap, paths, states, held;
	struct hl_buf err = { 0 };
	char *args[] = { "restore", NULL, "--target", "/", NULL }, why[300];
	int rc, sums = 0;
	double t0 = hl_clock();

	if (cp_snapshots(h, want, &list, e) < 0)
		return -1;
	if (jv_array_length(jv_copy(list)) == 0) {
		jv_free(list);
		return hl_err_set(e, HL_E_FAILED, "%s: no snapshot %s in its "
		    "repository (hl-capture list %s)", h->name, want, h->name);
	}
	snap = jv_array_get(jv_copy(list), jv_array_length(jv_copy(list)) - 1);
	jv_free(list);
	/* what the snapshot holds, and what the specs declare now */
	paths = hl_json_get(jv_copy(snap), "paths");
	if (jv_get_kind(paths) != JV_KIND_ARRAY) {
		jv_free(paths);
		paths = jv_array();
	}
	{
		jv declared = hl_json_get(jv_copy(hj), "data");

		jv_array_foreach(declared, i, p) {
			int have = 0;

			jv_array_foreach(paths, j, q) {
				have |= jv_equal(jv_copy(p), q);
			}
			if (!have)
				paths = jv_array_append(paths, jv_copy(p));
			jv_free(p);
		}
		jv_free(declared);
	}
	if (cp_look(h, paths, NULL, &states, e) < 0) {
		jv_free(states);
		goto fail;
	}
	held = without(holding(states), CP_SUMS_DIR);
	jv_free(states);
	*entry = jv_object_set(*entry, jv_string("snapshot"),
	    hl_json_get(jv_copy(snap), "short_id"));
	*entry = jv_object_set(*entry, jv_string("replaces"), jv_copy(held));
	if (!r->o->yes && jv_array_length(jv_copy(held)) > 0) {
		jv_free(held);
		hl_err_set(e, HL_E_REFUSED, "%s: it already holds data that "
		    "restore would replace (see replaces): add --yes", h->name);
		goto fail;
	}
	jv_free(held);
	hl_note(r->o->progress, HL_NOTE_PROGRESS, h->name, "restoring snapshot "
	    "%s", hl_json_get_str(snap, "short_id"));
	if (cp_sh(h, aside_script, paths, NULL, NULL, e) != 0) {
		struct hl_err be = { 0 };

		if (e->code == 0)
			hl_err_set(e, HL_E_FAILED, "%s: its data could not be "
			    "moved aside for the restore; what was moved is "
			    "back", h->name);
		cp_sh(h, back_script, paths, NULL, NULL, &be);
		goto fail;
	}
	args[1] = (char *)hl_json_get_str(snap, "id");
	rc = cp_restic(h, args, 0, NULL, &err, 3600, e);
	if (rc > 0)
		hl_err_set(e, HL_E_FAILED, "%s: restic restore failed (exit "
		    "%d): %s; the data it held is back", h->name, rc,
		    cp_why(&err, why, sizeof(why)));
	/* what was restored, against the checksums the snapshot holds
	 * (snapshots older than hl's checksums hold none) */
	if (rc == 0 && (sums = has(paths, CP_SUMS_DIR))) {
		jv v, root = JV_ARRAY(jv_string("/"));

		rc = cp_sums(h, "check", root, 3600, &v, e);
		jv_free(root);
		if (rc == 0 && (hl_json_get_kind(v, "manifest") != JV_KIND_TRUE ||
		    hl_json_get_kind(v, "mismatches") != JV_KIND_ARRAY ||
		    jv_array_length(hl_json_get(jv_copy(v), "mismatches")) > 0))
			rc = hl_err_set(e, HL_E_FAILED, "%s: what restic "
			    "restored does not match the snapshot's checksums "
			    "(see verified); the data it held is back",
			    h->name);
		*entry = jv_object_set(*entry, jv_string("verified"), v);
	}
	if (rc != 0) {
		struct hl_err be = { 0 };

		cp_sh(h, back_script, paths, NULL, NULL, &be);
		goto fail;
	}
	*entry = jv_object_set(*entry, jv_string("checksums"), jv_bool(sums));
	cp_sh(h, drop_script, paths, NULL, NULL, e);
	if (cp_marker_write(h, JV_OBJECT(jv_string("authoritative"),
	    jv_true(), jv_string("by"), jv_string("restore"),
	    jv_string("snapshot"), hl_json_get(jv_copy(snap), "id"),
	    jv_string("at"), jv_string(hl_clock_utc((char [32]){ 0 }, 32))), e) < 0)
		goto fail;
	*entry = jv_object_set(*entry, jv_string("action"),
	    jv_string("restored"));
	*entry = jv_object_set(*entry, jv_string("paths"), without(jv_copy(
	    paths), CP_SUMS_DIR));
	*entry = jv_object_set(*entry, jv_string("duration_s"),
	    jv_number((double)(long)((hl_clock() - t0) * 10 + 0.5) / 10));
	hl_buf_free(&err);
	jv_free(paths);
	jv_free(snap);
	return 0;
fail:
	hl_buf_free(&err);
	jv_free(paths);
	jv_free(snap);
	return -1;
}

static jv
one_host(size_t i, int forked, void *arg)
{
	struct run *r = arg;
	const struct hl_host *hh = r->hosts[i];
	jv hj = hl_spec_host_json(r->lab, hh), entry = jv_object_set(
	    jv_object(), jv_string("name"), jv_string(hh->name));
	struct cp_host h = { .name = hh->name };
	struct hl_err e = { 0 };
	int rc = 0, code = 0;

	(void)forked;
	if (!hl_restic_client(r->lab, hh, hj, &h.restic)) {
		entry = jv_object_set(entry, jv_string("action"),
		    jv_string("none"));
		entry = jv_object_set(entry, jv_string("reason"), jv_string(
		    "it has no data paths to capture"));
		goto done;
	}
	h.password = getenv(h.restic.password_env);
	if (hl_reach(r->lab, hh, hj, &h.reach) < 0) {
		rc = hl_err_set(&e, HL_E_SSH, "%s: no address to reach it at "
		    "(a DHCP host hl-vm has not seen running)", hh->name);
		goto done;
	}
	switch (r->o->verb) {
	case HL_CP_DATA:
		rc = verb_data(r, &h, hj, &entry, &e);
		break;
	case HL_CP_INIT:
		rc = verb_init(r, &h, &entry, &e);
		break;
	case HL_CP_RESTORE:
		rc = verb_restore(r, &h, hj, &entry, &e);
		break;
	case HL_CP_LIST:
		rc = verb_list(&h, &entry, &e);
		break;
	case HL_CP_VERIFY:
		rc = cp_verify(&h, r->o->subset, &entry, &e);
		break;
	default:	/* the boot verbs: hl_cp_boot */
		break;
	case HL_CP_FORGET: {
		jv keep = jv_getpath(jv_copy(r->lab->spec), JV_ARRAY(
		    jv_string("capture"), jv_string("restic"),
		    jv_string("keep")));

		rc = cp_forget(&h, keep, r->o->yes, &entry, &e);
		jv_free(keep);
		break;
	}
	}
done:
	if (rc < 0) {
		size_t l = strlen(hh->name);

		code = e.code;
		/* the note names the host already */
		hl_note(r->o->progress, HL_NOTE_ERROR, hh->name, "%s",
		    strncmp(e.msg, hh->name, l) == 0 && e.msg[l] == ':' ?
		    e.msg + l + 2 : e.msg);
		entry = jv_object_set(entry, jv_string("error"), hl_json_err(&e));
	}
	entry = jv_object_set(entry, jv_string("code"), jv_number(code));
	hl_reach_free(&h.reach);
	hl_restic_free(&h.restic);
	jv_free(hj);
	return entry;
}

static jv
died(size_t i, const char *how, void *arg)
{
	struct run *r = arg;

	return JV_OBJECT(jv_string("name"), jv_string(r->hosts[i]->name),
	    jv_string("error"), JV_OBJECT(jv_string("reason"),
	    jv_string("failed"), jv_string("message"), jv_string(how)),
	    jv_string("code"), jv_number(HL_EXIT_FAILED));
}

int
hl_cp_run(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_cp_opts *o, jv *res, struct hl_err *e)
{
	struct run r = { .lab = lab, .o = o };
	size_t n = 0;
	int code = 0;
	jv hosts;

	*res = jv_null();
	if (hl_cp_password(lab, picked, e) < 0)
		return e->code;

	r.hosts = calloc(lab->nhosts + 1, sizeof(*r.hosts));
	if (r.hosts == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory"), e->code;
	for (size_t i = 0; i < lab->nhosts; i++)
		if (!picked || picked[i])
			r.hosts[n++] = &lab->hosts[i];
	hosts = hl_fanout_collect(hl_fanout(n, o->parallel > 0 ? o->parallel :
	    4, one_host, &r), &code, died, &r);
	free(r.hosts);
	*res = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	if (code > 1)
		hl_err_set(e, code == HL_EXIT_REFUSED ? HL_E_REFUSED : code ==
		    HL_EXIT_REMOTE ? HL_E_SSH : HL_E_FAILED, "%s",
		    code == HL_EXIT_REFUSED ? "refused on a host (see its "
		    "error)" : code == HL_EXIT_REMOTE ? "a host was not reached" :
		    "failed on a host (see its error)");
	return code;
}
