/*
 * The inventory (converge.h): each picked host's connection and hl_* vars
 * from its effective configuration, its own vars, and the groups.
 */
#include <stdlib.h>
#include <string.h>

#include "converge/converge_impl.h"
#include "core/file.h"
#include "core/json.h"
#include "spec/lab.h"
#include "spec/spec.h"
#include "ssh/ssh.h"
#include "state/reach.h"
#include "state/restic.h"

/* The public key lines of one file (validated by the spec: they parse). */
static jv
key_lines(const char *root, const char *file)
{
	char *path = hl_lab_path(root, file), *text = NULL, *l, *save = NULL;
	size_t len = 0;
	jv out = jv_array();

	if (path && hl_file_read(path, 64u << 10, &text, &len) == HL_FILE_OK)
		for (l = strtok_r(text, "\r\n", &save); l;
		    l = strtok_r(NULL, "\r\n", &save))
			if (l[strspn(l, " \t")] != '#' &&
			    l[strspn(l, " \t")] != '\0')
				out = jv_array_append(out, jv_string(l));
	free(text);
	free(path);
	return out;
}

/* Each public key line of the host's ssh_keys files; *seen keeps each
 * file's lines, so a file many hosts name is read once. */
static jv
authorized_keys(const char *root, jv files, jv *seen)
{
	jv out = jv_array();

	jv_array_foreach(files, i, f) {
		jv lines = hl_json_get(jv_copy(*seen), hl_json_str(f) ?
		    hl_json_str(f) : "");

		if (hl_json_str(f) && jv_get_kind(lines) != JV_KIND_ARRAY) {
			jv_free(lines);
			lines = key_lines(root, hl_json_str(f));
			*seen = jv_object_set(*seen, jv_copy(f),
			    jv_copy(lines));
		}
		if (jv_get_kind(lines) == JV_KIND_ARRAY)
			out = jv_array_concat(out, lines);
		else
			jv_free(lines);
		jv_free(f);
	}
	jv_free(files);
	return out;
}

jv
cv_ssh_args(const char *root, const char *host)
{
	struct hl_buf b = { 0 };
	jv out;

	hl_buf_adds(&b, "-o StrictHostKeyChecking=yes -o ");
	hl_buf_printf(&b, "UserKnownHostsFile=");
	/* Ansible splits it as a shell would (shlex) */
	hl_ssh_quote(&b, root);
	hl_buf_adds(&b, "/.hl/known_hosts -o GlobalKnownHostsFile=/dev/null "
	    "-o BatchMode=yes -o HostKeyAlias=");
	hl_buf_adds(&b, host);
	out = jv_string(hl_buf_str(&b));
	hl_buf_free(&b);
	return out;
}

/*
 * hl_restic for a host that captures data (the restic role sets it up):
 * the repository restic is given there and, for one on a NAS, how the
 * host reaches it.  hl_restic_clients for the NAS (the restic_server
 * role): each client's Unix user there and its public key's file.
 */
static jv
restic_vars(const struct hl_lab *lab, const struct hl_host *h, jv hj, jv v)
{
	jv restic = jv_getpath(jv_copy(lab->spec), JV_ARRAY(
	    jv_string("capture"), jv_string("restic")));
	const char *repo = hl_json_get_str(restic, "repository");
	struct hl_restic rs;

	if (hl_restic_client(lab, h, hj, &rs)) {
		jv out = jv_object_set(jv_object(), jv_string("repository"),
		    jv_string(rs.repository)), nas = jv_null();

		if (rs.nas) {
			jv nj = hl_spec_host_json(lab, rs.nas);
			struct hl_reach r;
			char *kh = hl_lab_path(lab->root, ".hl/known_hosts");

			nas = jv_object_set(jv_object(), jv_string("name"),
			    jv_string(rs.nas->name));
			if (hl_reach(lab, rs.nas, nj, &r) == 0)
				nas = jv_object_set(nas, jv_string("address"),
				    jv_string(r.address));
			nas = jv_object_set(nas, jv_string("port"),
			    jv_number(r.port));
			hl_reach_free(&r);
			nas = jv_object_set(nas, jv_string("user"),
			    jv_string(rs.user));
			nas = jv_object_set(nas, jv_string("key"),
			    jv_string(rs.key));
			nas = jv_object_set(nas, jv_string("known_hosts"),
			    kh ? jv_string(kh) : jv_null());
			free(kh);
			jv_free(nj);
		}
		out = jv_object_set(out, jv_string("nas"), nas);
		v = jv_object_set(v, jv_string("hl_restic"), out);
	}
	hl_restic_free(&rs);
	if (repo && strncmp(repo, "sftp:", 5) == 0 &&
	    strcmp(repo + 5, h->name) == 0) {
		jv clients = jv_array();

		for (size_t i = 0; i < lab->nhosts; i++) {
			jv cj = hl_spec_host_json(lab, &lab->hosts[i]);
			char *pub = NULL;

			if (hl_restic_client(lab, &lab->hosts[i], cj, &rs) &&
			    rs.nas == h && asprintf(&pub, "%s.pub", rs.key) > 0)
				clients = jv_array_append(clients, JV_OBJECT(
				    jv_string("name"),
				    jv_string(lab->hosts[i].name),
				    jv_string("user"), jv_string(rs.user),
				    jv_string("key_pub"), jv_string(pub)));
			free(pub);
			hl_restic_free(&rs);
			jv_free(cj);
		}
		v = jv_object_set(v, jv_string("hl_restic_clients"), clients);
	}
	jv_free(restic);
	return v;
}

/* The vars Ansible gets for h, or null when it has no address. */
static jv
host_vars(const struct hl_lab *lab, const struct hl_host *h,
    const char *key, jv *seen)
{
	jv hj = hl_spec_host_json(lab, h), v, roles;
	struct hl_reach r;

	if (hl_reach(lab, h, hj, &r) < 0) {
		hl_reach_free(&r);
		jv_free(hj);
		return jv_null();
	}
	v = hl_json_get(jv_copy(hj), "vars");
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		v = jv_object();
	}
	v = jv_object_set(v, jv_string("ansible_host"), jv_string(r.address));
	hl_reach_free(&r);
	v = jv_object_set(v, jv_string("ansible_user"),
	    hl_json_get(jv_copy(hj), "user"));
	if (h->external)
		v = jv_object_set(v, jv_string("ansible_port"),
		    hl_json_get(jv_copy(hj), "port"));
	v = jv_object_set(v, jv_string("ansible_ssh_private_key_file"),
	    jv_string(key));
	v = jv_object_set(v, jv_string("ansible_ssh_common_args"),
	    cv_ssh_args(lab->root, h->name));
	/* pinned whatever ANSIBLE_HOST_KEY_CHECKING says */
	v = jv_object_set(v, jv_string("ansible_host_key_checking"), jv_true());
	v = jv_object_set(v, jv_string("ansible_become"), jv_true());
	v = jv_object_set(v, jv_string("ansible_python_interpreter"),
	    jv_string("/usr/bin/python3"));
	roles = hl_json_get(jv_copy(hj), "roles");
	v = jv_object_set(v, jv_string("hl_roles"), jv_get_kind(roles) ==
	    JV_KIND_ARRAY ? roles : (jv_free(roles), jv_array()));
	v = jv_object_set(v, jv_string("hl_persona"), jv_string(h->persona));
	v = jv_object_set(v, jv_string("hl_node"),
	    hl_json_get(jv_copy(hj), "node"));
	v = jv_object_set(v, jv_string("hl_vmid"),
	    hl_json_get(jv_copy(hj), "vmid"));
	v = jv_object_set(v, jv_string("hl_tags"),
	    hl_json_get(jv_copy(hj), "tags"));
	v = jv_object_set(v, jv_string("hl_kind"),
	    jv_string(h->external ? "external" : "vm"));
	v = jv_object_set(v, jv_string("hl_user"),
	    hl_json_get(jv_copy(hj), "user"));
	/* a VM's keys are the spec's; an external host keeps its own */
	if (!h->external)
		v = jv_object_set(v, jv_string("hl_authorized_keys"),
		    authorized_keys(lab->root, hl_json_get(jv_copy(hj),
		    "ssh_keys"), seen));
	v = restic_vars(lab, h, hj, v);
	jv_free(hj);
	return v;
}

/* groups[name] gets host.  The list is taken out of groups while it
 * grows: with a second reference jq would copy it on every append. */
static jv
grouped(jv groups, const char *prefix, const char *name, const char *host)
{
	char g[200];
	jv members;

	if (name == NULL)
		return groups;
	snprintf(g, sizeof(g), "%s_%s", prefix, name);
	members = hl_json_get(jv_copy(groups), g);
	if (jv_get_kind(members) != JV_KIND_ARRAY) {
		jv_free(members);
		members = jv_array();
	} else {
		groups = jv_object_delete(groups, jv_string(g));
	}
	return jv_object_set(groups, jv_string(g),
	    jv_array_append(members, jv_string(host)));
}

jv
cv_hosts(const struct hl_lab *lab, const unsigned char *picked,
    jv *missing)
{
	char *key = hl_lab_path(lab->root, ".hl/id_ed25519");
	jv all = jv_object(), seen = jv_object();
	size_t i;

	*missing = jv_array();
	for (i = 0; i < lab->nhosts; i++) {
		const struct hl_host *h = &lab->hosts[i];
		jv v;

		if (picked && !picked[i])
			continue;
		v = host_vars(lab, h, key ? key : ".hl/id_ed25519", &seen);
		if (jv_get_kind(v) == JV_KIND_NULL)
			*missing = jv_array_append(*missing,
			    jv_string(h->name));
		else
			all = jv_object_set(all, jv_string(h->name), v);
	}
	free(key);
	jv_free(seen);
	return all;
}

jv
cv_groups(jv hostvars)
{
	jv groups = jv_object();

	jv_object_foreach(hostvars, name, v) {
		const char *n = jv_string_value(name);
		jv tags = hl_json_get(jv_copy(v), "hl_tags");

		groups = grouped(groups, "persona", hl_json_get_str(v,
		    "hl_persona"), n);
		groups = grouped(groups, "node", hl_json_get_str(v, "hl_node"),
		    n);
		if (jv_get_kind(tags) == JV_KIND_ARRAY)
			jv_array_foreach(tags, j, t) {
				groups = grouped(groups, "tag", hl_json_str(t),
				    n);
				jv_free(t);
			}
		jv_free(tags);
		jv_free(name);
		jv_free(v);
	}
	jv_free(hostvars);
	return groups;
}

jv
hl_cv_inventory(const struct hl_lab *lab, const unsigned char *picked,
    const struct hl_progress *progress, struct hl_err *e)
{
	jv missing, hostvars = cv_hosts(lab, picked, &missing), groups, doc;
	jv children = jv_array();

	jv_array_foreach(missing, i, m) {
		hl_note(progress, HL_NOTE_WARNING, jv_string_value(m), "no "
		    "address to reach it at: a DHCP host whose VM hl-vm has "
		    "not seen running (hl-vm apply)");
		jv_free(m);
	}
	jv_free(missing);
	groups = cv_groups(jv_copy(hostvars));
	doc = jv_object();
	jv_object_foreach(groups, g, members) {
		children = jv_array_append(children, jv_copy(g));
		doc = jv_object_set(doc, g, jv_object_set(jv_object(),
		    jv_string("hosts"), members));
	}
	jv_free(groups);
	doc = jv_object_set(doc, jv_string("all"), jv_object_set(jv_object(),
	    jv_string("children"), children));
	doc = jv_object_set(doc, jv_string("_meta"), jv_object_set(
	    jv_object(), jv_string("hostvars"), hostvars));
	(void)e;
	return doc;
}
