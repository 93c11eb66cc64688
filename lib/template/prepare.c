/*
 * Template builds, the parts around the VM: what is already built (or
 * half-built by an interrupted run), the storages, and the prepare step
 * for images without the guest agent (DESIGN.md 2.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "ssh/ssh.h"
#include "state/owner.h"
#include "state/registry.h"
#include "state/snippet.h"
#include "template/template_impl.h"

#define AGENT_TIMEOUT 900

/* ---- what is there -------------------------------------------------------- */

/*
 * If VM v (a /cluster/resources entry) is an interrupted build of this
 * definition on this node (tag, marker, digest; not a template yet),
 * remove it, once the task a killed run left on it is done.  Returns 0,
 * or -1 with b->e when it stays locked past the wait (nothing is built
 * beside it or removed under its task).
 */
static int
leftover(struct build *b, jv v)
{
	const char *node = hl_json_get_str(v, "node"),
	    *tags = hl_json_get_str(v, "tags"),
	    *labid = hl_json_str(b->lab->id);
	int vmid = (int)hl_pve_get_num(v, "vmid", 0), ours, w, rc = 0;
	double limit = b->o->timeout > 0 ? b->o->timeout : 60;
	char path[128], *d;
	struct hl_err e2;
	jv conf;

	if (!node || strcmp(node, b->node) != 0 ||
	    !hl_owner_tagged(tags, labid) ||
	    !hl_owner_has_tag(tags, "hl-template") ||
	    hl_pve_get_num(v, "template", 0) != 0)
		return 0;
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/config", node, vmid);
	if (hl_pve_get(b->p, path, &conf, &e2) < 0) {
		jv_free(conf);
		return 0;
	}
	d = hl_owner_get(hl_json_get_str(conf, "description"), "digest");
	ours = d && strcmp(d, b->digest) == 0 &&
	    hl_owner_is(v, conf, labid, "template", b->name);
	free(d);
	jv_free(conf);
	if (!ours)
		return 0;
	if (b->o->dry_run) {
		tb_log(b, "VM %d is an interrupted build of this definition: "
		    "would remove it", vmid);
		return 0;
	}
	/* a task a killed run started may still hold it */
	w = hl_pve_wait_unlocked(b->p, node, vmid, limit, &conf, &e2);
	jv_free(conf);
	if (w == 1)
		return hl_err_set(b->e, HL_E_TIMEOUT, "VM %d on %s, an "
		    "interrupted build of this definition, is still locked "
		    "after %.0f s: wait for its task, then run again", vmid,
		    node, limit);
	if (w == 0) {
		tb_log(b, "VM %d is an interrupted build of this definition: "
		    "removing it", vmid);
		b->vmid = vmid;
		tb_discard(b);
		b->vmid = 0;
	}
	return rc;
}

int
tb_existing(struct build *b, jv *artifact)
{
	jv arts = hl_registry_artifacts(b->lab, b->name, b->node), vms;
	int found = 0, n, i;

	if (hl_pve_get(b->p, "/cluster/resources?type=vm", &vms, b->e) < 0) {
		jv_free(arts);
		jv_free(vms);
		return -1;
	}
	if (jv_get_kind(vms) != JV_KIND_ARRAY) {
		jv_free(vms);
		vms = jv_array();
	}
	/* newest first: the one to report */
	n = jv_array_length(jv_copy(arts));
	for (i = n - 1; i >= 0 && !found; i--) {
		jv a = jv_array_get(jv_copy(arts), i);
		const char *d = hl_json_get_str(a, "digest");

		if (d && strcmp(d, b->digest) == 0) {
			jv_array_foreach(vms, k, v) {
				const char *node = hl_json_get_str(v, "node");

				if (!found && hl_pve_get_num(v, "vmid", -1) ==
				    hl_pve_get_num(a, "vmid", -2) &&
				    hl_pve_get_num(v, "template", 0) == 1 && node &&
				    strcmp(node, b->node) == 0) {
					*artifact = jv_copy(a);
					found = 1;
				}
				jv_free(v);
			}
		}
		jv_free(a);
	}
	/* VMs a killed build of this digest left: not a template yet */
	jv_array_foreach(vms, k, v) {
		if (!found && leftover(b, v) < 0)
			found = -1;
		jv_free(v);
	}
	jv_free(vms);
	jv_free(arts);
	return found;
}

/* ---- storages ------------------------------------------------------------ */

static int
is_file_type(const char *t)
{
	static const char *const types[] = { "dir", "nfs", "cifs", "cephfs",
		"glusterfs", "btrfs", NULL };

	for (int i = 0; types[i]; i++)
		if (strcmp(t, types[i]) == 0)
			return 1;
	return 0;
}

static int
need(struct build *b, jv list, const char *storage, const char *content,
    int file, const char *what)
{
	jv found = jv_null();
	const char *c, *t;
	char pad[300], w[40];
	int rc = 0;

	jv_array_foreach(list, i, s) {
		const char *id = hl_json_get_str(s, "storage");

		if (id && strcmp(id, storage) == 0 &&
		    jv_get_kind(found) == JV_KIND_NULL)
			found = jv_copy(s);
		jv_free(s);
	}
	c = hl_json_get_str(found, "content");
	t = hl_json_get_str(found, "type");
	snprintf(pad, sizeof(pad), ",%s,", c ? c : "");
	snprintf(w, sizeof(w), ",%s,", content);
	if (jv_get_kind(found) == JV_KIND_NULL)
		rc = hl_err_set(b->e, HL_E_FAILED, "the %s storage '%s' does "
		    "not exist on node %s", what, storage, b->node);
	else if (file && (!t || !is_file_type(t)))
		rc = hl_err_set(b->e, HL_E_FAILED, "the %s storage '%s' on "
		    "%s is of type %s: it must be a file storage", what, storage,
		    b->node, t ? t : "unknown");
	else if (strstr(pad, w) == NULL)
		rc = hl_err_set(b->e, HL_E_FAILED, "the %s storage '%s' on "
		    "%s does not hold content type %s", what, storage, b->node,
		    content);
	jv_free(found);
	return rc;
}

int
tb_storages(struct build *b)
{
	char path[256];
	jv list;
	const char *agent = hl_json_get_str(b->def, "agent");
	int rc;

	snprintf(path, sizeof(path), "/nodes/%s/storage", b->node);
	if (hl_pve_get(b->p, path, &list, b->e) < 0) {
		jv_free(list);
		return -1;
	}
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		return hl_err_set(b->e, HL_E_REPLY, "GET %s: not a list",
		    path);
	}
	rc = need(b, list, b->import_storage, "import", 1, "import");
	if (rc == 0)
		rc = need(b, list, b->disk_storage, "images", 0, "disk");
	if (rc == 0 && agent && strcmp(agent, "install") == 0) {
		if (!b->snippets_storage[0])
			rc = hl_err_set(b->e, HL_E_FAILED, "template %s has "
			    "agent: install but no snippets storage", b->name);
		else
			rc = need(b, list, b->snippets_storage, "snippets", 1,
			    "snippets");
		/* where its snippets live, known before anything is made */
		if (rc == 0)
			rc = hl_snippet_dir(b->p, b->snippets_storage,
			    b->snippets_dir, sizeof(b->snippets_dir), b->e);
	}
	jv_free(list);
	return rc;
}

/* ---- prepare ---------------------------------------------------------------- */

/* The vendor-data that installs and starts the agent, through the lab's
 * apt proxy when it has one. */
static jv
agent_doc(struct build *b)
{
	jv proxy = hl_json_get(jv_copy(b->lab->spec), "apt_proxy"), doc;

	doc = jv_object_set(jv_object(), jv_string("package_update"),
	    jv_true());
	if (jv_get_kind(proxy) == JV_KIND_STRING)
		doc = jv_object_set(doc, jv_string("apt"), jv_object_set(
		    jv_object(), jv_string("proxy"), proxy));
	else
		jv_free(proxy);
	doc = jv_object_set(doc, jv_string("packages"), jv_array_append(
	    jv_array(), jv_string("qemu-guest-agent")));
	return jv_object_set(doc, jv_string("runcmd"), jv_array_append(
	    jv_array(), jv_array_append(jv_array_append(jv_array_append(
	    jv_array(), jv_string("sh")), jv_string("-c")), jv_string(
	    "systemctl enable --now qemu-guest-agent >/dev/null 2>&1 || "
	    "true"))));
}

int
tb_node_ssh(struct build *b)
{
	struct hl_ssh_target t;
	char ident[4200];
	jv ssh;
	int rc = hl_snippet_target(b->lab, b->node, &t, &ssh, ident,
	    sizeof(ident), b->e);

	if (rc == 0)
		rc = hl_ssh_check_key(&t, b->e);
	jv_free(ssh);
	return rc;
}

static int
upload(struct build *b, const char *file)
{
	char comment[300];
	jv doc = agent_doc(b), text;
	int rc;

	snprintf(comment, sizeof(comment), "hl-template: the prepare step of "
	    "template %s (lab %s)", b->name, hl_json_str(b->lab->id));
	text = hl_snippet_text(comment, doc);
	tb_log(b, "uploading the vendor-data to %s:%s/%s", b->node,
	    b->snippets_dir, file);
	rc = hl_snippet_put(b->lab, b->node, b->snippets_dir, file, text,
	    b->e);
	jv_free(text);
	jv_free(doc);
	return rc;
}

/* Until cloud-init finished (seen through the agent), or the timeout. */
static int
wait_agent(struct build *b, double timeout)
{
	int rc = hl_pve_wait_booted(b->p, b->node, b->vmid, timeout, b->e);

	if (rc <= 0)
		return rc;
	return hl_err_set(b->e, HL_E_FAILED, "the guest agent of VM %d on "
	    "%s did not answer within %.0f s (vendor-data installs "
	    "qemu-guest-agent: is the apt proxy or the network reachable from "
	    "the guest?)", b->vmid, b->node, timeout);
}

/* Run argv in the guest through the agent; 0 when it exited 0. */
static int
guest_exec(struct build *b, jv argv, const char *what)
{
	char path[256], st[300];
	jv r;
	double pid, t0 = hl_clock();

	tb_vm_path(b, path, sizeof(path), "/agent/exec");
	if (hl_pve_call(b->p, HL_PVE_ONCE, "POST", path, jv_object_set(
	    jv_object(), jv_string("command"), argv), &r, NULL, b->e) < 0) {
		jv_free(r);
		return -1;
	}
	pid = hl_pve_get_num(r, "pid", -1);
	jv_free(r);
	tb_vm_path(b, path, sizeof(path), "/agent/exec-status");
	snprintf(st, sizeof(st), "%s?pid=%.0f", path, pid);
	while (hl_clock() - t0 < 300) {
		if (hl_pve_get(b->p, st, &r, b->e) < 0) {
			jv_free(r);
			return -1;
		}
		if (hl_pve_get_num(r, "exited", 0) == 1) {
			int code = (int)hl_pve_get_num(r, "exitcode", -1);

			jv_free(r);
			if (code != 0)
				return hl_err_set(b->e, HL_E_FAILED, "%s in VM "
				    "%d exited %d", what, b->vmid, code);
			return 0;
		}
		jv_free(r);
		hl_sleep(0.5);
	}
	return hl_err_set(b->e, HL_E_FAILED, "%s in VM %d did not end",
	    what, b->vmid);
}

int
tb_prepare(struct build *b)
{
	char file[200], path[256], ci[400];
	double timeout = b->o->timeout > 0 ? b->o->timeout : AGENT_TIMEOUT;
	jv clean;

	snprintf(file, sizeof(file), "hl-%s-%s-agent.yaml",
	    hl_json_str(b->lab->id), b->name);
	if (upload(b, file) < 0)
		return -1;
	snprintf(ci, sizeof(ci), "vendor=%s:snippets/%s", b->snippets_storage,
	    file);
	tb_vm_path(b, path, sizeof(path), "/config");
	if (hl_pve_call(b->p, HL_PVE_WRITE, "PUT", path, jv_object_set(
	    jv_object(), jv_string("cicustom"), jv_string(ci)), &clean, NULL,
	    b->e) < 0) {
		jv_free(clean);
		return -1;
	}
	jv_free(clean);
	tb_vm_path(b, path, sizeof(path), "/status/start");
	tb_log(b, "booting VM %d once to install the guest agent", b->vmid);
	if (tb_task(b, "POST", path, jv_null(), 0) < 0 ||
	    wait_agent(b, timeout) < 0)
		return -1;
	tb_log(b, "agent up; cloud-init clean");
	clean = jv_array();
	clean = jv_array_append(clean, jv_string("cloud-init"));
	clean = jv_array_append(clean, jv_string("clean"));
	clean = jv_array_append(clean, jv_string("--machine-id"));
	clean = jv_array_append(clean, jv_string("--logs"));
	if (guest_exec(b, clean, "cloud-init clean") < 0)
		return -1;
	tb_vm_path(b, path, sizeof(path), "/status/shutdown");
	if (tb_task(b, "POST", path, jv_object_set(jv_object(),
	    jv_string("forceStop"), jv_true()), 0) < 0)
		return -1;
	tb_vm_path(b, path, sizeof(path), "/config");
	if (hl_pve_call(b->p, HL_PVE_WRITE, "PUT", path, jv_object_set(
	    jv_object(), jv_string("delete"), jv_string("cicustom")), &clean,
	    NULL, b->e) < 0) {
		jv_free(clean);
		return -1;
	}
	jv_free(clean);
	return 0;
}
