/*
 * Proof that a host's data restores (verify) and the retention policy
 * (forget): capture.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/capture_impl.h"
#include "core/json.h"
#include "core/num.h"
#include "spec/lab.h"

/* o[key] as a number (borrows o); -1 when it is none. */
static double
num(jv o, const char *key)
{
	jv v = hl_json_get(jv_copy(o), key);
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;

	jv_free(v);
	return d;
}

/*
 * The snapshot's files as restic lists them against the tree the drill
 * restored (lines "PATH\tTYPE\tSIZE\tUID\tGID\tMODE" under the target):
 * each node there, of the same type, owner, mode and (files) size.
 * Returns what differs, a list of "PATH: why".
 */
static jv
compare(jv nodes, const char *tree, long *files, double *bytes)
{
	jv got = jv_object(), bad = jv_array();
	char *copy = strdup(tree), *line, *save = NULL;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *p = line;
		double size;
		long uid, gid;
		unsigned long mode;
		int n;

		for (n = 0; n < 6 && p; n++) {
			f[n] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (n < 6)
			continue;
		if (hl_num_double(f[2], &size) < 0 || hl_num_long(f[3], 0,
		    LONG_MAX, &uid) < 0 || hl_num_long(f[4], 0, LONG_MAX,
		    &gid) < 0 || hl_num_oct(f[5], 07777, &mode) < 0)
			continue;	/* not find's line: not there, then */
		got = jv_object_set(got, jv_string_fmt("/%s", f[0]),
		    JV_OBJECT(jv_string("type"), jv_string(f[1]),
		    jv_string("size"), jv_number(size),
		    jv_string("uid"), jv_number((double)uid),
		    jv_string("gid"), jv_number((double)gid),
		    jv_string("mode"), jv_number((double)(mode & 0777))));
	}
	free(copy);
	*files = 0;
	*bytes = 0;
	jv_array_foreach(nodes, i, nd) {
		const char *path = hl_json_get_str(nd, "path"),
		    *type = hl_json_get_str(nd, "type");
		jv g = path ? hl_json_get(jv_copy(got), path) : jv_null();
		const char *want = type == NULL ? "?" : strcmp(type, "file") == 0
		    ? "f" : strcmp(type, "dir") == 0 ? "d" :
		    strcmp(type, "symlink") == 0 ? "l" : "?";
		int mode = (int)((long long)num(nd, "mode") & 0777);

		if (path == NULL || hl_json_get_str(nd, "struct_type") == NULL ||
		    strcmp(hl_json_get_str(nd, "struct_type"), "node") != 0) {
			/* the snapshot's own line */
		} else if (jv_get_kind(g) != JV_KIND_OBJECT)
			bad = jv_array_append(bad, jv_string_fmt("%s: not "
			    "restored", path));
		else if (strcmp(hl_json_get_str(g, "type"), want) != 0)
			bad = jv_array_append(bad, jv_string_fmt("%s: restored "
			    "as another type", path));
		else if (num(g, "uid") != num(nd, "uid") ||
		    num(g, "gid") != num(nd, "gid"))
			bad = jv_array_append(bad, jv_string_fmt("%s: owner "
			    "differs", path));
		else if (strcmp(want, "l") != 0 &&
		    (int)((long long)num(g, "mode") & 0777) != mode)
			bad = jv_array_append(bad, jv_string_fmt("%s: mode "
			    "differs", path));
		else if (strcmp(want, "f") == 0 && num(g, "size") !=
		    num(nd, "size"))
			bad = jv_array_append(bad, jv_string_fmt("%s: size "
			    "differs", path));
		else if (strcmp(want, "f") == 0) {
			(*files)++;
			*bytes += num(nd, "size");
		}
		jv_free(g);
		jv_free(nd);
	}
	jv_free(got);
	return bad;
}

/* The drill: the latest snapshot restored into a directory of its own on
 * the host (root only, removed after), compared with restic's list (type,
 * owner, mode, size) and with the checksums the snapshot holds (content;
 * sums.py). */
static int
drill(struct cp_host *h, jv *out, struct hl_err *e)
{
	struct hl_buf dir = { 0 }, tree = { 0 }, list = { 0 }, err = { 0 };
	char *ls[] = { "--json", "ls", "latest", NULL },
	    *rs[] = { "restore", "latest", "--target", NULL, NULL }, why[300];
	jv args, bad, sums = jv_null();
	long files = 0;
	double bytes = 0;
	int rc;

	if (cp_sh(h, "umask 077 && mktemp -d /var/tmp/hl-drill.XXXXXX",
	    jv_null(), NULL, &dir, e) != 0)
		return e->code ? -1 : hl_err_set(e, HL_E_FAILED, "%s: no "
		    "directory for the drill", h->name);
	while (dir.len && strchr("\r\n ", dir.s[dir.len - 1]))
		hl_buf_truncate(&dir, dir.len - 1);
	args = JV_ARRAY(jv_string(hl_buf_str(&dir)));
	rs[3] = (char *)hl_buf_str(&dir);
	rc = cp_restic(h, rs, 0, NULL, &err, 3600, e);
	if (rc == 0)
		rc = cp_restic(h, ls, 0, &list, &err, 600, e);
	if (rc > 0)
		hl_err_set(e, HL_E_NO, "%s: the restore drill failed (exit %d): "
		    "%s", h->name, rc, cp_why(&err, why, sizeof(why)));
	if (rc == 0 && cp_sh(h, "cd \"$1\" && find . -mindepth 1 "
	    "-printf '%P\\t%y\\t%s\\t%U\\t%G\\t%m\\n'", args, NULL, &tree,
	    e) != 0)
		rc = -1;
	/* the content, against the checksums the snapshot holds */
	if (rc == 0 && cp_sums(h, "check", args, 3600, &sums, e) < 0)
		rc = -1;
	/* the drill's directory goes whatever happened */
	{
		struct hl_err re = { 0 };

		cp_sh(h, "rm -rf \"$1\"", args, NULL, NULL, &re);
	}
	if (rc == 0) {
		jv nodes = cp_json_lines(hl_buf_str(&list));

		bad = compare(nodes, hl_buf_str(&tree), &files, &bytes);
		jv_free(nodes);
		{
			jv m = hl_json_get(jv_copy(sums), "mismatches");

			if (jv_get_kind(m) == JV_KIND_ARRAY)
				bad = jv_array_concat(bad, m);
			else
				jv_free(m);
		}
		*out = JV_OBJECT(jv_string("ok"), jv_bool(jv_array_length(
		    jv_copy(bad)) == 0), jv_string("files"),
		    jv_number((double)files), jv_string("bytes"),
		    jv_number(bytes), jv_string("checksums"), sums,
		    jv_string("mismatches"), bad);
		sums = jv_null();
		if (!hl_json_get_kind(*out, "ok") ||
		    hl_json_get_kind(*out, "ok") != JV_KIND_TRUE)
			rc = hl_err_set(e, HL_E_NO, "%s: the restore drill "
			    "does not match the snapshot (see drill)", h->name);
	}
	jv_free(args);
	jv_free(sums);
	hl_buf_free(&dir);
	hl_buf_free(&tree);
	hl_buf_free(&list);
	hl_buf_free(&err);
	return rc == 0 ? 0 : -1;
}

int
cp_verify(struct cp_host *h, int subset, jv *entry, struct hl_err *e)
{
	char pct[32], *args[] = { "check", NULL, NULL }, why[300];
	struct hl_buf err = { 0 };
	jv dr = jv_null();
	int rc;

	if (subset > 0 && subset < 100) {
		snprintf(pct, sizeof(pct), "--read-data-subset=%d%%", subset);
		args[1] = pct;
	} else
		args[1] = "--read-data";
	rc = cp_restic(h, args, 0, NULL, &err, 3600, e);
	*entry = jv_object_set(*entry, jv_string("check"), JV_OBJECT(
	    jv_string("ok"), jv_bool(rc == 0), jv_string("read_data"),
	    jv_string(subset > 0 && subset < 100 ? pct + 19 : "100%")));
	if (rc != 0) {
		if (rc > 0 && cp_no_repository(&err))
			hl_err_set(e, HL_E_FAILED, "%s: nothing to verify: %s",
			    h->name, cp_why(&err, why, sizeof(why)));
		else if (rc > 0)
			hl_err_set(e, HL_E_NO, "%s: restic check found the "
			    "repository damaged (exit %d): %s", h->name, rc,
			    cp_why(&err, why, sizeof(why)));
		hl_buf_free(&err);
		return -1;
	}
	hl_buf_free(&err);
	rc = drill(h, &dr, e);
	*entry = jv_object_set(*entry, jv_string("drill"), dr);
	return rc;
}

int
cp_forget(struct cp_host *h, jv keep, int yes, jv *entry, struct hl_err *e)
{
	char *args[24], nums[4][24], why[300];
	static const char *const kinds[] = { "last", "daily", "weekly",
		"monthly" };
	struct hl_buf out = { 0 }, err = { 0 };
	const char *line;
	jv groups, gone = jv_array(), kept = jv_array();
	int n = 0, rc;

	args[n++] = "--json";
	args[n++] = "forget";
	for (int k = 0; k < 4; k++) {
		jv v = hl_json_get(jv_copy(keep), kinds[k]);

		if (jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) > 0) {
			snprintf(nums[k], sizeof(nums[k]), "%d",
			    (int)jv_number_value(v));
			args[n++] = k == 0 ? "--keep-last" : k == 1 ?
			    "--keep-daily" : k == 2 ? "--keep-weekly" :
			    "--keep-monthly";
			args[n++] = nums[k];
		}
		jv_free(v);
	}
	args[n++] = "--prune";
	if (!yes)
		args[n++] = "--dry-run";
	args[n] = NULL;
	rc = cp_restic(h, args, 0, &out, &err, 3600, e);
	if (rc != 0) {
		if (rc > 0)
			hl_err_set(e, HL_E_FAILED, "%s: restic forget failed "
			    "(exit %d): %s", h->name, rc, cp_why(&err, why,
			    sizeof(why)));
		hl_buf_free(&out);
		hl_buf_free(&err);
		return -1;
	}
	/* the JSON line; restic's prose after it says "removed" even when
	 * a dry run removed nothing: only the JSON counts */
	for (line = hl_buf_str(&out); *line && *line != '['; ) {
		line = strchr(line, '\n');
		line = line ? line + 1 : "";
	}
	groups = jv_parse_sized(line, (int)strcspn(line, "\n"));
	if (jv_get_kind(groups) != JV_KIND_ARRAY) {
		jv_free(groups);
		hl_buf_free(&out);
		hl_buf_free(&err);
		return hl_err_set(e, HL_E_FAILED, "%s: restic forget gave no "
		    "JSON list", h->name);
	}
	jv_array_foreach(groups, i, g) {
		jv rm = hl_json_get(jv_copy(g), "remove"),
		    kp = hl_json_get(jv_copy(g), "keep");

		if (jv_get_kind(rm) == JV_KIND_ARRAY)
			jv_array_foreach(rm, j, s) {
				gone = jv_array_append(gone, hl_json_get(s,
				    "short_id"));
			}
		if (jv_get_kind(kp) == JV_KIND_ARRAY)
			jv_array_foreach(kp, j, s) {
				kept = jv_array_append(kept, hl_json_get(s,
				    "short_id"));
			}
		jv_free(rm);
		jv_free(kp);
		jv_free(g);
	}
	jv_free(groups);
	*entry = jv_object_set(*entry, jv_string(yes ? "removed" :
	    "would_remove"), gone);
	*entry = jv_object_set(*entry, jv_string("kept"), kept);
	hl_buf_free(&out);
	hl_buf_free(&err);
	return 0;
}
