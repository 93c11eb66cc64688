/* Where a host's data goes (restic.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/proc.h"
#include "spec/lab.h"
#include "spec/spec.h"
#include "state/restic.h"

int
hl_restic_client(const struct hl_lab *lab, const struct hl_host *h, jv hj,
    struct hl_restic *r)
{
	jv restic = jv_getpath(jv_copy(lab->spec), JV_ARRAY(
	    jv_string("capture"), jv_string("restic")));
	jv data = hl_json_get(jv_copy(hj), "data");
	const char *repo = hl_json_get_str(restic, "repository");
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (repo == NULL || jv_get_kind(data) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(data)) == 0)
		goto out;
	if (strncmp(repo, "sftp:", 5) == 0) {
		for (size_t i = 0; i < lab->nhosts; i++)
			if (strcmp(lab->hosts[i].name, repo + 5) == 0)
				r->nas = &lab->hosts[i];
		if (r->nas == NULL || r->nas == h)
			goto out;
		if (asprintf(&r->repository, "sftp:%s:/repo",
		    HL_RESTIC_SSH_HOST) < 0 || asprintf(&r->user,
		    "restic-%s", h->name) < 0 || asprintf(&r->key,
		    "%s/.hl/restic/%s", lab->root, h->name) < 0)
			goto out;
	} else
		r->repository = strdup(repo);
	r->password_env = strdup(hl_json_get_str(restic, "password_env"));
	rc = r->repository && r->password_env;
out:
	if (!rc)
		hl_restic_free(r);
	jv_free(restic);
	jv_free(data);
	return rc;
}

void
hl_restic_free(struct hl_restic *r)
{
	free(r->repository);
	free(r->user);
	free(r->key);
	free(r->password_env);
	memset(r, 0, sizeof(*r));
}

/* The key pair at path (and path.pub), made when missing. */
static int
make_key(const char *path, const char *comment, struct hl_err *e)
{
	struct hl_buf err = { 0 };
	char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
		"-C", (char *)comment, "-f", (char *)path, NULL };
	int rc;

	if (access(path, F_OK) == 0)
		return 0;
	rc = hl_proc_run(argv, 30, NULL, &err, e);
	if (rc > 0)
		hl_err_set(e, HL_E_FAILED, "ssh-keygen for %s: %s", path,
		    hl_buf_str(&err));
	hl_buf_free(&err);
	return rc == 0 ? 0 : -1;
}

int
hl_restic_keys(const struct hl_lab *lab, struct hl_err *e)
{
	char *dir = hl_lab_path(lab->root, ".hl/restic");
	int rc = 0;

	if (dir == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	for (size_t i = 0; rc == 0 && i < lab->nhosts; i++) {
		jv hj = hl_spec_host_json(lab, &lab->hosts[i]);
		struct hl_restic r;
		char comment[128];

		if (hl_restic_client(lab, &lab->hosts[i], hj, &r) && r.nas) {
			if (mkdir(dir, 0700) < 0 && errno != EEXIST)
				rc = hl_err_set(e, HL_E_INTERNAL, "cannot make %s: "
				    "%s", dir, strerror(errno));
			snprintf(comment, sizeof(comment), "hl-restic-%s",
			    lab->hosts[i].name);
			if (rc == 0)
				rc = make_key(r.key, comment, e);
		}
		hl_restic_free(&r);
		jv_free(hj);
	}
	free(dir);
	return rc;
}
