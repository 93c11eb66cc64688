/* Cloud-init snippets on a node's snippets storage (snippet.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "state/snippet.h"

int
hl_snippet_target(const struct hl_lab *lab, const char *node,
    struct hl_ssh_target *t, jv *hold, char *ident, size_t len,
    struct hl_err *e)
{
	jv n = hl_json_get(hl_json_get(jv_copy(lab->spec), "nodes"), node);

	*hold = hl_json_get(n, "ssh");
	memset(t, 0, sizeof(*t));
	t->address = hl_json_get_str(*hold, "address");
	t->host_key = hl_json_get_str(*hold, "host_key");
	t->user = hl_json_get_str(*hold, "user");
	t->port = (int)hl_pve_get_num(*hold, "port", 22);
	if (t->user == NULL)
		t->user = "root";
	snprintf(ident, len, "%s/.hl/id_ed25519", lab->root);
	if (access(ident, R_OK) == 0)
		t->identity = ident;
	if (t->address == NULL || t->host_key == NULL)
		return hl_err_set(e, HL_E_LAB, "lab.yaml gives node %s no SSH "
		    "address or host key (nodes.%s.ssh)", node, node);
	return 0;
}

int
hl_snippet_dir(struct hl_pve *p, const char *storage, char *out, size_t len,
    struct hl_err *e)
{
	char api[300];
	const char *path, *type;
	struct hl_err e2;
	int status = 0, rc = 0;
	size_t n;
	jv conf;

	snprintf(api, sizeof(api), "/storage/%s", storage);
	if (hl_pve_call(p, HL_PVE_READ, "GET", api, jv_null(), &conf, &status,
	    &e2) < 0) {
		jv_free(conf);
		/* the installer makes 'local' at /var/lib/vz on every node;
		 * a token without Datastore.Allocate can still use it */
		if (status == 403 && strcmp(storage, "local") == 0) {
			snprintf(out, len, "/var/lib/vz/snippets");
			return 0;
		}
		if (status == 403)
			return hl_err_set(e, HL_E_AUTH, "reading where storage "
			    "'%s' keeps its snippets (GET /storage/%s) needs "
			    "Datastore.Allocate on /storage/%s", storage,
			    storage, storage);
		return hl_err_copy(e, &e2);
	}
	path = hl_json_get_str(conf, "path");
	type = hl_json_get_str(conf, "type");
	n = path ? strlen(path) : 0;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (path == NULL || path[0] != '/')
		rc = hl_err_set(e, HL_E_FAILED, "storage '%s' (type %s) has no "
		    "path: snippets need a file storage (dir, nfs, cifs, "
		    "cephfs, ...)", storage, type ? type : "unknown");
	else if (n == 1)
		snprintf(out, len, "/snippets");
	else if ((size_t)snprintf(out, len, "%.*s/snippets", (int)n, path) >=
	    len)
		rc = hl_err_set(e, HL_E_FAILED, "storage '%s': its path is too "
		    "long", storage);
	jv_free(conf);
	return rc;
}

int
hl_snippet_exists(struct hl_pve *p, const char *node, const char *storage,
    const char *file, struct hl_err *e)
{
	char api[400], volid[400];
	int found = 0;
	jv list;

	snprintf(api, sizeof(api), "/nodes/%s/storage/%s/content?"
	    "content=snippets", node, storage);
	snprintf(volid, sizeof(volid), "%s:snippets/%s", storage, file);
	if (hl_pve_get(p, api, &list, e) < 0) {
		jv_free(list);
		return -1;
	}
	if (jv_get_kind(list) == JV_KIND_ARRAY) {
		jv_array_foreach(list, i, v) {
			const char *id = hl_json_get_str(v, "volid");

			found |= id && strcmp(id, volid) == 0;
			jv_free(v);
		}
	}
	jv_free(list);
	return found;
}

jv
hl_snippet_text(const char *comment, jv doc)
{
	jv body = jv_dump_string(jv_copy(doc), JV_PRINT_INDENT_FLAGS(2) |
	    JV_PRINT_SORTED | JV_PRINT_ASCII);
	struct hl_buf b = { 0 };
	const char *c;
	jv out;

	/* the comment stays one line whatever it holds */
	hl_buf_adds(&b, "#cloud-config\n# ");
	for (c = comment; *c; c++)
		hl_buf_printf(&b, "%c", (unsigned char)*c < ' ' ? ' ' : *c);
	hl_buf_printf(&b, "\n%s\n", jv_string_value(body));
	out = jv_string(hl_buf_str(&b));
	hl_buf_free(&b);
	jv_free(body);
	return out;
}

int
hl_snippet_put(const struct hl_lab *lab, const char *node, const char *dir,
    const char *file, jv text, struct hl_err *e)
{
	struct hl_ssh_target t;
	struct hl_buf b = { 0 };
	char local[] = "/tmp/hl-snippet.XXXXXX", remote[600], ident[4200];
	int fd, rc = -1;
	jv ssh;

	if (hl_snippet_target(lab, node, &t, &ssh, ident, sizeof(ident),
	    e) < 0)
		goto out;
	if ((size_t)snprintf(remote, sizeof(remote), "%s/%s", dir, file) >=
	    sizeof(remote)) {
		hl_err_set(e, HL_E_USAGE, "snippet path too long: %s/%s", dir,
		    file);
		goto out;
	}
	fd = mkstemp(local);
	if (fd < 0) {
		hl_err_set(e, HL_E_INTERNAL, "mkstemp: %s", strerror(errno));
		goto out;
	}
	close(fd);
	hl_buf_adds(&b, jv_string_value(text));
	rc = hl_file_write(local, &b, 0644, e);
	if (rc == 0)
		rc = hl_sftp_put(&t, local, remote, e);
	unlink(local);
out:
	hl_buf_free(&b);
	jv_free(ssh);
	return rc;
}
