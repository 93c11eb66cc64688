/*
 * L0 runway checks (runway.h).  One /version call first (reachable, TLS
 * identity, token); then every other read in one batch through curl multi,
 * a few requests per node, not one per host; then the nodes' SSH and the
 * local tools.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/num.h"
#include "runway/runway.h"
#include "runway/runway_impl.h"

/*
 * Privileges per verb hl runs, by path kind (docs/hl-validate.md).  The
 * guest agent calls need VM.GuestAgent.Audit and .Unrestricted on PVE 9;
 * PVE 8.4 has no such privileges and asks VM.Monitor for them.
 */
static const char *const vm_privs[] = { "VM.Allocate", "VM.Audit",
	"VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit",
	"VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
	"VM.Config.Network", "VM.Config.Options", "VM.PowerMgmt",
	"VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted", NULL };
static const char *const vm_privs8[] = { "VM.Allocate", "VM.Audit",
	"VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit",
	"VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
	"VM.Config.Network", "VM.Config.Options", "VM.PowerMgmt",
	"VM.Monitor", NULL };
static const char *const disk_privs[] = { "Datastore.Audit",
	"Datastore.AllocateSpace", NULL };
static const char *const import_privs[] = { "Datastore.Audit",
	"Datastore.AllocateTemplate", NULL };
static const char *const snippet_privs[] = { "Datastore.Audit", NULL };
/* where a storage other than 'local' keeps its snippets is in its
 * configuration, which only Datastore.Allocate reads (GET /storage/{id}) */
static const char *const snippet_path_privs[] = { "Datastore.Audit",
	"Datastore.Allocate", NULL };
static const char *const node_privs[] = { "Sys.Audit", NULL };
static const char *const tnode_privs[] = { "Sys.Audit", "Sys.AccessNetwork",
	NULL };
static const char *const bridge_privs[] = { "SDN.Use", NULL };
static const char *const root_privs[] = { "Sys.Audit", NULL };
/* boot_capture hosts: vzdump of the VM, its archive on capture.boot's
 * storage (boot-restore writes the VM back with the VM privileges) */
static const char *const boot_vm_privs[] = { "VM.Backup", NULL };

void
rw_add(struct rw *c, const char *id, const char *status, jv data,
    const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	jv o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = jv_object_set(jv_object(), jv_string("id"), jv_string(id));
	o = jv_object_set(o, jv_string("status"), jv_string(status));
	o = jv_object_set(o, jv_string("message"), jv_string(msg));
	o = jv_object_set(o, jv_string("data"), data);
	c->checks = jv_array_append(c->checks, o);
	if (strcmp(status, "fail") == 0)
		c->failed = 1;
}

static jv
privs_add(jv need, const char *path, const char *const *privs)
{
	jv have = jv_object_get(jv_copy(need), jv_string(path));

	if (jv_get_kind(have) != JV_KIND_ARRAY) {
		jv_free(have);
		have = jv_array();
	}
	for (; *privs; privs++)
		have = jv_array_append(have, jv_string(*privs));
	return jv_object_set(need, jv_string(path),
	    hl_json_sorted_unique(have));
}

/* The selected VM hosts' configurations. */
static jv
vm_hosts(const struct hl_lab *lab, const unsigned char *picked)
{
	jv out = jv_array();
	size_t i;

	for (i = 0; i < lab->nhosts; i++)
		if (picked[i] && !lab->hosts[i].external)
			out = jv_array_append(out,
			    hl_spec_host_json(lab, &lab->hosts[i]));
	return out;
}

/* The template definition a host uses (a new reference), or null. */
jv
rw_template(const struct hl_lab *lab, jv host)
{
	jv tpl = hl_json_get(jv_copy(host), "template");
	const char *t = hl_json_get_str(tpl, "name");
	jv def = t ? jv_object_get(jv_copy(lab->templates), jv_string(t)) :
	    jv_null();

	jv_free(tpl);
	return jv_is_valid(def) ? def : jv_null();
}

jv
hl_runway_privileges(const struct hl_lab *lab, const unsigned char *picked,
    int major)
{
	jv hosts = vm_hosts(lab, picked), need = jv_object();
	jv boot = hl_json_get(hl_json_get(jv_copy(lab->spec), "capture"),
	    "boot");
	const char *bst = hl_json_get_str(boot, "storage");
	char path[512];

	need = privs_add(need, "/", root_privs);
	jv_array_foreach(hosts, i, h) {
		const char *node = hl_json_get_str(h, "node"),
		    *pool = hl_json_get_str(h, "pool"),
		    *st = hl_json_get_str(h, "storage"),
		    *br = hl_json_get_str(h, "bridge");
		jv def = rw_template(lab, h), ts;

		if (pool)
			snprintf(path, sizeof(path), "/pool/%s", pool);
		else
			snprintf(path, sizeof(path), "/vms");
		need = privs_add(need, path, major == 8 ? vm_privs8 : vm_privs);
		if (hl_json_get_kind(h, "boot_capture") == JV_KIND_TRUE) {
			need = privs_add(need, path, boot_vm_privs);
			if (bst) {
				snprintf(path, sizeof(path), "/storage/%s", bst);
				need = privs_add(need, path, disk_privs);
			}
		}
		if (node) {
			snprintf(path, sizeof(path), "/nodes/%s", node);
			need = privs_add(need, path, jv_is_valid(def) &&
			    jv_get_kind(def) == JV_KIND_OBJECT ? tnode_privs :
			    node_privs);
		}
		if (st) {
			snprintf(path, sizeof(path), "/storage/%s", st);
			need = privs_add(need, path, disk_privs);
		}
		if (br) {
			snprintf(path, sizeof(path),
			    "/sdn/zones/localnetwork/%s", br);
			need = privs_add(need, path, bridge_privs);
		}
		ts = jv_get_kind(def) == JV_KIND_OBJECT ? hl_json_get(
		    jv_copy(def), "storage") : jv_null();
		if (jv_get_kind(ts) == JV_KIND_OBJECT) {
			const char *d = hl_json_get_str(ts, "disk"),
			    *im = hl_json_get_str(ts, "import"),
			    *sn = hl_json_get_str(ts, "snippets");

			if (d) {
				snprintf(path, sizeof(path), "/storage/%s", d);
				need = privs_add(need, path, disk_privs);
			}
			if (im) {
				snprintf(path, sizeof(path), "/storage/%s", im);
				need = privs_add(need, path, import_privs);
			}
			if (sn) {
				snprintf(path, sizeof(path), "/storage/%s", sn);
				need = privs_add(need, path, strcmp(sn,
				    "local") == 0 ? snippet_privs :
				    snippet_path_privs);
			}
		}
		jv_free(ts);
		jv_free(def);
		jv_free(h);
	}
	jv_free(hosts);
	jv_free(boot);
	return need;
}

/* ---- the first call: reachable, TLS, token, version ---------------------- */

static const char *
trust(const struct hl_pve_cfg *cfg)
{
	if (cfg->insecure)
		return "not verified (--insecure)";
	if (cfg->fingerprint)
		return "the pinned certificate fingerprint";
	if (cfg->cafile)
		return "the CA file";
	return "the system CA store";
}

/* "MAJOR.MINOR[...]" ("8.4", "8.4.1", "8.4-1"): 0 with both, or -1. */
static int
parse_version(const char *s, long *major, long *minor)
{
	size_t n = strspn(s, "0123456789"), m;
	long a, b;

	if (s[n] != '.')
		return -1;
	m = strspn(s + n + 1, "0123456789");
	if (hl_num_long_n(s, n, 0, 9999, &a) < 0 ||
	    hl_num_long_n(s + n + 1, m, 0, 9999, &b) < 0)
		return -1;
	*major = a;
	*minor = b;
	return 0;
}

/* 0 when /version answered; -1 (and *code 4) when runway must stop. */
static int
first_contact(struct rw *c, int *code)
{
	struct hl_err e;
	jv v;
	const char *ver, *rel;
	long major = 0, minor = 0;

	if (hl_pve_get(c->p, "/version", &v, &e) < 0) {
		enum hl_reason f = e.reason;

		if (f == HL_E_TLS || f == HL_E_AUTH)
			rw_add(c, "endpoint", "ok", jv_null(), "%s answers",
			    c->cfg->endpoint);
		if (f == HL_E_AUTH)
			rw_add(c, "tls", "ok", jv_null(), "identity verified "
			    "by %s", trust(c->cfg));
		rw_add(c, f == HL_E_TLS ? "tls" : f == HL_E_AUTH ?
		    "token" : "endpoint", "fail", jv_null(), "%s", e.msg);
		*code = HL_EXIT_REMOTE;
		jv_free(v);
		return -1;
	}
	rw_add(c, "endpoint", "ok", jv_null(), "%s answers", c->cfg->endpoint);
	rw_add(c, "tls", c->cfg->insecure ? "warn" : "ok", jv_null(),
	    "identity verified by %s", trust(c->cfg));
	rw_add(c, "token", "ok", jv_null(), "the API token is accepted");
	ver = hl_json_get_str(v, "version");
	rel = hl_json_get_str(v, "release");
	if (ver)
		c->facts = jv_object_set(c->facts, jv_string("version"),
		    jv_string(ver));
	if (parse_version(rel ? rel : ver ? ver : "", &major, &minor) < 0)
		rw_add(c, "version", "fail", jv_null(), "the endpoint did not "
		    "say which Proxmox VE it runs");
	else if (major < 8 || (major == 8 && minor < 4))
		rw_add(c, "version", "fail", jv_null(), "Proxmox VE %ld.%ld is "
		    "not supported: hl needs 8.4 or later", major, minor);
	else
		rw_add(c, "version", "ok", jv_null(), "Proxmox VE %s",
		    ver ? ver : rel);
	c->major = (int)major;
	jv_free(v);
	return 0;
}

jv
hl_runway(const struct hl_lab *lab, const unsigned char *picked,
    struct hl_pve *p, const struct hl_pve_cfg *cfg, int *code)
{
	struct rw c = { lab, p, cfg, jv_array(), jv_object(), 0,
	    vm_hosts(lab, picked), jv_null(), 9 };
	jv out;

	*code = HL_EXIT_OK;
	if (first_contact(&c, code) == 0) {
		c.need = hl_runway_privileges(lab, picked, c.major);
		rw_cluster_checks(&c);
		rw_ssh_checks(&c);
		rw_tool_checks(&c);
		*code = c.failed ? HL_EXIT_NO : HL_EXIT_OK;
	}
	out = jv_object_set(jv_object(), jv_string("ok"),
	    jv_bool(*code == HL_EXIT_OK));
	out = jv_object_set(out, jv_string("checks"), c.checks);
	out = jv_object_set(out, jv_string("facts"), c.facts);
	jv_free(c.hosts);
	jv_free(c.need);
	return out;
}
