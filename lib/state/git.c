#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "core/buf.h"
#include "state/git.h"

const char *const hl_git_spec_paths[] = { "lab.yaml", "personas",
	"layers/L1/templates", "layers/L3", "layers/L4", NULL };

static const char *
git_reason(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

jv
hl_git_state(const char *root, struct hl_err *e)
{
	git_repository *repo = NULL;
	git_status_list *st = NULL;
	git_status_options opts;
	struct hl_buf specs[8] = { { 0 } };
	char *paths[8];
	const char *workdir;
	git_oid head;
	jv out = jv_invalid(), commit;
	size_t i, n = 0, wlen;
	int rc;

	git_libgit2_init();
	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	rc = git_repository_open_ext(&repo, root, 0, NULL);
	if (rc == GIT_ENOTFOUND) {
		out = jv_null();
		goto done;
	}
	if (rc < 0) {
		hl_err_set(e, HL_E_LAB, "cannot open the Git repository of "
		    "'%s': %s", root, git_reason());
		goto done;
	}
	workdir = git_repository_workdir(repo);
	if (workdir == NULL) {
		out = jv_null();	/* a bare repository holds no lab */
		goto done;
	}
	/* The lab may sit below the top of the repository. */
	wlen = strlen(workdir);
	for (i = 0; hl_git_spec_paths[i]; i++) {
		if (strncmp(root, workdir, wlen - 1) == 0 && strlen(root) >= wlen)
			hl_buf_printf(&specs[i], "%s/", root + wlen);
		hl_buf_adds(&specs[i], hl_git_spec_paths[i]);
		paths[n++] = specs[i].s;
	}
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
	    GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
	    GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	opts.pathspec.strings = paths;
	opts.pathspec.count = n;
	if (git_status_list_new(&st, repo, &opts) < 0) {
		hl_err_set(e, HL_E_LAB, "cannot read the Git status of '%s': "
		    "%s", root, git_reason());
		goto done;
	}
	rc = git_reference_name_to_id(&head, repo, "HEAD");
	if (rc == 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &head);
		commit = jv_string(hex);
	} else if (rc == GIT_ENOTFOUND || git_repository_head_unborn(repo) == 1) {
		commit = jv_null();
	} else {
		hl_err_set(e, HL_E_LAB, "cannot read HEAD of '%s': %s", root,
		    git_reason());
		goto done;
	}
	out = jv_object_set(jv_object(), jv_string("commit"), commit);
	out = jv_object_set(out, jv_string("dirty"),
	    jv_bool(git_status_list_entrycount(st) > 0));
done:
	for (i = 0; i < n; i++)
		hl_buf_free(&specs[i]);
	git_status_list_free(st);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return out;
}

/*
 * The repository holding root and its branch, when hl may commit there:
 * not outside Git, not on a detached or unborn HEAD, no operation in
 * progress.  Returns 0, or -1 with e (HL_E_REFUSED); the caller frees
 * *repo and *head either way.
 */
static int
open_for_commit(const char *root, git_repository **repo, git_reference **head,
    struct hl_err *e)
{
	*repo = NULL;
	*head = NULL;
	if (git_repository_open_ext(repo, root, 0, NULL) < 0)
		return hl_err_set(e, HL_E_REFUSED, "the lab is not in a Git "
		    "repository: --no-commit to skip the commit");
	if (git_repository_head_detached(*repo) == 1 ||
	    git_repository_head(head, *repo) < 0)
		return hl_err_set(e, HL_E_REFUSED, "HEAD is detached or unborn: "
		    "check out a branch to commit");
	if (git_repository_state(*repo) != GIT_REPOSITORY_STATE_NONE)
		return hl_err_set(e, HL_E_REFUSED, "a rebase, merge or the like "
		    "is in progress: finish it first");
	return 0;
}

int
hl_git_can_commit(const char *root, struct hl_err *e)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	int rc;

	git_libgit2_init();
	rc = open_for_commit(root, &repo, &head, e);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/*
 * One commit of hl's own paths on top of HEAD (DESIGN.md 2.2): a tree made
 * from HEAD's with only those paths changed (never the operator's staged
 * changes), the branch moved only if it still points where HEAD did
 * (compare-and-swap), the index updated for those paths alone.
 */
int
hl_git_commit(const char *root, const char *const *paths, const char *msg,
    char *out_hex, struct hl_err *e)
{
	git_repository *repo = NULL;
	git_reference *head = NULL, *moved = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL, *newtree = NULL;
	git_index *index = NULL;
	git_signature *sig = NULL;
	git_tree_update *upd = NULL;
	struct hl_buf *rel = NULL;
	git_oid *blobs = NULL, tree_id, commit_id;
	const char *workdir;
	size_t n = 0, all = 0, wlen, i;
	int rc = -1;

	/* as many paths as given: none is left out of the commit */
	while (paths[all])
		all++;
	upd = calloc(all + 1, sizeof(*upd));
	rel = calloc(all + 1, sizeof(*rel));
	blobs = calloc(all + 1, sizeof(*blobs));
	if (upd == NULL || rel == NULL || blobs == NULL) {
		free(upd);
		free(rel);
		free(blobs);
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	}
	git_libgit2_init();
	if (open_for_commit(root, &repo, &head, e) < 0)
		goto done;
	workdir = git_repository_workdir(repo);
	if (git_commit_lookup(&parent, repo, git_reference_target(head)) < 0 ||
	    git_commit_tree(&tree, parent) < 0 ||
	    git_repository_index(&index, repo) < 0)
		goto fail;
	wlen = workdir ? strlen(workdir) : 0;
	for (i = 0; i < all; i++, n++) {
		struct hl_buf full = { 0 };
		FILE *f;

		/* the path inside the repository */
		if (wlen && strncmp(root, workdir, wlen - 1) == 0 &&
		    strlen(root) >= wlen)
			hl_buf_printf(&rel[n], "%s/", root + wlen);
		hl_buf_adds(&rel[n], paths[i]);
		hl_buf_printf(&full, "%s/%s", root, paths[i]);
		memset(&upd[n], 0, sizeof(upd[n]));
		upd[n].path = hl_buf_str(&rel[n]);
		f = fopen(hl_buf_str(&full), "r");
		if (f) {
			fclose(f);
			if (git_blob_create_from_disk(&blobs[n], repo,
			    hl_buf_str(&full)) < 0) {
				hl_buf_free(&full);
				goto fail;
			}
			upd[n].action = GIT_TREE_UPDATE_UPSERT;
			upd[n].id = blobs[n];
			upd[n].filemode = GIT_FILEMODE_BLOB;
		} else {
			upd[n].action = GIT_TREE_UPDATE_REMOVE;
		}
		hl_buf_free(&full);
	}
	if (git_tree_create_updated(&tree_id, repo, tree, n, upd) < 0 ||
	    git_tree_lookup(&newtree, repo, &tree_id) < 0)
		goto fail;
	if (git_signature_default(&sig, repo) < 0 &&
	    git_signature_now(&sig, "hl", "hl@localhost") < 0)
		goto fail;
	if (git_commit_create(&commit_id, repo, NULL, sig, sig, NULL, msg,
	    newtree, 1, (const git_commit **)&parent) < 0)
		goto fail;
	/* compare-and-swap: only if the branch is still where we read it */
	if (git_reference_create_matching(&moved, repo, git_reference_name(head),
	    &commit_id, 1, git_reference_target(head), msg) < 0) {
		hl_err_set(e, HL_E_REFUSED, "the branch moved while hl "
		    "committed: run it again");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (upd[i].action == GIT_TREE_UPDATE_UPSERT) {
			git_index_add_bypath(index, upd[i].path);
		} else {
			git_index_remove_bypath(index, upd[i].path);
		}
	}
	if (git_index_write(index) < 0)
		goto fail;
	if (out_hex)
		git_oid_tostr(out_hex, GIT_OID_HEXSZ + 1, &commit_id);
	rc = 0;
	goto done;
fail:
	hl_err_set(e, HL_E_INTERNAL, "git: %s", git_reason());
done:
	for (i = 0; i < all; i++)
		hl_buf_free(&rel[i]);
	free(rel);
	free(upd);
	free(blobs);
	git_signature_free(sig);
	git_index_free(index);
	git_tree_free(newtree);
	git_tree_free(tree);
	git_commit_free(parent);
	git_reference_free(moved);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int
hl_git_committed(const char *root, const char *const *paths,
    const char **first, struct hl_err *e)
{
	git_repository *repo = NULL;
	const char *workdir;
	size_t wlen, i;
	int rc = -1;

	*first = NULL;
	git_libgit2_init();
	if (git_repository_open_ext(&repo, root, 0, NULL) < 0 ||
	    (workdir = git_repository_workdir(repo)) == NULL) {
		*first = paths[0];	/* outside Git nothing is committed */
		rc = 0;
		goto done;
	}
	wlen = strlen(workdir);
	for (i = 0; paths[i]; i++) {
		struct hl_buf rel = { 0 };
		unsigned flags = 0;
		int st;

		if (strncmp(root, workdir, wlen - 1) == 0 && strlen(root) >= wlen)
			hl_buf_printf(&rel, "%s/", root + wlen);
		hl_buf_adds(&rel, paths[i]);
		st = git_status_file(&flags, repo, hl_buf_str(&rel));
		hl_buf_free(&rel);
		/* tracked and as committed: status 0, flags 0 */
		if (st == GIT_ENOTFOUND || (st == 0 && flags != 0)) {
			*first = paths[i];
			rc = 0;
			goto done;
		}
		if (st < 0) {
			hl_err_set(e, HL_E_LAB, "cannot read the Git status of "
			    "'%s': %s", paths[i], git_reason());
			goto done;
		}
	}
	rc = 1;
done:
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/*
 * The repository holding root, and root's place in it ("" at its top,
 * else "sub/dir/"), into *prefix (the caller frees it).  -1 with e.
 */
static int
open_lab(const char *root, git_repository **repo, struct hl_buf *prefix,
    struct hl_err *e)
{
	const char *workdir;
	size_t wlen;

	*repo = NULL;
	if (git_repository_open_ext(repo, root, 0, NULL) < 0 ||
	    (workdir = git_repository_workdir(*repo)) == NULL)
		return hl_err_set(e, HL_E_LAB, "the lab is not in a Git "
		    "repository: %s", git_reason());
	wlen = strlen(workdir);
	if (strncmp(root, workdir, wlen - 1) == 0 && strlen(root) >= wlen)
		hl_buf_printf(prefix, "%s/", root + wlen);
	hl_buf_adds(prefix, "");
	return 0;
}

/* The tree of the lab (prefix: its place) at commit hex; -1 with e. */
static int
lab_tree(git_repository *repo, const char *hex, const char *prefix,
    git_tree **tree, struct hl_err *e)
{
	git_object *obj = NULL;
	git_tree *top = NULL;
	git_tree_entry *ent = NULL;
	int rc = -1;

	*tree = NULL;
	if (git_revparse_single(&obj, repo, hex) < 0 ||
	    git_object_peel((git_object **)&top, obj, GIT_OBJECT_TREE) < 0) {
		hl_err_set(e, HL_E_LAB, "commit %s is not in the lab's "
		    "repository: %s", hex, git_reason());
		goto done;
	}
	if (prefix[0] == '\0') {
		*tree = top;
		top = NULL;
		rc = 0;
		goto done;
	}
	if (git_tree_entry_bypath(&ent, top, prefix) < 0 ||
	    git_tree_lookup(tree, repo, git_tree_entry_id(ent)) < 0) {
		hl_err_set(e, HL_E_LAB, "commit %s has no %s", hex, prefix);
		goto done;
	}
	rc = 0;
done:
	git_tree_entry_free(ent);
	git_tree_free(top);
	git_object_free(obj);
	return rc;
}

jv
hl_git_changed(const char *root, const char *from, struct hl_err *e)
{
	git_repository *repo = NULL;
	git_tree *a = NULL, *b = NULL;
	git_diff *diff = NULL;
	struct hl_buf prefix = { 0 };
	jv out = jv_invalid();

	git_libgit2_init();
	if (open_lab(root, &repo, &prefix, e) < 0 ||
	    lab_tree(repo, from, hl_buf_str(&prefix), &a, e) < 0 ||
	    lab_tree(repo, "HEAD", hl_buf_str(&prefix), &b, e) < 0)
		goto done;
	if (git_diff_tree_to_tree(&diff, repo, a, b, NULL) < 0) {
		hl_err_set(e, HL_E_LAB, "cannot compare %s with HEAD: %s",
		    from, git_reason());
		goto done;
	}
	out = jv_array();
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);

		out = jv_array_append(out, jv_string(d->new_file.path));
		if (strcmp(d->old_file.path, d->new_file.path) != 0)
			out = jv_array_append(out, jv_string(d->old_file.path));
	}
	out = jv_sort(out, jv_copy(out));
done:
	git_diff_free(diff);
	git_tree_free(a);
	git_tree_free(b);
	git_repository_free(repo);
	hl_buf_free(&prefix);
	git_libgit2_shutdown();
	return out;
}

int
hl_git_export(const char *root, const char *commit, const char *dir,
    struct hl_err *e)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	git_checkout_options co;
	struct hl_buf prefix = { 0 };
	int rc = -1;

	git_libgit2_init();
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE |
	    GIT_CHECKOUT_DONT_UPDATE_INDEX;
	co.target_directory = dir;
	if (open_lab(root, &repo, &prefix, e) < 0 ||
	    lab_tree(repo, commit, hl_buf_str(&prefix), &tree, e) < 0)
		goto done;
	if (git_checkout_tree(repo, (git_object *)tree, &co) < 0) {
		hl_err_set(e, HL_E_LAB, "cannot write the lab at %s into %s: "
		    "%s", commit, dir, git_reason());
		goto done;
	}
	rc = 0;
done:
	git_tree_free(tree);
	git_repository_free(repo);
	hl_buf_free(&prefix);
	git_libgit2_shutdown();
	return rc;
}
