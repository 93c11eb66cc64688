/* L1 template builds (template.h): source, VM, prepare, template, artifact. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "ssh/ssh.h"
#include "state/owner.h"
#include "state/registry.h"
#include "template/template.h"
#include "template/template_impl.h"

/* ---- calls -------------------------------------------------------------- */

void
tb_log(struct build *b, const char *fmt, ...)
{
	char msg[1024], subject[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(subject, sizeof(subject), "%s on %s", b->name, b->node);
	hl_note(b->o->progress, HL_NOTE_PROGRESS, subject, "%s", msg);
}

/* A call that starts a task, and the wait for it. */
int
tb_task(struct build *b, const char *method, const char *path, jv params,
    double timeout)
{
	jv upid;
	int rc = hl_pve_run_task(b->p, method, path, params, timeout,
	    b->o->progress ? b->name : NULL, &upid, b->e);

	/* the artifact lists every task that made it */
	if (jv_get_kind(upid) == JV_KIND_STRING)
		b->upids = jv_array_append(b->upids, upid);
	else
		jv_free(upid);
	return rc;
}

/* Path helpers: "/nodes/NODE/qemu/VMID/..." */
void
tb_vm_path(struct build *b, char *out, size_t len, const char *rest)
{
	snprintf(out, len, "/nodes/%s/qemu/%d%s", b->node, b->vmid, rest);
}

/* Stop and destroy what this build made (errors ignored: best effort). */
void
tb_discard(struct build *b)
{
	char path[256];
	struct hl_err ignore, *keep = b->e;
	jv st;

	if (b->vmid <= 0)
		return;
	b->e = &ignore;
	tb_vm_path(b, path, sizeof(path), "/status/current");
	if (hl_pve_get(b->p, path, &st, &ignore) == 0) {
		const char *s = hl_json_get_str(st, "status");

		if (s && strcmp(s, "running") == 0) {
			tb_vm_path(b, path, sizeof(path), "/status/stop");
			tb_task(b, "POST", path, jv_null(), 120);
		}
		snprintf(path, sizeof(path), "/nodes/%s/qemu/%d?purge=1&"
		    "destroy-unreferenced-disks=1", b->node, b->vmid);
		tb_task(b, "DELETE", path, jv_null(), 300);
		tb_log(b, "removed the half-made VM %d", b->vmid);
	}
	jv_free(st);
	b->e = keep;
}

/* ---- the build -------------------------------------------------------- */

/* The source after the mirror map: url, checksum "algo:hex". */
static int
source(struct build *b)
{
	jv src = hl_json_get(jv_copy(b->def), "source"), m;
	const char *url = hl_json_get_str(src, "url"),
	    *sum = hl_json_get_str(src, "checksum");

	if (url == NULL || sum == NULL) {
		jv_free(src);
		return hl_err_set(b->e, HL_E_NO, "template %s: only sources "
		    "with a literal 'checksum' can be built yet", b->name);
	}
	b->source = jv_object_set(jv_object_set(jv_object(), jv_string("url"),
	    jv_string(url)), jv_string("checksum"), jv_string(sum));
	m = hl_json_get(hl_json_get(jv_copy(b->lab->spec), "mirror"), url);
	if (jv_get_kind(m) == JV_KIND_OBJECT && hl_json_get_str(m, "url") &&
	    hl_json_get_str(m, "checksum")) {
		b->mirrored = jv_object_set(jv_object_set(jv_object(),
		    jv_string("url"), jv_string(hl_json_get_str(m, "url"))),
		    jv_string("checksum"),
		    jv_string(hl_json_get_str(m, "checksum")));
	}
	jv_free(m);
	jv_free(src);
	return 0;
}

/* The import file name: a checksum prefix, then the source's name with an
 * extension PVE's import content takes (.img is qcow2 in cloud images). */
static void
import_name(const char *url, const char *sum, char *out, size_t len)
{
	const char *base = strrchr(url, '/'), *hex = strchr(sum, ':');
	char name[256];
	size_t k;

	base = base ? base + 1 : url;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "?#"), base);
	for (k = 0; name[k]; k++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._+=-", name[k]))
			name[k] = '_';
	k = strlen(name);
	if (k > 4 && strcmp(name + k - 4, ".img") == 0)
		strcpy(name + k - 4, ".qcow2");
	else if (!(k > 6 && strcmp(name + k - 6, ".qcow2") == 0) &&
	    !(k > 4 && (strcmp(name + k - 4, ".raw") == 0 ||
	    strcmp(name + k - 4, ".ova") == 0 ||
	    strcmp(name + k - 5, ".vmdk") == 0)))
		snprintf(name + (k > 200 ? 200 : k), 16, ".qcow2");
	snprintf(out, len, "%.16s-%s", hex ? hex + 1 : sum, name);
}

/* The import volume on the node, downloaded unless it is already there. */
static int
fetch(struct build *b)
{
	jv src = jv_is_valid(b->mirrored) && jv_get_kind(b->mirrored) ==
	    JV_KIND_OBJECT ? b->mirrored : b->source;
	const char *url = hl_json_get_str(src, "url"),
	    *sum = hl_json_get_str(src, "checksum");
	char file[300], path[512], algo[16];
	jv list, params;
	int have = 0;

	import_name(url, sum, file, sizeof(file));
	snprintf(b->import_vol, sizeof(b->import_vol), "%s:import/%s",
	    b->import_storage, file);
	snprintf(path, sizeof(path), "/nodes/%s/storage/%s/content?content="
	    "import", b->node, b->import_storage);
	if (hl_pve_get(b->p, path, &list, b->e) < 0) {
		jv_free(list);
		return -1;
	}
	if (jv_get_kind(list) == JV_KIND_ARRAY) {
		jv_array_foreach(list, i, v) {
			const char *id = hl_json_get_str(v, "volid");

			if (id && strcmp(id, b->import_vol) == 0)
				have = 1;
			jv_free(v);
		}
	}
	jv_free(list);
	if (have) {
		tb_log(b, "%s is already there (same checksum)", b->import_vol);
		return 0;
	}
	if (b->o->dry_run) {
		tb_log(b, "would download %s", url);
		b->download = 1;
		return 0;
	}
	snprintf(algo, sizeof(algo), "%.*s", (int)strcspn(sum, ":"), sum);
	params = jv_object_set(jv_object(), jv_string("content"),
	    jv_string("import"));
	params = jv_object_set(params, jv_string("filename"), jv_string(file));
	params = jv_object_set(params, jv_string("url"), jv_string(url));
	params = jv_object_set(params, jv_string("checksum-algorithm"),
	    jv_string(algo));
	params = jv_object_set(params, jv_string("checksum"),
	    jv_string(strchr(sum, ':') ? strchr(sum, ':') + 1 : sum));
	snprintf(path, sizeof(path), "/nodes/%s/storage/%s/download-url",
	    b->node, b->import_storage);
	tb_log(b, "downloading %s", url);
	return tb_task(b, "POST", path, params, 0);
}

/* The first vmid of the definition's range nothing holds. */
static int
pick_vmid(struct build *b)
{
	jv r = hl_json_get(jv_copy(b->def), "vmids");
	int first = (int)hl_pve_get_num(r, "first", 0),
	    last = (int)hl_pve_get_num(r, "last", -1), rc;

	jv_free(r);
	rc = hl_pve_free_vmid(b->p, first, last, &b->vmid, b->e);
	if (rc > 0)
		return hl_err_set(b->e, HL_E_FAILED, "template %s: every vmid "
		    "of its range %d-%d is taken", b->name, first, last);
	return rc;
}

static int
create(struct build *b)
{
	jv vm = hl_json_get(jv_copy(b->def), "vm"), p = jv_object();
	jv st = hl_json_get(jv_copy(b->def), "storage");
	jv defaults = hl_json_get(jv_copy(b->lab->spec), "defaults");
	const char *disk = hl_json_get_str(st, "disk"),
	    *scsihw = hl_json_get_str(vm, "scsihw"),
	    *cpu = hl_json_get_str(vm, "cpu"),
	    *pool = hl_json_get_str(defaults, "pool"),
	    *bridge = hl_json_get_str(defaults, "bridge");
	char buf[1024], name[64];
	double cores, mem;

	cores = hl_pve_get_num(vm, "cores", 1);
	mem = hl_pve_get_num(vm, "memory", 1024);
	snprintf(name, sizeof(name), "%s-%.8s", b->name, b->digest);
	p = jv_object_set(p, jv_string("vmid"), jv_number(b->vmid));
	p = jv_object_set(p, jv_string("name"), jv_string(name));
	snprintf(buf, sizeof(buf), "%s:0,import-from=%s", disk, b->import_vol);
	p = jv_object_set(p, jv_string("scsi0"), jv_string(buf));
	snprintf(buf, sizeof(buf), "%s:cloudinit", disk);
	p = jv_object_set(p, jv_string("ide2"), jv_string(buf));
	p = jv_object_set(p, jv_string("scsihw"),
	    jv_string(scsihw ? scsihw : "virtio-scsi-single"));
	if (cpu)
		p = jv_object_set(p, jv_string("cpu"), jv_string(cpu));
	p = jv_object_set(p, jv_string("cores"), jv_number(cores));
	p = jv_object_set(p, jv_string("memory"), jv_number(mem));
	p = jv_object_set(p, jv_string("agent"), jv_string("enabled=1"));
	p = jv_object_set(p, jv_string("serial0"), jv_string("socket"));
	p = jv_object_set(p, jv_string("vga"), jv_string("serial0"));
	p = jv_object_set(p, jv_string("boot"), jv_string("order=scsi0"));
	p = jv_object_set(p, jv_string("ostype"), jv_string("l26"));
	p = jv_object_set(p, jv_string("ciupgrade"), jv_false());
	if (bridge) {
		snprintf(buf, sizeof(buf), "virtio,bridge=%s", bridge);
		p = jv_object_set(p, jv_string("net0"), jv_string(buf));
		p = jv_object_set(p, jv_string("ipconfig0"),
		    jv_string("ip=dhcp"));
	}
	if (pool)
		p = jv_object_set(p, jv_string("pool"), jv_string(pool));
	hl_owner_tag(hl_json_str(b->lab->id), buf, sizeof(buf));
	p = jv_object_set(p, jv_string("tags"), jv_string_fmt("%s;hl-template",
	    buf));
	hl_owner_marker(buf, sizeof(buf), hl_json_str(b->lab->id), "template",
	    b->name, "digest", b->digest, "artifact", b->id, (char *)NULL);
	p = jv_object_set(p, jv_string("description"), jv_string(buf));
	jv_free(vm);
	jv_free(st);
	jv_free(defaults);
	snprintf(buf, sizeof(buf), "/nodes/%s/qemu", b->node);
	tb_log(b, "creating VM %d", b->vmid);
	if (tb_task(b, "POST", buf, p, 0) < 0) {
		b->vmid = -b->vmid;	/* PVE removed it: nothing to discard */
		return -1;
	}
	return 0;
}

static int
write_artifact(struct build *b, jv *out)
{
	struct hl_registry_made m = { b->id, b->name, b->node, b->digest,
		b->disk_storage, b->vmid, b->o->commit, b->o->version };
	jv a = hl_registry_artifact_new(&m, jv_copy(b->source));

	a = jv_object_set(a, jv_string("mirrored"), jv_copy(b->mirrored));
	a = jv_object_set(a, jv_string("import_volume"),
	    jv_string(b->import_vol));
	a = jv_object_set(a, jv_string("upids"), jv_copy(b->upids));
	if (hl_registry_write(b->lab, a, b->e) < 0) {
		jv_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/*
 * A dry run's end: the vmid the create would take, the cluster checked as
 * the create would check it, and what the build would do.  Nothing made,
 * so nothing to discard.
 */
static int
would_build(struct build *b, jv *out)
{
	jv src = jv_get_kind(b->mirrored) == JV_KIND_OBJECT ? b->mirrored :
	    b->source;

	if (pick_vmid(b) < 0 || hl_pve_check_cluster(b->p, b->e) < 0)
		return -1;
	tb_log(b, "would create VM %d from %s and make it a template",
	    b->vmid, b->import_vol);
	*out = jv_object_set(jv_object(), jv_string("action"),
	    jv_string("would_build"));
	*out = jv_object_set(*out, jv_string("vmid"), jv_number(b->vmid));
	*out = jv_object_set(*out, jv_string("digest"), jv_string(b->digest));
	*out = jv_object_set(*out, jv_string("source"), jv_copy(src));
	*out = jv_object_set(*out, jv_string("import_volume"),
	    jv_string(b->import_vol));
	*out = jv_object_set(*out, jv_string("download"),
	    jv_bool(b->download));
	b->vmid = 0;	/* not this build's: never discarded */
	return 0;
}

int
hl_tpl_build(struct hl_pve *p, const struct hl_lab *lab, const char *name,
    const char *node, const struct hl_tpl_opts *o, jv *out, struct hl_err *e)
{
	struct build b = { .p = p, .lab = lab, .name = name, .node = node,
	    .o = o, .e = e, .upids = jv_array(), .source = jv_null(),
	    .mirrored = jv_null() };
	jv artifact = jv_null(), st;
	const char *agent, *disk;
	int rc = -1, done, tries;

	*out = jv_null();
	b.def = hl_json_get(jv_copy(lab->templates), name);
	if (jv_get_kind(b.def) != JV_KIND_OBJECT) {
		hl_err_set(e, HL_E_LAB, "no template definition '%s' "
		    "(layers/L1/templates/%s.yaml)", name, name);
		goto out;
	}
	{
		jv cap = jv_getpath(jv_copy(b.def), JV_ARRAY(jv_string(
		    "source"), jv_string("boot_capture")));

		if (jv_get_kind(cap) == JV_KIND_STRING)
			hl_err_set(e, HL_E_REFUSED, "template %s is made from "
			    "%s's boot capture, not built: hl-capture boot "
			    "--as-template %s %s", name, jv_string_value(cap),
			    name, jv_string_value(cap));
		jv_free(cap);
		if (e->code)
			goto out;
	}
	hl_registry_digest(lab, name, b.digest);
	hl_registry_new_id(b.id, sizeof(b.id));
	st = hl_json_get(jv_copy(b.def), "storage");
	disk = hl_json_get_str(st, "disk");
	snprintf(b.disk_storage, sizeof(b.disk_storage), "%s", disk ? disk : "");
	disk = hl_json_get_str(st, "import");
	snprintf(b.import_storage, sizeof(b.import_storage), "%s",
	    disk ? disk : "");
	disk = hl_json_get_str(st, "snippets");
	snprintf(b.snippets_storage, sizeof(b.snippets_storage), "%s",
	    disk ? disk : "");
	jv_free(st);
	agent = hl_json_get_str(b.def, "agent");

	/* the same definition built, or an interrupted build to finish */
	done = tb_existing(&b, &artifact);
	if (done < 0)
		goto out;
	if (done > 0 && !o->force) {
		*out = jv_object_set(jv_object_set(jv_object(),
		    jv_string("action"), jv_string("exists")),
		    jv_string("artifact"), artifact);
		artifact = jv_null();
		rc = 0;
		goto out;
	}
	jv_free(artifact);	/* --force: built again */
	artifact = jv_null();
	if (tb_storages(&b) < 0 || (agent && strcmp(agent, "install") == 0 &&
	    tb_node_ssh(&b) < 0) || source(&b) < 0 || fetch(&b) < 0)
		goto fail;
	if (o->dry_run) {
		rc = would_build(&b, out);
		goto out;
	}
	/* a vmid another build took meanwhile (nodes build at once): the
	 * next free one, as PVE sees it then */
	for (tries = 0;; tries++) {
		if (pick_vmid(&b) < 0)
			goto fail;
		if (create(&b) == 0)
			break;
		if (e->reason != HL_E_EXISTS || tries == 20)
			goto fail;
		b.vmid = 0;
	}
	if (agent && strcmp(agent, "install") == 0 && tb_prepare(&b) < 0)
		goto fail;
	{
		char path[256];

		tb_vm_path(&b, path, sizeof(path), "/template");
		tb_log(&b, "converting VM %d to a template", b.vmid);
		if (tb_task(&b, "POST", path, jv_null(), 0) < 0)
			goto fail;
	}
	if (write_artifact(&b, &artifact) < 0)
		goto out;
	*out = jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("built")), jv_string("artifact"), artifact);
	artifact = jv_null();
	rc = 0;
	goto out;
fail:
	tb_discard(&b);
out:
	jv_free(artifact);
	jv_free(b.def);
	jv_free(b.upids);
	jv_free(b.source);
	jv_free(b.mirrored);
	return rc;
}
