#include <string.h>
#include <git2.h>

#include "buf.h"
#include "git.h"

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
		hl_err_set(e, HL_EXIT_LAB, "cannot open the Git repository of "
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
		hl_err_set(e, HL_EXIT_LAB, "cannot read the Git status of '%s': "
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
		hl_err_set(e, HL_EXIT_LAB, "cannot read HEAD of '%s': %s", root,
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
