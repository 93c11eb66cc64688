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

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/json.h"
#include "core/pos.h"
#include "ssh/ssh.h"
#include "template/template.h"
#include "template/template_impl.h"
#include "spec/yamldoc.h"

void
hl_tpl_digest(const struct hl_lab *lab, const char *name, char *out)
{
	jv def = hl_json_get(jv_copy(lab->templates), name);
	jv s = jv_dump_string(def, JV_PRINT_SORTED);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0, i;

	EVP_Digest(jv_string_value(s), (size_t)jv_string_length_bytes(
	    jv_copy(s)), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = '\0';
	jv_free(s);
}

/* ---- artifacts ---------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load a JSON artifact file; null when unreadable. */
static jv
load_json(const char *path, const char *rel)
{
	struct hl_diag d;
	struct hl_pos_table *pt = NULL;
	jv doc;

	hl_diag_init(&d);
	doc = hl_yamldoc_load(path, rel, &d, &pt);
	hl_pos_table_free(pt);
	hl_diag_free(&d);
	if (jv_get_kind(doc) != JV_KIND_OBJECT) {
		jv_free(doc);
		return jv_null();
	}
	return doc;
}

static jv
node_artifacts(const struct hl_lab *lab, const char *name, const char *node,
    jv out)
{
	char dir[4096], **ids = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s/%s", lab->root,
	    name, node);
	d = opendir(dir);
	if (d == NULL)
		return out;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			ids = realloc(ids, cap * sizeof(*ids));
			if (ids == NULL)
				break;
		}
		ids[n++] = strndup(de->d_name, len - 5);
	}
	closedir(d);
	if (ids)
		qsort(ids, n, sizeof(*ids), cmp_str);
	for (i = 0; i < n; i++) {
		char path[8192], rel[4096];
		jv a;

		snprintf(rel, sizeof(rel), "layers/L1/artifacts/%s/%s/%s.json",
		    name, node, ids[i]);
		snprintf(path, sizeof(path), "%s/%s", lab->root, rel);
		a = load_json(path, rel);
		if (jv_get_kind(a) == JV_KIND_OBJECT) {
			a = jv_object_set(a, jv_string("id"), jv_string(ids[i]));
			a = jv_object_set(a, jv_string("node"), jv_string(node));
			a = jv_object_set(a, jv_string("file"), jv_string(rel));
			out = jv_array_append(out, a);
		} else {
			jv_free(a);
		}
		free(ids[i]);
	}
	free(ids);
	return out;
}

jv
hl_tpl_artifact(const struct hl_lab *lab, const char *name, const char *node,
    const char *id)
{
	char rel[4096], path[8192];
	jv a;

	if (strchr(id, '/') || strchr(name, '/') || strchr(node, '/') ||
	    id[0] == '.')
		return jv_null();
	snprintf(rel, sizeof(rel), "layers/L1/artifacts/%s/%s/%s.json", name,
	    node, id);
	snprintf(path, sizeof(path), "%s/%s", lab->root, rel);
	if (access(path, F_OK) != 0)
		return jv_null();
	a = load_json(path, rel);
	if (jv_get_kind(a) == JV_KIND_OBJECT) {
		a = jv_object_set(a, jv_string("id"), jv_string(id));
		a = jv_object_set(a, jv_string("node"), jv_string(node));
		a = jv_object_set(a, jv_string("file"), jv_string(rel));
	}
	return a;
}

char *
hl_tpl_channel_artifact(jv channels, const char *name, const char *channel,
    const char *node)
{
	jv v = hl_json_get(hl_json_get(hl_json_get(jv_copy(channels), name),
	    channel), node);
	char *out = jv_get_kind(v) == JV_KIND_STRING ?
	    strdup(jv_string_value(v)) : NULL;

	jv_free(v);
	return out;
}

jv
hl_tpl_channels(const struct hl_lab *lab)
{
	char path[4096];
	jv doc;

	snprintf(path, sizeof(path), "%s/layers/L1/channels.yaml", lab->root);
	if (access(path, F_OK) != 0)
		return jv_object();
	doc = load_json(path, "layers/L1/channels.yaml");
	return jv_get_kind(doc) == JV_KIND_OBJECT ? doc : jv_object();
}

jv
hl_tpl_artifacts(const struct hl_lab *lab, const char *name, const char *node)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	jv out = jv_array();

	if (node)
		return node_artifacts(lab, name, node, out);
	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s", lab->root,
	    name);
	d = opendir(dir);
	if (d == NULL)
		return out;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			out = node_artifacts(lab, name, de->d_name, out);
	closedir(d);
	return out;
}

/* ---- calls -------------------------------------------------------------- */

void
tb_log(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->o->progress)
		return;
	fprintf(stderr, "hl-template: %s on %s: ", b->name, b->node);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A call that starts a task, and the wait for it. */
int
tb_task(struct build *b, const char *method, const char *path, jv params,
    double timeout)
{
	jv upid;

	if (hl_pve_call(b->p, HL_PVE_ONCE, method, path, params, &upid, NULL,
	    b->e) < 0) {
		jv_free(upid);
		return -1;
	}
	if (jv_get_kind(upid) != JV_KIND_STRING) {
		jv_free(upid);
		/* 8.4's resize answers null: done */
		return 0;
	}
	b->upids = jv_array_append(b->upids, jv_copy(upid));
	if (hl_pve_task_wait(b->p, jv_string_value(upid), timeout,
	    b->o->progress, b->e) < 0) {
		jv_free(upid);
		return -1;
	}
	jv_free(upid);
	return 0;
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

static const char *
lab_str(const struct hl_lab *lab, const char *a, const char *k)
{
	jv o = hl_json_get(jv_copy(lab->spec), a);
	const char *s = hl_json_get_str(o, k);
	/* the string lives on in lab->spec */
	jv_free(o);
	return s;
}

/* The source after the mirror map: url, checksum "algo:hex". */
static int
source(struct build *b)
{
	jv src = hl_json_get(jv_copy(b->def), "source"), m;
	const char *url = hl_json_get_str(src, "url"),
	    *sum = hl_json_get_str(src, "checksum");

	if (url == NULL || sum == NULL) {
		jv_free(src);
		return hl_err_set(b->e, HL_EXIT_NO, "template %s: only sources "
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
	double first = 0, last = -1;
	int v;

	first = hl_pve_get_num(r, "first", 0);
	last = hl_pve_get_num(r, "last", -1);
	jv_free(r);
	for (v = (int)first; v <= (int)last; v++) {
		char path[64];
		jv d;
		int status = 0;
		struct hl_err e2;

		snprintf(path, sizeof(path), "/cluster/nextid?vmid=%d", v);
		if (hl_pve_call(b->p, HL_PVE_READ, "GET", path, jv_null(), &d,
		    &status, &e2) == 0) {
			jv_free(d);
			b->vmid = v;
			return 0;
		}
		jv_free(d);
		if (status != 400) {
			*b->e = e2;
			return -1;
		}
	}
	return hl_err_set(b->e, HL_EXIT_FAILED, "template %s: every vmid of "
	    "its range %.0f-%.0f is taken", b->name, first, last);
}

void
tb_now_id(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y%m%dT%H%M%SZ", &tm);
}

static int
create(struct build *b)
{
	jv vm = hl_json_get(jv_copy(b->def), "vm"), p = jv_object();
	jv st = hl_json_get(jv_copy(b->def), "storage");
	const char *disk = hl_json_get_str(st, "disk"),
	    *scsihw = hl_json_get_str(vm, "scsihw"),
	    *cpu = hl_json_get_str(vm, "cpu"),
	    *pool = lab_str(b->lab, "defaults", "pool"),
	    *bridge = lab_str(b->lab, "defaults", "bridge");
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
	snprintf(buf, sizeof(buf), "hl-%s;hl-template",
	    hl_json_str(b->lab->id));
	p = jv_object_set(p, jv_string("tags"), jv_string(buf));
	snprintf(buf, sizeof(buf), "hl: lab=%s template=%s digest=%s "
	    "artifact=%s", hl_json_str(b->lab->id), b->name, b->digest, b->id);
	p = jv_object_set(p, jv_string("description"), jv_string(buf));
	jv_free(vm);
	jv_free(st);
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
	char dir[4096], path[4200], tmp[4300], when[32];
	time_t t = time(NULL);
	struct tm tm;
	jv a = jv_object();
	FILE *f;
	jv s;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	a = jv_object_set(a, jv_string("id"), jv_string(b->id));
	a = jv_object_set(a, jv_string("template"), jv_string(b->name));
	a = jv_object_set(a, jv_string("node"), jv_string(b->node));
	a = jv_object_set(a, jv_string("vmid"), jv_number(b->vmid));
	a = jv_object_set(a, jv_string("digest"), jv_string(b->digest));
	a = jv_object_set(a, jv_string("source"), jv_copy(b->source));
	a = jv_object_set(a, jv_string("mirrored"), jv_copy(b->mirrored));
	a = jv_object_set(a, jv_string("storage"), jv_string(b->disk_storage));
	a = jv_object_set(a, jv_string("import_volume"),
	    jv_string(b->import_vol));
	a = jv_object_set(a, jv_string("upids"), jv_copy(b->upids));
	a = jv_object_set(a, jv_string("created_at"), jv_string(when));
	a = jv_object_set(a, jv_string("spec_commit"), b->o->commit ?
	    jv_string(b->o->commit) : jv_null());
	a = jv_object_set(a, jv_string("tool_version"),
	    jv_string(b->o->version ? b->o->version : ""));
	snprintf(dir, sizeof(dir), "%s/layers/L1/artifacts/%s/%s",
	    b->lab->root, b->name, b->node);
	snprintf(path, sizeof(path), "%s/%s.json", dir, b->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (tb_mkdirs(dir) < 0) {
		jv_free(a);
		return hl_err_set(b->e, HL_EXIT_INTERNAL, "%s: %s", dir,
		    strerror(errno));
	}
	s = jv_dump_string(jv_copy(a), JV_PRINT_SORTED | JV_PRINT_PRETTY |
	    JV_PRINT_SPACE1);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%s\n", jv_string_value(s)) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) != 0) {
		jv_free(s);
		jv_free(a);
		return hl_err_set(b->e, HL_EXIT_INTERNAL, "%s: %s", path,
		    strerror(errno));
	}
	jv_free(s);
	*out = a;
	return 0;
}

int
tb_mkdirs(const char *dir)
{
	char p[4096];
	size_t i;

	snprintf(p, sizeof(p), "%s", dir);
	for (i = 1; p[i]; i++)
		if (p[i] == '/') {
			p[i] = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -1;
			p[i] = '/';
		}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
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
	int rc = -1, done;

	*out = jv_null();
	b.def = hl_json_get(jv_copy(lab->templates), name);
	if (jv_get_kind(b.def) != JV_KIND_OBJECT) {
		jv_free(b.def);
		jv_free(b.upids);
		return hl_err_set(e, HL_EXIT_LAB, "no template definition '%s' "
		    "(layers/L1/templates/%s.yaml)", name, name);
	}
	hl_tpl_digest(lab, name, b.digest);
	tb_now_id(b.id, sizeof(b.id));
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
	if (tb_storages(&b) < 0 || source(&b) < 0 || fetch(&b) < 0 ||
	    pick_vmid(&b) < 0 || create(&b) < 0)
		goto fail;
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
