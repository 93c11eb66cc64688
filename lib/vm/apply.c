/*
 * hl-vm apply: make each VM as its plan says.  create: a full clone of the
 * host's template on its node with the marker in the clone call, then its
 * configuration, the disk grown, started, the agent and cloud-init waited
 * for, and its SSH host keys read through the agent into .hl/known_hosts.
 * update: in place; what needs a reboot waits for --reboot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fanout.h"
#include "core/file.h"
#include "core/json.h"
#include "cli/run.h"
#include "template/template.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

#define AGENT_TIMEOUT 600

struct host {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const struct hl_vm_opts *o;
	jv h;			/* the host's configuration */
	const char *name, *node;
	int vmid;
	struct hl_err *e;
};

/*
 * A call whose reply may be a task, and that task waited for.  A call that
 * failed without PVE's say (5xx, 595, a dropped connection) may or may
 * not have happened: a config write or resize is sent again (the same
 * values again change nothing), a create-like call only when done() says
 * it did not take effect.  A task that failed is repeated only when it
 * was a write that never got the config lock ("got timeout").
 */
static int
task_check(struct host *x, const char *method, const char *path, jv params,
    enum hl_pve_kind kind, int (*done)(struct host *))
{
	jv upid;
	int rc = -1, attempt, status;

	for (attempt = 0; attempt < 4; attempt++) {
		status = 0;
		if (hl_pve_call(x->p, kind, method, path, jv_copy(params),
		    &upid, &status, x->e) == 0) {
			rc = jv_get_kind(upid) == JV_KIND_STRING ?
			    hl_pve_task_wait(x->p, jv_string_value(upid), 0, 1,
			    x->e) : 0;
			jv_free(upid);
			/* a write whose task never got the config lock
			 * changed nothing: it goes again */
			if (rc == 0 || kind != HL_PVE_WRITE || attempt == 3 ||
			    !strstr(x->e->msg, "got timeout"))
				break;
			fprintf(stderr, "hl-vm: %s: %s %s again after: %s\n",
			    x->name, method, path, x->e->msg);
			hl_sleep(0.2 * (1 << attempt));
			continue;
		}
		jv_free(upid);
		if ((status && status < 500) || hl_pve_last_fail(x->p) ==
		    HL_PVE_FAIL_TLS || hl_pve_last_fail(x->p) ==
		    HL_PVE_FAIL_AUTH || attempt == 3)
			break;
		if (kind == HL_PVE_ONCE && done == NULL)
			break;
		if (kind == HL_PVE_ONCE && done(x)) {
			rc = 0;
			break;
		}
		fprintf(stderr, "hl-vm: %s: %s %s again after: %s\n", x->name,
		    method, path, x->e->msg);
		hl_sleep(0.2 * (1 << attempt));
	}
	jv_free(params);
	return rc;
}

static int
task(struct host *x, const char *method, const char *path, jv params,
    enum hl_pve_kind kind)
{
	return task_check(x, method, path, params, kind, NULL);
}

static void
vm_path(struct host *x, char *out, size_t len, const char *rest)
{
	snprintf(out, len, "/nodes/%s/qemu/%d%s", x->node, x->vmid, rest);
}

/* The VM's configuration from the specs, as PVE's options. */
static jv
options(struct host *x, int with_mac, const char *mac)
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
	if (with_mac && (mac || hl_json_get_str(want, "mac")))
		hl_buf_printf(&b, "=%s", mac ? mac : hl_json_get_str(want,
		    "mac"));
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
	hl_buf_printf(&b, "hl-%s", hl_json_str(x->lab->id));
	tags = hl_json_get(jv_copy(want), "tags");
	jv_array_foreach(tags, i, t) {
		hl_buf_printf(&b, ";%s", jv_string_value(t));
		jv_free(t);
	}
	jv_free(tags);
	o = jv_object_set(o, jv_string("tags"), jv_string(hl_buf_str(&b)));
	hl_buf_free(&b);
	o = jv_object_set(o, jv_string("ciupgrade"), jv_false());
	o = jv_object_set(o, jv_string("agent"), jv_string("enabled=1"));
	o = jv_object_set(o, jv_string("onboot"), jv_true());
	jv_free(want);
	return o;
}

static void
description(struct host *x, const char *artifact, int creating, char *out,
    size_t len)
{
	snprintf(out, len, "hl: lab=%s host=%s persona=%s artifact=%s spec=%s%s",
	    hl_json_str(x->lab->id), x->name, hl_json_get_str(x->h, "persona"),
	    artifact ? artifact : "none", x->o->commit ? x->o->commit : "none",
	    creating ? " state=creating" : "");
}

/* Until cloud-init finished, seen through the agent. */
static int
wait_booted(struct host *x)
{
	double timeout = x->o->timeout > 0 ? x->o->timeout : AGENT_TIMEOUT;
	int rc = hl_pve_wait_booted(x->p, x->node, x->vmid, timeout, x->e);

	if (rc <= 0)
		return rc;
	return hl_err_set(x->e, HL_EXIT_FAILED, "%s (VM %d on %s): no guest "
	    "agent within %.0f s; the template must carry qemu-guest-agent "
	    "(agent: install builds it in)", x->name, x->vmid, x->node,
	    timeout);
}

/* The guest's SSH host keys into .hl/known_hosts under its alias. */
/*
 * Replace host name's lines in .hl/known_hosts with add (may be empty),
 * under the file's lock: hosts applied at once take turns.
 */
static int
replace_keys(const struct hl_lab *lab, const char *name, const char *add)
{
	char path[4200], tmp[4300], line[8192];
	struct hl_buf keep = { 0 };
	size_t n = strlen(name);
	int lock, rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.hl/known_hosts", lab->root);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	lock = hl_lock_file(path);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!(strncmp(line, name, n) == 0 && line[n] == ' '))
				hl_buf_adds(&keep, line);
		fclose(f);
	}
	f = fopen(tmp, "w");
	if (f == NULL || fputs(hl_buf_str(&keep), f) == EOF ||
	    fputs(add, f) == EOF || fclose(f) != 0 || rename(tmp, path) != 0) {
		if (f)
			unlink(tmp);
		rc = -1;
	}
	hl_unlock_file(lock);
	hl_buf_free(&keep);
	return rc;
}

static int
read_host_keys(struct host *x)
{
	static const char *const files[] = { "ssh_host_ed25519_key.pub",
		"ssh_host_ecdsa_key.pub", "ssh_host_rsa_key.pub" };
	char api[400];
	struct hl_buf add = { 0 };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		struct hl_err e2;
		jv d;
		char line[8192], type[64], blob[8000];

		snprintf(api, sizeof(api), "/nodes/%s/qemu/%d/agent/file-read?"
		    "file=%%2Fetc%%2Fssh%%2F%s", x->node, x->vmid, files[i]);
		if (hl_pve_get(x->p, api, &d, &e2) == 0 &&
		    hl_json_get_str(d, "content") &&
		    sscanf(hl_json_get_str(d, "content"), "%63s %7999s", type,
		    blob) == 2) {
			snprintf(line, sizeof(line), "%s %s %s\n", x->name, type,
			    blob);
			hl_buf_adds(&add, line);
		}
		jv_free(d);
	}
	if (add.len == 0)
		return hl_err_set(x->e, HL_EXIT_FAILED, "%s: the agent read no "
		    "SSH host key", x->name);
	if (replace_keys(x->lab, x->name, hl_buf_str(&add)) < 0) {
		hl_buf_free(&add);
		return hl_err_set(x->e, HL_EXIT_INTERNAL, "%s/.hl/known_hosts: "
		    "cannot write", x->lab->root);
	}
	hl_buf_free(&add);
	return 0;
}

static jv
address(struct host *x)
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
static void
discard(struct host *x)
{
	char path[300];
	struct hl_err ignore, *keep = x->e;

	x->e = &ignore;
	vm_path(x, path, sizeof(path), "/status/stop");
	task(x, "POST", path, jv_null(), HL_PVE_ONCE);
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d?purge=1&"
	    "destroy-unreferenced-disks=1", x->node, x->vmid);
	task(x, "DELETE", path, jv_null(), HL_PVE_ONCE);
	x->e = keep;
	fprintf(stderr, "hl-vm: %s: removed the half-made VM %d\n", x->name,
	    x->vmid);
}

/* Whether the VM runs (a start that answered with an error did happen). */
static int
started(struct host *x)
{
	char path[300];
	struct hl_err e2;
	jv st;
	int yes;

	vm_path(x, path, sizeof(path), "/status/current");
	yes = hl_pve_get(x->p, path, &st, &e2) == 0 && hl_json_get_str(st,
	    "status") && strcmp(hl_json_get_str(st, "status"), "running") == 0;
	jv_free(st);
	return yes;
}

/*
 * Whether a clone whose call answered with an error happened after all:
 * the VM exists, and once its lock clears, carries this host's marker.
 */
static int
cloned(struct host *x)
{
	char path[300];
	double t0 = hl_clock();

	vm_path(x, path, sizeof(path), "/config");
	while (hl_clock() - t0 < AGENT_TIMEOUT) {
		struct hl_err e2;
		jv conf;
		char *l, *h;
		int status = 0, yes;

		if (hl_pve_call(x->p, HL_PVE_READ, "GET", path, jv_null(), &conf,
		    &status, &e2) < 0) {
			jv_free(conf);
			return 0;
		}
		if (hl_json_get_str(conf, "lock")) {
			jv_free(conf);
			hl_sleep(1);
			continue;
		}
		l = marker(hl_json_get_str(conf, "description"), "lab");
		h = marker(hl_json_get_str(conf, "description"), "host");
		yes = l && h && strcmp(l, hl_json_str(x->lab->id)) == 0 &&
		    strcmp(h, x->name) == 0;
		free(l);
		free(h);
		jv_free(conf);
		return yes;
	}
	return 0;
}

/* The MAC in a config's net0, or NULL (malloc'ed). */
static char *
own_mac(jv conf)
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
 */
static int
clone_template(struct host *x, jv channels, jv vms, char **art)
{
	jv tpl = hl_json_get(jv_copy(x->h), "template"), a, params, d;
	const char *tname = hl_json_get_str(tpl, "name"),
	    *ch = hl_json_get_str(tpl, "channel");
	char path[300], desc[600];
	double tvmid = -1;
	int status = 0, found = 0;

	*art = tname ? hl_tpl_channel_artifact(channels, tname, ch, x->node) :
	    NULL;
	/* the vmid: free, or held by a VM hl does not manage for this host */
	snprintf(path, sizeof(path), "/cluster/nextid?vmid=%d", x->vmid);
	if (hl_pve_call(x->p, HL_PVE_READ, "GET", path, jv_null(), &d,
	    &status, x->e) < 0) {
		jv_free(d);
		jv_free(tpl);
		if (status == 400)
			return hl_err_set(x->e, HL_EXIT_REFUSED, "%s: vmid %d "
			    "is held by a VM hl does not manage for it",
			    x->name, x->vmid);
		return -1;
	}
	jv_free(d);
	a = *art ? hl_tpl_artifact(x->lab, tname, x->node, *art) : jv_null();
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
		hl_err_set(x->e, HL_EXIT_FAILED, "%s: no template of %s@%s on "
		    "%s (hl-template build and promote it)", x->name,
		    tname ? tname : "?", ch ? ch : "stable", x->node);
		jv_free(tpl);
		return -1;
	}
	jv_free(tpl);
	description(x, *art, 1, desc, sizeof(desc));
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
	fprintf(stderr, "hl-vm: %s: cloning template %.0f to VM %d on %s\n",
	    x->name, tvmid, x->vmid, x->node);
	return task_check(x, "POST", path, params, HL_PVE_ONCE, cloned);
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
	char path[300], desc[600], size[32], *mac = own_mac(conf);
	jv params, st;
	const char *power;
	int running;

	params = options(x, 1, mac);
	free(mac);
	description(x, art, 1, desc, sizeof(desc));
	params = jv_object_set(params, jv_string("description"),
	    jv_string(desc));
	vm_path(x, path, sizeof(path), "/config");
	if (task(x, "POST", path, params, HL_PVE_WRITE) < 0)
		return -1;
	if (disk > 0) {
		vm_path(x, path, sizeof(path), "/resize");
		snprintf(size, sizeof(size), "%.0fG", disk);
		/* a disk as large or larger already: PVE's no-op */
		params = jv_object_set(jv_object_set(jv_object(),
		    jv_string("disk"), jv_string("scsi0")), jv_string("size"),
		    jv_string(size));
		if (task(x, "PUT", path, params, HL_PVE_WRITE) < 0 &&
		    !strstr(x->e->msg, "shrinking"))
			return -1;
	}
	vm_path(x, path, sizeof(path), "/status/current");
	if (hl_pve_get(x->p, path, &st, x->e) < 0) {
		jv_free(st);
		return -1;
	}
	power = hl_json_get_str(st, "status");
	running = power && strcmp(power, "running") == 0;
	jv_free(st);
	vm_path(x, path, sizeof(path), "/status/start");
	if ((!running && task_check(x, "POST", path, jv_null(), HL_PVE_ONCE,
	    started) < 0) ||
	    wait_booted(x) < 0 || read_host_keys(x) < 0)
		return -1;
	description(x, art, 0, desc, sizeof(desc));
	vm_path(x, path, sizeof(path), "/config");
	if (task(x, "POST", path, jv_object_set(jv_object(),
	    jv_string("description"), jv_string(desc)), HL_PVE_WRITE) < 0)
		return -1;
	*res = jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("created")), jv_string("ip"), address(x));
	fprintf(stderr, "hl-vm: %s: VM %d is up at %s; its host keys are in "
	    ".hl/known_hosts\n", x->name, x->vmid, hl_json_get_str(*res, "ip")
	    ? hl_json_get_str(*res, "ip") : "an address the agent did not "
	    "report");
	return 0;
}

/* Create the host's VM, or resume an interrupted create (conf not null). */
static int
create(struct host *x, jv channels, jv vms, jv conf, jv *res)
{
	char *art = NULL;
	int rc;

	if (jv_get_kind(conf) == JV_KIND_OBJECT) {
		art = marker(hl_json_get_str(conf, "description"), "artifact");
		fprintf(stderr, "hl-vm: %s: resuming the interrupted create of "
		    "VM %d\n", x->name, x->vmid);
	} else if (clone_template(x, channels, vms, &art) < 0) {
		free(art);
		return -1;
	}
	rc = finish(x, art, conf, res);
	free(art);
	if (rc < 0)
		discard(x);
	return rc;
}

static jv
failed(const char *msg, int code)
{
	return jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("failed")), jv_string("error"), jv_object_set(
	    jv_object_set(jv_object(), jv_string("message"), jv_string(msg)),
	    jv_string("code"), jv_number(code)));
}

/*
 * Whether the plan's changes hold a field still to be written (flag
 * NULL), or any change with flag set.
 */
static int
changed(jv changes, const char *field, const char *flag)
{
	int hit = 0;

	jv_array_foreach(changes, i, c) {
		const char *f = hl_json_get_str(c, "field");
		jv b = flag ? hl_json_get(jv_copy(c), flag) :
		    jv_bool(!jv_object_has(jv_copy(c), jv_string("pending")));

		if (f && (field ? strcmp(f, field) == 0 : 1) &&
		    jv_get_kind(b) == JV_KIND_TRUE)
			hit = 1;
		jv_free(b);
		jv_free(c);
	}
	return hit;
}

/* Apply an update in place; what needs a reboot waits for --reboot. */
static int
update(struct host *x, jv plan, jv conf, jv *res)
{
	jv changes = hl_json_get(jv_copy(plan), "changes"), all, params;
	static const struct {
		const char *field, *option;
	} map[] = {
		{ "cores", "cores" }, { "memory_mib", "memory" },
		{ "bridge", "net0" }, { "vlan", "net0" }, { "mac", "net0" },
		{ "ip", "ipconfig0" }, { "nameserver", "nameserver" },
		{ "searchdomain", "searchdomain" }, { "user", "ciuser" },
		{ "ssh_keys", "sshkeys" }, { "tags", "tags" },
	};
	char path[300], desc[600], *art, *mac = own_mac(conf);
	const char *st;
	size_t i;
	int running, reboot = 0, rotates = 0;

	/* the VM's own MAC stays unless one is declared */
	all = options(x, 1, mac);
	free(mac);
	params = jv_object();
	for (i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (changed(changes, map[i].field, NULL))
			params = jv_object_set(params, jv_string(map[i].option),
			    hl_json_get(jv_copy(all), map[i].option));
	jv_free(all);
	/* the spec commit is refreshed only along with another change */
	if (jv_object_length(jv_copy(params)) > 0) {
		art = marker(hl_json_get_str(conf, "description"), "artifact");
		description(x, art, 0, desc, sizeof(desc));
		free(art);
		params = jv_object_set(params, jv_string("description"),
		    jv_string(desc));
		vm_path(x, path, sizeof(path), "/config");
		if (task(x, "POST", path, params, HL_PVE_WRITE) < 0)
			goto fail;
	} else {
		jv_free(params);
	}
	if (changed(changes, "disk_gib", NULL)) {
		char size[32];

		snprintf(size, sizeof(size), "%.0fG", hl_pve_get_num(x->h,
		    "disk_gib", 0));
		vm_path(x, path, sizeof(path), "/resize");
		if (task(x, "PUT", path, jv_object_set(jv_object_set(
		    jv_object(), jv_string("disk"), jv_string("scsi0")),
		    jv_string("size"), jv_string(size)), HL_PVE_WRITE) < 0)
			goto fail;
	}
	vm_path(x, path, sizeof(path), "/status/current");
	if (hl_pve_get(x->p, path, &all, x->e) < 0) {
		jv_free(all);
		goto fail;
	}
	st = hl_json_get_str(all, "status");
	running = st && strcmp(st, "running") == 0;
	jv_free(all);
	reboot = running && changed(changes, NULL, "reboot_needed");
	rotates = changed(changes, NULL, "rotates_host_keys");
	*res = jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("updated")), jv_string("changes"), jv_copy(changes));
	if (reboot && x->o->reboot) {
		fprintf(stderr, "hl-vm: %s: rebooting VM %d for its changes\n",
		    x->name, x->vmid);
		vm_path(x, path, sizeof(path), "/status/reboot");
		if (task(x, "POST", path, jv_null(), HL_PVE_ONCE) < 0 ||
		    wait_booted(x) < 0 || (rotates && read_host_keys(x) < 0)) {
			jv_free(*res);
			*res = jv_null();
			goto fail;
		}
		*res = jv_object_set(*res, jv_string("reboot"),
		    jv_string("done"));
	} else {
		*res = jv_object_set(*res, jv_string("reboot"), jv_string(
		    reboot ? "pending: --reboot applies it" : "not needed"));
	}
	jv_free(changes);
	return 0;
fail:
	jv_free(changes);
	return -1;
}

/*
 * Wait out what an interrupted run left going on the host's VM (found by
 * name or by the declared vmid): its tasks among active (node -> the
 * node's active tasks) are waited for, not dispatched again, and its
 * lock (a clone still copying) must clear.
 * Returns 1 when it waited (the view is stale), 0 when nothing was going
 * on, -1 with x->e set.
 */
static int
settle(struct host *x, struct view *v, jv active)
{
	jv res = hl_json_get(jv_copy(v->managed), x->name), tasks;
	char path[300];
	const char *node, *lock;
	double t0 = hl_clock(), limit = x->o->timeout > 0 ? x->o->timeout :
	    AGENT_TIMEOUT;
	int vmid, waited = 0;

	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		jv_free(res);
		res = jv_null();
		jv_array_foreach(v->vms, i, vm) {
			if (hl_pve_get_num(vm, "vmid", -1) == x->vmid &&
			    jv_get_kind(res) == JV_KIND_NULL)
				res = jv_copy(vm);
			jv_free(vm);
		}
	}
	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		jv_free(res);
		return 0;
	}
	node = hl_json_get_str(res, "node");
	vmid = (int)hl_pve_get_num(res, "vmid", -1);
	tasks = node ? hl_json_get(jv_copy(active), node) : jv_null();
	if (jv_get_kind(tasks) == JV_KIND_ARRAY) {
		jv_array_foreach(tasks, i, t) {
			struct hl_err ignore;
			const char *upid = hl_json_get_str(t, "upid"),
			    *id = hl_json_get_str(t, "id");

			if (upid && id && atoi(id) == vmid) {
				fprintf(stderr, "hl-vm: %s: waiting for the task "
				    "%s an earlier run left\n", x->name, upid);
				hl_pve_task_wait(x->p, upid, limit, 0, &ignore);
				waited = 1;
			}
			jv_free(t);
		}
	}
	jv_free(tasks);
	lock = hl_json_get_str(res, "lock");
	if (lock)
		fprintf(stderr, "hl-vm: %s: VM %d is locked (%s): waiting\n",
		    x->name, vmid, lock);
	while (lock && node) {
		jv conf;
		int status = 0;

		waited = 1;
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/config", node,
		    vmid);
		if (hl_pve_call(x->p, HL_PVE_READ, "GET", path, jv_null(), &conf,
		    &status, x->e) < 0) {
			jv_free(conf);
			if (status == 500 || status == 404)
				break;	/* gone: a failed clone removes itself */
			jv_free(res);
			return -1;
		}
		lock = hl_json_get_str(conf, "lock") ? "" : NULL;
		jv_free(conf);
		if (lock && hl_clock() - t0 > limit) {
			jv_free(res);
			return hl_err_set(x->e, HL_EXIT_FAILED, "%s: VM %d is "
			    "still locked after %.0f s with no task of hl's "
			    "running", x->name, vmid, limit);
		}
		if (lock)
			hl_sleep(1);
	}
	jv_free(res);
	return waited;
}

/* The active tasks of the nodes the picked hosts live on: node -> list. */
static int
active_tasks(struct hl_pve *p, const struct hl_lab *lab, const size_t *index,
    size_t n, jv *active, struct hl_err *e)
{
	jv nodes = jv_array(), paths = jv_array();
	size_t i;

	for (i = 0; i < n; i++) {
		jv h = hl_spec_host_json(lab, &lab->hosts[index[i]]);

		if (hl_json_get_str(h, "node"))
			nodes = jv_array_append(nodes, hl_json_get(jv_copy(h),
			    "node"));
		jv_free(h);
	}
	nodes = hl_json_sorted_unique(nodes);
	jv_array_foreach(nodes, k, node) {
		paths = jv_array_append(paths, jv_string_fmt(
		    "/nodes/%s/tasks?source=active&limit=1000",
		    jv_string_value(node)));
		jv_free(node);
	}
	return hl_pve_get_map(p, nodes, paths, active, e);
}

struct run {
	struct hl_pve *p;
	const struct hl_lab *lab;
	const struct hl_vm_opts *o;
	struct view *v;
	jv channels;
	size_t *index;		/* job -> host */
	jv active;		/* node -> its active tasks, read once */
};

/* One host's apply: its result, with "code" its exit status. */
static jv
apply_host(size_t job, int forked, void *arg)
{
	struct run *r = arg;
	size_t i = r->index[job];
	struct hl_err e = { 0 };
	struct host x = { r->p, r->lab, r->o, jv_null(), NULL, NULL, 0, &e };
	struct view own = VIEW_INIT, *v = r->v;
	jv plan, res = jv_null();
	const char *action;
	int pending = 0, rc = 0;

	x.h = hl_spec_host_json(r->lab, &r->lab->hosts[i]);
	x.name = r->lab->hosts[i].name;
	x.node = hl_json_get_str(x.h, "node");
	x.vmid = (int)hl_pve_get_num(x.h, "vmid", 0);
	if (forked)
		rc = hl_pve_forked(r->p, &e);
	/* what another run left going is waited for, then looked at anew */
	if (rc == 0 && (rc = settle(&x, v, r->active)) > 0) {
		v = &own;
		rc = read_view(r->p, r->lab, v, &e);
	}
	plan = plan_host(r->lab, x.h, v, r->channels, &pending);
	action = hl_json_get_str(plan, "action");
	if (rc < 0)
		;
	else if (action && strcmp(action, "create") == 0) {
		jv conf = jv_get_kind(hl_json_get(jv_copy(plan), "resume")) ==
		    JV_KIND_TRUE ? hl_json_get(jv_copy(v->configs), x.name) :
		    jv_null();

		rc = create(&x, r->channels, v->vms, conf, &res);
		jv_free(conf);
	}
	else if (action && strcmp(action, "noop") == 0)
		res = jv_object_set(jv_object(), jv_string("action"),
		    jv_string("noop"));
	else if (action && strcmp(action, "update") == 0) {
		jv conf = hl_json_get(jv_copy(v->configs), x.name);

		x.vmid = (int)hl_pve_get_num(plan, "vmid", x.vmid);
		rc = update(&x, plan, conf, &res);
		jv_free(conf);
	} else
		rc = hl_err_set(&e, HL_EXIT_REFUSED, "%s: %s", x.name,
		    hl_json_get_str(plan, "reason") ?
		    hl_json_get_str(plan, "reason") : "blocked");
	if (rc < 0) {
		fprintf(stderr, "hl-vm: %s\n", e.msg);
		jv_free(res);
		res = failed(e.msg, e.code);
	}
	res = jv_object_set(res, jv_string("name"), jv_string(x.name));
	res = jv_object_set(res, jv_string("node"), x.node ?
	    jv_string(x.node) : jv_null());
	res = jv_object_set(res, jv_string("vmid"), jv_number(x.vmid));
	res = jv_object_set(res, jv_string("code"), jv_number(rc < 0 ?
	    e.code : HL_EXIT_OK));
	jv_free(plan);
	jv_free(x.h);
	free_view(&own);
	return res;
}

int
hl_vm_apply(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_opts *o, jv *doc)
{
	struct view v = VIEW_INIT;
	struct hl_err e = { 0 };
	struct run r = { p, lab, o, &v, hl_tpl_channels(lab), NULL,
	    jv_null() };
	jv hosts = jv_array(), results;
	unsigned char *mine;
	int code = HL_EXIT_OK;
	size_t i, n = 0;

	if (read_view(p, lab, &v, &e) < 0) {
		free_view(&v);
		jv_free(r.channels);
		jv_free(hosts);
		*doc = hl_error_doc("hl-vm", &e);
		return e.code;
	}
	mine = calloc(lab->nhosts + 1, 1);
	if (mine && jv_get_kind(o->saved) == JV_KIND_OBJECT &&
	    saved_check(lab, o->saved, &v, r.channels, o->commit, mine,
	    &e) < 0) {
		free(mine);
		free_view(&v);
		jv_free(r.channels);
		jv_free(hosts);
		*doc = hl_error_doc("hl-vm", &e);
		return e.code;
	}
	if (mine && jv_get_kind(o->saved) != JV_KIND_OBJECT)
		memcpy(mine, picked, lab->nhosts);
	r.index = calloc(lab->nhosts + 1, sizeof(*r.index));
	for (i = 0; r.index && mine && i < lab->nhosts; i++)
		if (mine[i] && !lab->hosts[i].external)
			r.index[n++] = i;
	free(mine);
	r.active = jv_object();
	if (active_tasks(p, lab, r.index, n, &r.active, &e) < 0) {
		free(r.index);
		free_view(&v);
		jv_free(r.channels);
		jv_free(r.active);
		jv_free(hosts);
		*doc = hl_error_doc("hl-vm", &e);
		return e.code;
	}
	results = hl_fanout(n, o->parallel ? o->parallel : 4, apply_host, &r);
	jv_array_foreach(results, k, res) {
		const struct hl_host *h = &lab->hosts[r.index[k]];

		if (jv_object_has(jv_copy(res), jv_string("died"))) {
			char msg[300];

			snprintf(msg, sizeof(msg), "%s: its worker %s; run "
			    "apply again to converge", h->name,
			    hl_json_get_str(res, "died"));
			fprintf(stderr, "hl-vm: %s\n", msg);
			jv_free(res);
			res = jv_object_set(failed(msg, HL_EXIT_INTERNAL),
			    jv_string("name"), jv_string(h->name));
			res = jv_object_set(res, jv_string("code"),
			    jv_number(HL_EXIT_INTERNAL));
		}
		code = hl_exit_worse(code, (int)hl_pve_get_num(res, "code",
		    HL_EXIT_INTERNAL));
		hosts = jv_array_append(hosts, jv_object_delete(res,
		    jv_string("code")));
	}
	jv_free(results);
	free(r.index);
	free_view(&v);
	jv_free(r.channels);
	jv_free(r.active);
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	return code;
}

/* Drop the host's lines from .hl/known_hosts. */
static void
forget_keys(const struct hl_lab *lab, const char *name)
{
	replace_keys(lab, name, "");
}

int
hl_vm_destroy(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, int yes, jv *doc)
{
	struct view v = VIEW_INIT;
	struct hl_err e = { 0 };
	jv hosts = jv_array();
	int code = HL_EXIT_OK;
	size_t i;

	if (read_view(p, lab, &v, &e) < 0) {
		free_view(&v);
		jv_free(hosts);
		*doc = hl_error_doc("hl-vm", &e);
		return e.code;
	}
	for (i = 0; i < lab->nhosts; i++) {
		struct host x = { p, lab, NULL, jv_null(), lab->hosts[i].name,
		    NULL, 0, &e };
		jv res = hl_json_get(jv_copy(v.managed), x.name), conf, out;
		char *owner = NULL, *host = NULL;
		const char *action = "absent";
		int rc = 0;

		if (!picked[i] || lab->hosts[i].external) {
			jv_free(res);
			continue;
		}
		memset(&e, 0, sizeof(e));
		conf = hl_json_get(jv_copy(v.configs), x.name);
		if (jv_get_kind(res) == JV_KIND_OBJECT) {
			x.node = hl_json_get_str(res, "node");
			x.vmid = (int)hl_pve_get_num(res, "vmid", 0);
			owner = marker(hl_json_get_str(conf, "description"),
			    "lab");
			host = marker(hl_json_get_str(conf, "description"),
			    "host");
			/* tag and marker both: hl made it for this host */
			if (!owner || !host || strcmp(owner, hl_json_str(
			    lab->id)) != 0 || strcmp(host, x.name) != 0)
				rc = hl_err_set(&e, HL_EXIT_REFUSED, "%s: VM %d "
				    "has no marker of this lab and host: not "
				    "hl's to destroy", x.name, x.vmid);
			else if (!yes)
				action = "would_destroy";
			else {
				char path[300];

				vm_path(&x, path, sizeof(path), "/status/stop");
				if (task(&x, "POST", path, jv_null(),
				    HL_PVE_ONCE) == 0) {
					snprintf(path, sizeof(path), "/nodes/%s/"
					    "qemu/%d?purge=1&destroy-"
					    "unreferenced-disks=1", x.node,
					    x.vmid);
					rc = task(&x, "DELETE", path, jv_null(),
					    HL_PVE_ONCE);
				} else {
					rc = -1;
				}
				if (rc == 0) {
					forget_keys(lab, x.name);
					action = "destroyed";
				}
			}
		}
		out = jv_object_set(jv_object(), jv_string("name"),
		    jv_string(x.name));
		out = jv_object_set(out, jv_string("node"), x.node ?
		    jv_string(x.node) : jv_null());
		out = jv_object_set(out, jv_string("vmid"), x.vmid ?
		    jv_number(x.vmid) : jv_null());
		if (rc < 0) {
			fprintf(stderr, "hl-vm: %s\n", e.msg);
			out = jv_object_set(out, jv_string("action"),
			    jv_string("failed"));
			out = jv_object_set(out, jv_string("error"),
			    jv_string(e.msg));
			code = hl_exit_worse(code, e.code);
		} else {
			out = jv_object_set(out, jv_string("action"),
			    jv_string(action));
			if (strcmp(action, "would_destroy") == 0)
				code = hl_exit_worse(code, HL_EXIT_REFUSED);
		}
		hosts = jv_array_append(hosts, out);
		free(owner);
		free(host);
		jv_free(conf);
		jv_free(res);
	}
	if (!yes && code == HL_EXIT_REFUSED)
		fprintf(stderr, "hl-vm: destroy would remove the listed VMs: "
		    "--yes to do it\n");
	free_view(&v);
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	return code;
}
