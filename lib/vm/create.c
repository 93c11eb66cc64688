/*
 * hl-vm apply, create: a full clone of the host's template on its node
 * with the marker in the clone call, then its configuration, the disk
 * grown, started, the agent and cloud-init waited for, and its SSH host
 * keys read through the agent into .hl/known_hosts.  An interrupted create
 * resumes; a failed one is removed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fanout.h"
#include "core/json.h"
#include "core/num.h"
#include "core/progress.h"
#include "ssh/known_hosts.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/* The VM's configuration from the specs, as PVE's options. */
jv
vm_options(struct host *x, int with_mac, const char *mac)
{
	jv want = desired(x->lab, x->h), o = jv_object(), keys, tags;
	struct hl_buf b = { 0 };
	const char *br = hl_json_get_str(want, "bridge");
	double vlan = hl_pve_get_num(want, "vlan", -1);

	o = jv_object_set(o, jv_string("cores"), hl_json_get(jv_copy(want),
	    "cores"));
	o = jv_object_set(o, jv_string("memory"), hl_json_get(jv_copy(want),
	    "memory_mib"));
	hl_buf_adds(&b, "virtio");
	/* a declared MAC wins; else the one the VM has (mac) stays */
	if (hl_json_get_str(want, "mac"))
		mac = hl_json_get_str(want, "mac");
	if (with_mac && mac)
		hl_buf_printf(&b, "=%s", mac);
	hl_buf_printf(&b, ",bridge=%s", br ? br : "vmbr0");
	if (vlan > 0)
		hl_buf_printf(&b, ",tag=%.0f", vlan);
	o = jv_object_set(o, jv_string("net0"), jv_string(hl_buf_str(&b)));
	hl_buf_free(&b);
	o = jv_object_set(o, jv_string("ipconfig0"), hl_json_get(jv_copy(want),
	    "ip"));
	if (hl_json_get_str(want, "nameserver"))
		o = jv_object_set(o, jv_string("nameserver"), hl_json_get(
		    jv_copy(want), "nameserver"));
	if (hl_json_get_str(want, "searchdomain"))
		o = jv_object_set(o, jv_string("searchdomain"), hl_json_get(
		    jv_copy(want), "searchdomain"));
	if (hl_json_get_str(want, "user"))
		o = jv_object_set(o, jv_string("ciuser"), hl_json_get(
		    jv_copy(want), "user"));
	keys = hl_json_get(jv_copy(want), "ssh_keys");
	jv_array_foreach(keys, i, k) {
		hl_buf_printf(&b, "%s\n", jv_string_value(k));
		jv_free(k);
	}
	jv_free(keys);
	if (b.len)
		o = jv_object_set(o, jv_string("sshkeys"),
		    jv_string(hl_buf_str(&b)));
	hl_buf_free(&b);
	{
		char tag[160];

		hl_owner_tag(hl_json_str(x->lab->id), tag, sizeof(tag));
		hl_buf_adds(&b, tag);
	}
	tags = hl_json_get(jv_copy(want), "tags");
	jv_array_foreach(tags, i, t) {
		hl_buf_printf(&b, ";%s", jv_string_value(t));
		jv_free(t);
	}
	jv_free(tags);
	o = jv_object_set(o, jv_string("tags"), jv_string(hl_buf_str(&b)));
	hl_buf_free(&b);
	if (hl_json_get_str(want, "cicustom"))
		o = jv_object_set(o, jv_string("cicustom"), hl_json_get(
		    jv_copy(want), "cicustom"));
	o = jv_object_set(o, jv_string("ciupgrade"), jv_false());
	o = jv_object_set(o, jv_string("agent"), jv_string("enabled=1"));
	o = jv_object_set(o, jv_string("onboot"), hl_json_get(jv_copy(want),
	    "onboot"));
	jv_free(want);
	return o;
}

void
vm_description(struct host *x, const char *artifact, int creating, char *out,
    size_t len)
{
	hl_owner_marker(out, len, hl_json_str(x->lab->id), "host", x->name,
	    "persona", hl_json_get_str(x->h, "persona"), "artifact", artifact,
	    "spec", x->o->commit, creating ? "state" : NULL, "creating",
	    (char *)NULL);
}

/* Until cloud-init finished, seen through the agent. */
int
vm_wait_booted(struct host *x)
{
	double timeout = x->o->timeout > 0 ? x->o->timeout : VM_AGENT_TIMEOUT;
	int rc = hl_pve_wait_booted(x->p, x->node, x->vmid, timeout, x->e);

	if (rc <= 0)
		return rc;
	return hl_err_set(x->e, HL_E_FAILED, "%s (VM %d on %s): no guest "
	    "agent within %.0f s; the template must carry qemu-guest-agent "
	    "(agent: install builds it in)", x->name, x->vmid, x->node,
	    timeout);
}

/* The guest's SSH host keys into .hl/known_hosts under its alias. */
int
vm_read_host_keys(struct host *x)
{
	static const char *const files[] = { "ssh_host_ed25519_key.pub",
		"ssh_host_ecdsa_key.pub", "ssh_host_rsa_key.pub" };
	char api[400];
	struct hl_buf add = { 0 };
	size_t i;
	int rc;
	jv addr;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		struct hl_err e2;
		jv d;

		snprintf(api, sizeof(api), "/nodes/%s/qemu/%d/agent/file-read?"
		    "file=%%2Fetc%%2Fssh%%2F%s", x->node, x->vmid, files[i]);
		/* "TYPE BASE64 [COMMENT]": the two words, or nothing */
		if (hl_pve_get(x->p, api, &d, &e2) == 0 &&
		    hl_json_get_str(d, "content")) {
			const char *c = hl_json_get_str(d, "content"), *k;
			size_t t = strcspn(c, " \t\r\n"), n;

			k = c + t + strspn(c + t, " \t");
			n = strcspn(k, " \t\r\n");
			if (t > 0 && n > 0)
				hl_buf_printf(&add, "%.*s %.*s\n", (int)t, c,
				    (int)n, k);
		}
		jv_free(d);
	}
	if (add.len == 0)
		return hl_err_set(x->e, HL_E_FAILED, "%s: the agent read no "
		    "SSH host key", x->name);
	if (hl_known_hosts_set(x->lab->root, x->name, hl_buf_str(&add),
	    x->e) < 0) {
		hl_buf_free(&add);
		return -1;
	}
	hl_buf_free(&add);
	/* where L3, L4 and capture reach it (a DHCP lease: nowhere else) */
	addr = vm_address(x);
	rc = hl_known_hosts_set_address(x->lab->root, x->name,
	    hl_json_str(addr), x->e);
	jv_free(addr);
	return rc;
}

jv
vm_address(struct host *x)
{
	char path[300];
	struct hl_err e2;
	jv d, out = jv_null();

	vm_path(x, path, sizeof(path), "/agent/network-get-interfaces");
	if (hl_pve_get(x->p, path, &d, &e2) == 0 && agent_ip(d))
		out = jv_string(agent_ip(d));
	jv_free(d);
	return out;
}

/* Stop and destroy what a failed create made. */
void
vm_discard(struct host *x)
{
	char path[300];
	struct hl_err ignore, *keep = x->e;

	x->e = &ignore;
	vm_path(x, path, sizeof(path), "/status/stop");
	vm_task(x, "POST", path, jv_null(), HL_PVE_ONCE);
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d?purge=1&"
	    "destroy-unreferenced-disks=1", x->node, x->vmid);
	vm_task(x, "DELETE", path, jv_null(), HL_PVE_ONCE);
	x->e = keep;
	vm_note(x, "removed the half-made VM %d",
	    x->vmid);
}

/*
 * Whether a clone whose call answered with an error happened after all:
 * the VM exists, and once its lock clears, carries this host's marker.
 */
static int
cloned(struct host *x)
{
	struct hl_err e2;
	jv conf;
	char *l, *h;
	int yes;

	if (hl_pve_wait_unlocked(x->p, x->node, x->vmid, VM_AGENT_TIMEOUT,
	    &conf, &e2) != 0) {
		jv_free(conf);
		return 0;
	}
	l = hl_owner_get(hl_json_get_str(conf, "description"), "lab");
	h = hl_owner_get(hl_json_get_str(conf, "description"), "host");
	yes = l && h && strcmp(l, hl_json_str(x->lab->id)) == 0 &&
	    strcmp(h, x->name) == 0;
	free(l);
	free(h);
	jv_free(conf);
	return yes;
}

/* The MAC in a config's net0, or NULL (malloc'ed). */
char *
vm_own_mac(jv conf)
{
	const char *net0 = hl_json_get_str(conf, "net0");

	if (net0 == NULL || strncmp(net0, "virtio=", 7) != 0)
		return NULL;
	return strndup(net0 + 7, strcspn(net0 + 7, ","));
}

/*
 * The clone: the vmid checked free, the host's channel template found on
 * its node, a full clone whose call carries the name and the marker with
 * state=creating (until finish() clears it).  *art: the artifact.
 * A dry run stops after the checks, *tvmid_out the template's vmid.
 */
static int
clone_template(struct host *x, jv channels, jv vms, char **art,
    double *tvmid_out)
{
	jv tpl = hl_json_get(jv_copy(x->h), "template"), a, params, d;
	const char *tname = hl_json_get_str(tpl, "name"),
	    *ch = hl_json_get_str(tpl, "channel");
	char path[300], desc[600];
	double tvmid = -1;
	int status = 0, found = 0;

	*art = hl_registry_host_artifact(channels, x->h, x->node);
	/* the vmid: free, or held by a VM hl does not manage for this host */
	snprintf(path, sizeof(path), "/cluster/nextid?vmid=%d", x->vmid);
	if (hl_pve_call(x->p, HL_PVE_READ, "GET", path, jv_null(), &d,
	    &status, x->e) < 0) {
		jv_free(d);
		jv_free(tpl);
		if (status == 400)
			return hl_err_set(x->e, HL_E_REFUSED, "%s: vmid %d "
			    "is held by a VM hl does not manage for it",
			    x->name, x->vmid);
		return -1;
	}
	jv_free(d);
	a = *art ? hl_registry_artifact(x->lab, tname, x->node, *art) : jv_null();
	tvmid = hl_pve_get_num(a, "vmid", -1);
	jv_array_foreach(vms, i, v) {
		const char *n = hl_json_get_str(v, "node");

		if (n && strcmp(n, x->node) == 0 &&
		    hl_pve_get_num(v, "vmid", -2) == tvmid &&
		    hl_pve_get_num(v, "template", 0) == 1)
			found = 1;
		jv_free(v);
	}
	jv_free(a);
	if (!found) {
		hl_err_set(x->e, HL_E_FAILED, "%s: no template of %s@%s on "
		    "%s (hl-template build and promote it)", x->name,
		    tname ? tname : "?", ch ? ch : "stable", x->node);
		jv_free(tpl);
		return -1;
	}
	jv_free(tpl);
	if (x->o->dry_run) {
		*tvmid_out = tvmid;
		vm_note(x, "would clone template %.0f to VM %d on %s", tvmid,
		    x->vmid, x->node);
		/* another cluster is refused as the clone would be */
		return hl_pve_check_cluster(x->p, x->e);
	}
	vm_description(x, *art, 1, desc, sizeof(desc));
	/* the clone carries the template's hl-<labid> tag, and the marker */
	params = jv_object_set(jv_object(), jv_string("newid"),
	    jv_number(x->vmid));
	params = jv_object_set(params, jv_string("name"), jv_string(x->name));
	params = jv_object_set(params, jv_string("full"), jv_true());
	params = jv_object_set(params, jv_string("description"),
	    jv_string(desc));
	if (hl_json_get_str(x->h, "storage"))
		params = jv_object_set(params, jv_string("storage"),
		    hl_json_get(jv_copy(x->h), "storage"));
	if (hl_json_get_str(x->h, "pool"))
		params = jv_object_set(params, jv_string("pool"),
		    hl_json_get(jv_copy(x->h), "pool"));
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%.0f/clone", x->node,
	    tvmid);
	vm_note(x, "cloning template %.0f to VM %d on %s", tvmid, x->vmid, x->node);
	return vm_task_check(x, "POST", path, params, HL_PVE_ONCE, cloned);
}

/*
 * From a clone to a VM in service: its configuration (the marker still
 * saying state=creating), the disk grown, started unless it runs, the
 * agent and cloud-init waited for, the host keys read, and the marker
 * made final.  Every step holds when done twice, so an interrupted create
 * resumes here.  conf: the VM's config when resuming, else null.
 */
static int
finish(struct host *x, const char *art, jv conf, jv *res)
{
	double disk = hl_pve_get_num(x->h, "disk_gib", 0);
	char path[300], desc[600], size[32], *mac = vm_own_mac(conf);
	jv params;
	int running, off = declared_stopped(x->h);

	params = vm_options(x, 1, mac);
	free(mac);
	vm_description(x, art, 1, desc, sizeof(desc));
	params = jv_object_set(params, jv_string("description"),
	    jv_string(desc));
	vm_path(x, path, sizeof(path), "/config");
	if (vm_task(x, "POST", path, params, HL_PVE_WRITE) < 0)
		return -1;
	if (disk > 0) {
		vm_path(x, path, sizeof(path), "/resize");
		snprintf(size, sizeof(size), "%.0fG", disk);
		/* a disk as large or larger already: PVE's no-op */
		params = jv_object_set(jv_object_set(jv_object(),
		    jv_string("disk"), jv_string("scsi0")), jv_string("size"),
		    jv_string(size));
		if (vm_task(x, "PUT", path, params, HL_PVE_WRITE) < 0 &&
		    x->e->reason != HL_E_SHRINK)
			return -1;
	}
	running = vm_running(x);
	if (running < 0)
		return -1;
	/*
	 * A VM declared stopped is made and left stopped: no boot to wait
	 * for, and no host keys, which only the running guest's agent can
	 * read; they are read when it is first started for power: running.
	 */
	if (off) {
		if (running && vm_power_off(x) < 0)
			return -1;
	} else if ((!running && vm_start(x) < 0) || vm_wait_booted(x) < 0 ||
	    vm_read_host_keys(x) < 0) {
		return -1;
	}
	vm_description(x, art, 0, desc, sizeof(desc));
	vm_path(x, path, sizeof(path), "/config");
	if (vm_task(x, "POST", path, jv_object_set(jv_object(),
	    jv_string("description"), jv_string(desc)), HL_PVE_WRITE) < 0)
		return -1;
	*res = jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("created")), jv_string("ip"), off ? jv_null() :
	    vm_address(x));
	*res = jv_object_set(*res, jv_string("power"), jv_string(off ?
	    "stopped" : "running"));
	if (off)
		vm_note(x, "VM %d is made and left stopped (declared power: "
		    "stopped); its host keys are read when it first starts",
		    x->vmid);
	else
		vm_note(x, "VM %d is up at %s; its host keys are in "
		    ".hl/known_hosts", x->vmid, hl_json_get_str(*res, "ip")
		    ? hl_json_get_str(*res, "ip") : "an address the agent did "
		    "not report");
	return 0;
}

/* Create the host's VM, or resume an interrupted create (conf not null). */
int
vm_create(struct host *x, jv channels, jv vms, jv conf, jv *res)
{
	char *art = NULL;
	double tvmid = -1;
	int rc, resume = jv_get_kind(conf) == JV_KIND_OBJECT;

	/* its vendor-data first: nothing is made when it cannot be put */
	if (vm_vendor_put(x) < 0)
		return -1;
	if (resume) {
		art = hl_owner_get(hl_json_get_str(conf, "description"),
		    "artifact");
		vm_note(x, "%s the interrupted create of VM %d",
		    x->o->dry_run ? "would resume" : "resuming", x->vmid);
		if (x->o->dry_run && hl_pve_check_cluster(x->p, x->e) < 0) {
			free(art);
			return -1;
		}
	} else if (clone_template(x, channels, vms, &art, &tvmid) < 0) {
		free(art);
		return -1;
	}
	if (x->o->dry_run) {
		*res = jv_object_set(jv_object(), jv_string("action"),
		    jv_string("would_create"));
		*res = jv_object_set(*res, jv_string("artifact"), art ?
		    jv_string(art) : jv_null());
		*res = jv_object_set(*res, jv_string(resume ? "resume" :
		    "template_vmid"), resume ? jv_true() : jv_number(tvmid));
		free(art);
		return 0;
	}
	rc = finish(x, art, conf, res);
	free(art);
	if (rc < 0)
		vm_discard(x);
	return rc;
}

