/*
 * The keys of each spec file (lab.yaml, personas, templates; a stack's
 * stack.yaml in schema_stack.c), which are required, and the checks that validate and normalise their values.
 * docs/spec.md documents each key: keep the two in step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/check.h"
#include "spec/schema_impl.h"
#include "spec/sshkey.h"

/* A string value, or an error naming what was expected. */
static int
want_string(struct walk *w, jv v, const char *what)
{
	if (jv_get_kind(v) == JV_KIND_STRING)
		return 1;
	hl_schema_err(w, w->pos, "must be %s, not %s", what, hl_schema_kind(v));
	return 0;
}

/* Builds a check from a predicate over strings. */
#define STRING_CHECK(fn, pred, what)					\
jv									\
fn(struct walk *w, const struct rule *r, jv v)				\
{									\
	char b[256];							\
									\
	(void)r;							\
	if (!want_string(w, v, what)) {					\
		jv_free(v);						\
		return jv_invalid();					\
	}								\
	if (!(pred)) {							\
		hl_schema_err(w, w->pos, "%s is not %s",				\
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)), what);	\
		jv_free(v);						\
		return jv_invalid();					\
	}								\
	return v;							\
}

#define S (jv_string_value(v))
static STRING_CHECK(c_ident, hl_check_ident(S),
    "a name of [a-z0-9][a-z0-9_-]{0,62}")
static STRING_CHECK(c_user, hl_check_user(S),
    "a user name of [a-z_][a-z0-9_-]{0,31}")
static STRING_CHECK(c_label, hl_check_label(S), "an RFC 1123 host name label")
static STRING_CHECK(c_domain, hl_check_hostname(S), "an RFC 1123 domain name")
static STRING_CHECK(c_address, hl_check_ipv4(S, NULL) || hl_check_hostname(S),
    "an IPv4 address or an RFC 1123 host name")
static STRING_CHECK(c_storage, hl_check_storage_id(S),
    "a Proxmox storage ID of [a-z][a-z0-9_.-]*[a-z0-9]")
static STRING_CHECK(c_pool, hl_check_pool(S),
    "a Proxmox pool ID of [A-Za-z0-9_-]")
static STRING_CHECK(c_bridge, hl_check_bridge(S), "a bridge name such as vmbr0")
static STRING_CHECK(c_cluster, hl_check_cluster_name(S),
    "a Proxmox cluster name of [A-Za-z0-9-]{1,15}")
STRING_CHECK(hl_schema_c_env, hl_check_env_name(S),
    "an environment variable name of [A-Z_][A-Z0-9_]*")
static STRING_CHECK(c_ipv4, hl_check_ipv4(S, NULL), "an IPv4 address")
static STRING_CHECK(c_fingerprint, hl_check_fingerprint(S),
    "a SHA-256 fingerprint (AA:BB:... 32 bytes)")
static STRING_CHECK(c_https, hl_check_url(S, 1), "an https:// URL")
static STRING_CHECK(c_url, hl_check_url(S, 0), "an http:// or https:// URL")
static STRING_CHECK(c_checksum, hl_check_checksum(S),
    "a checksum 'sha256:<64 hex>' or 'sha512:<128 hex>'")
STRING_CHECK(hl_schema_c_path, hl_check_path(S), "a file path without '..'")
static STRING_CHECK(c_hl_file, hl_check_path(S) && strncmp(S, ".hl/", 4) == 0 &&
    S[4], "a file below .hl/ (.hl/NAME), where hl's local state lives")
static STRING_CHECK(c_cpu, hl_check_label(S),
    "a QEMU CPU type such as host or x86-64-v2-AES")
#undef S

/* Host names are both identifiers and RFC 1123 labels: no '_'. */
static jv
c_host_name(struct walk *w, const struct rule *r, jv v)
{
	char b[256];

	v = c_ident(w, r, v);
	if (jv_is_valid(v) && (!hl_check_label(jv_string_value(v)) ||
	    strspn(jv_string_value(v), "0123456789") ==
	    strlen(jv_string_value(v)))) {
		hl_schema_err(w, w->pos, "host name %s is not an RFC 1123 host name "
		    "(letters, digits and '-', not at either end, not all "
		    "digits)", hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	/* "all" selects every host: a host of that name could not be. */
	if (jv_is_valid(v) && strcmp(jv_string_value(v), "all") == 0) {
		hl_schema_err(w, w->pos, "host name 'all' is reserved for the selector "
		    "of every host");
		jv_free(v);
		return jv_invalid();
	}
	return v;
}

static jv
c_enum(struct walk *w, const struct rule *r, jv v)
{
	const char *const *c;
	char b[256], list[256] = "";

	if (!want_string(w, v, "a string")) {
		jv_free(v);
		return jv_invalid();
	}
	for (c = r->choices; *c; c++) {
		if (strcmp(*c, jv_string_value(v)) == 0)
			return v;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", c == r->choices ? "" : ", ", *c);
	}
	hl_schema_err(w, w->pos, "%s is not one of: %s",
	    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)), list);
	jv_free(v);
	return jv_invalid();
}

static jv
c_bool(struct walk *w, const struct rule *r, jv v)
{
	(void)r;
	if (jv_get_kind(v) == JV_KIND_TRUE || jv_get_kind(v) == JV_KIND_FALSE)
		return v;
	hl_schema_err(w, w->pos, "must be true or false, not %s",
	    hl_schema_kind(v));
	jv_free(v);
	return jv_invalid();
}

/*
 * Where a host's restic repository is: sftp:HOST, on a host of the lab
 * (a directory of its own there for each host), or an absolute path on
 * the host itself.
 */
static jv
c_repository(struct walk *w, const struct rule *r, jv v)
{
	const char *s;
	char b[256];

	(void)r;
	if (!want_string(w, v, "a repository (sftp:HOST or /PATH)")) {
		jv_free(v);
		return jv_invalid();
	}
	s = jv_string_value(v);
	if (strncmp(s, "sftp:", 5) == 0 ? hl_check_label(s + 5) :
	    s[0] == '/' && s[1] && hl_check_path(s) && s[strlen(s) - 1] != '/')
		return v;
	hl_schema_err(w, w->pos, "%s is not a repository: sftp:HOST (a host "
	    "of the lab) or an absolute path on each host",
	    hl_schema_shown(w, s, b, sizeof(b)));
	jv_free(v);
	return jv_invalid();
}

/* A size with a unit, normalised to the rule's unit: min/max in it. */
static jv
size_in(struct walk *w, const struct rule *r, jv v, int shift,
    const char *unit)
{
	const char *why = NULL;
	uint64_t bytes, n;
	char b[256];

	if (jv_get_kind(v) == JV_KIND_NUMBER) {
		hl_schema_err(w, w->pos, "size needs a unit, e.g. 2G or 512M");
		jv_free(v);
		return jv_invalid();
	}
	if (!want_string(w, v, "a size such as 2G")) {
		jv_free(v);
		return jv_invalid();
	}
	if (!hl_check_size(jv_string_value(v), &bytes, &why)) {
		hl_schema_err(w, w->pos, "size %s %s",
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)), why);
		jv_free(v);
		return jv_invalid();
	}
	n = bytes >> shift;
	if ((n << shift) != bytes) {
		hl_schema_err(w, w->pos, "size %s is not a whole number of %s",
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)), unit);
		jv_free(v);
		return jv_invalid();
	}
	if (n < (uint64_t)r->min || n > (uint64_t)r->max) {
		hl_schema_err(w, w->pos, "size %s is out of range (%ld%s to %ld%s)",
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)), r->min, unit,
		    r->max, unit);
		jv_free(v);
		return jv_invalid();
	}
	jv_free(v);
	return jv_number((double)n);
}

static jv
c_mib(struct walk *w, const struct rule *r, jv v)
{
	return size_in(w, r, v, 20, "MiB");
}

static jv
c_gib(struct walk *w, const struct rule *r, jv v)
{
	return size_in(w, r, v, 30, "GiB");
}

static jv
c_tag(struct walk *w, const struct rule *r, jv v)
{
	char b[256];

	v = c_ident(w, r, v);
	if (!jv_is_valid(v))
		return v;
	if (!hl_check_pve_tag(jv_string_value(v))) {
		hl_schema_err(w, w->pos, "%s is not a Proxmox VE tag",
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	/* hl-<labid> marks the VMs hl owns; a hand-set one would forge it. */
	if (strncmp(jv_string_value(v), "hl-", 3) == 0) {
		hl_schema_err(w, w->pos, "tag %s is reserved: hl-* tags mark the VMs hl "
		    "manages", hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	return v;
}

static jv
c_ip(struct walk *w, const struct rule *r, jv v)
{
	char b[256];

	if (!want_string(w, v, "an address a.b.c.d/N or 'dhcp'")) {
		jv_free(v);
		return jv_invalid();
	}
	if (strcmp(jv_string_value(v), "dhcp") == 0 ||
	    hl_check_cidr(jv_string_value(v), NULL, NULL))
		return v;
	hl_schema_err(w, w->pos, "%s is not an IPv4 address with a prefix "
	    "(a.b.c.d/N, N from 8 to 32) or 'dhcp'",
	    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
	jv_free(v);
	return jv_invalid();
}

static jv
c_mac(struct walk *w, const struct rule *r, jv v)
{
	char out[18], b[256];

	if (!want_string(w, v, "a MAC address")) {
		jv_free(v);
		return jv_invalid();
	}
	if (!hl_check_mac(jv_string_value(v), out)) {
		hl_schema_err(w, w->pos, "%s is not a unicast MAC address "
		    "(XX:XX:XX:XX:XX:XX, even first octet)",
		    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	jv_free(v);
	return jv_string(out);
}

static jv
c_hostkey(struct walk *w, const struct rule *r, jv v)
{
	const char *why = NULL;
	char b[256];

	if (!want_string(w, v, "an SSH host key")) {
		jv_free(v);
		return jv_invalid();
	}
	if (hl_sshkey_check_fingerprint(jv_string_value(v)) ||
	    hl_sshkey_check_line(jv_string_value(v), &why))
		return v;
	hl_schema_err(w, w->pos, "%s is neither an OpenSSH public key line nor a "
	    "SHA256: fingerprint",
	    hl_schema_shown(w, jv_string_value(v), b, sizeof(b)));
	jv_free(v);
	return jv_invalid();
}

/* NAME[@CHANNEL] -> {name, channel}; the channel defaults to stable. */
static jv
c_template_ref(struct walk *w, const struct rule *r, jv v)
{
	static const char *const channels[] = { "stable", "canary", NULL };
	char name[128], b[256];
	const char *s, *at, *const *c;
	jv out;

	if (!want_string(w, v, "a template reference NAME[@CHANNEL]")) {
		jv_free(v);
		return jv_invalid();
	}
	s = jv_string_value(v);
	at = strchr(s, '@');
	snprintf(name, sizeof(name), "%.*s", at ? (int)(at - s) : (int)strlen(s),
	    s);
	if (!hl_check_ident(name)) {
		hl_schema_err(w, w->pos, "template %s: '%s' is not a template name",
		    hl_schema_shown(w, s, b, sizeof(b)), name);
		jv_free(v);
		return jv_invalid();
	}
	for (c = channels; at && *c; c++)
		if (strcmp(*c, at + 1) == 0)
			break;
	if (at && *c == NULL) {
		hl_schema_err(w, w->pos, "template %s: unknown channel '%.64s' (channels "
		    "are stable and canary)", hl_schema_shown(w, s, b, sizeof(b)), at + 1);
		jv_free(v);
		return jv_invalid();
	}
	out = jv_object_set(jv_object_set(jv_object(), jv_string("name"),
	    jv_string(name)), jv_string("channel"),
	    jv_string(at ? at + 1 : "stable"));
	jv_free(v);
	return out;
}

static const char *const kinds[] = { "vm", "external", NULL };
static const char *const powers[] = { "running", "stopped", NULL };
static const char *const boot_modes[] = { "snapshot", "stop", NULL };
static const char *const agents[] = { "builtin", "install", NULL };
static const char *const algorithms[] = { "sha256", "sha512", NULL };
static const char *const scsihws[] = { "virtio-scsi-single",
	"virtio-scsi-pci", "lsi", "lsi53c810", "megasas", "pvscsi", NULL };

static const struct rule tag_item = { .key = "tag", .check = c_tag };
static const struct rule ipv4_item = { .key = "dns", .check = c_ipv4 };
static const struct rule keyfile_item = { .key = "ssh_keys",
	.check = hl_schema_c_path };
static const struct rule role_item = { .key = "roles",
	.check = hl_schema_c_role };
static const struct rule var_item = { .key = "vars", .kind = K_DATA,
	.flags = R_REF, .check = hl_schema_c_var_value };
static const struct rule stack_item = { .key = "stacks",
	.check = hl_schema_c_stack };
static const struct rule env_item = { .key = "env", .flags = R_REF,
	.check = hl_schema_c_env_value };
static const struct rule data_item = { .key = "data",
	.check = hl_schema_c_data_path };

/*
 * The keys a host may set at every level.  Keep hl_schema_settings and
 * docs/spec.md in step with this list.
 */
#define SETTING_RULES							\
	{ .key = "template", .check = c_template_ref },			\
	{ .key = "node", .check = c_label },				\
	{ .key = "storage", .check = c_storage },			\
	{ .key = "bridge", .check = c_bridge },				\
	{ .key = "vlan", .check = hl_schema_c_int, .min = 1,		\
	  .max = 4094 },						\
	{ .key = "pool", .check = c_pool },				\
	{ .key = "cores", .check = hl_schema_c_int, .min = 1,		\
	  .max = 512 },							\
	{ .key = "memory", .check = c_mib, .min = 16, .max = 4 << 20 },	\
	{ .key = "disk", .check = c_gib, .min = 1, .max = 1 << 16 },	\
	{ .key = "tags", .kind = K_LIST, .sub = &tag_item },		\
	{ .key = "gateway", .check = c_ipv4 },				\
	{ .key = "dns", .kind = K_LIST, .sub = &ipv4_item },		\
	{ .key = "search_domain", .check = c_domain },			\
	{ .key = "user", .check = c_user },				\
	{ .key = "ssh_keys", .kind = K_LIST, .sub = &keyfile_item },	\
	{ .key = "power", .check = c_enum, .choices = powers },		\
	{ .key = "roles", .kind = K_LIST, .sub = &role_item },		\
	{ .key = "vars", .kind = K_DICT, .sub = &var_item,		\
	  .check = hl_schema_c_var_name },				\
	{ .key = "stacks", .kind = K_LIST, .sub = &stack_item },	\
	{ .key = "env", .kind = K_DICT, .sub = &env_item,		\
	  .check = hl_schema_c_env_name },				\
	{ .key = "data", .kind = K_LIST, .sub = &data_item },		\
	{ .key = "boot_capture", .check = c_bool },			\
	{ .key = "reboot_batch", .check = c_ident }

const char *const hl_schema_settings[] = { "template", "node", "storage",
	"bridge", "vlan", "pool", "cores", "memory", "disk", "tags", "gateway",
	"dns", "search_domain", "user", "ssh_keys", "power", "roles", "vars",
	"stacks", "env", "data", "boot_capture", "reboot_batch", NULL };

static const struct rule host_rules[] = {
	SETTING_RULES,
	{ .key = "kind", .check = c_enum, .choices = kinds },
	{ .key = "vmid", .check = hl_schema_c_int, .min = 100,
	  .max = 999999999 },
	{ .key = "ip", .check = c_ip },
	{ .key = "mac", .check = c_mac },
	{ .key = "address", .check = c_address },
	{ .key = "port", .check = hl_schema_c_int, .min = 1, .max = 65535 },
	{ .key = "host_key", .check = c_hostkey },
	{ 0 }
};

static const struct rule host_item = { .key = "host", .kind = K_MAP,
	.sub = host_rules };

const struct rule hl_schema_persona[] = {
	SETTING_RULES,
	{ .key = "hosts", .kind = K_DICT, .sub = &host_item,
	  .check = c_host_name },
	{ 0 }
};

static const struct rule defaults_rules[] = { SETTING_RULES, { 0 } };

static const struct rule tls_rules[] = {
	{ .key = "ca_file", .flags = R_REF, .check = hl_schema_c_path },
	{ .key = "fingerprint", .flags = R_REF, .check = c_fingerprint },
	{ 0 }
};

static const struct rule pve_rules[] = {
	{ .key = "endpoint", .flags = R_REQ | R_REF, .check = c_https },
	{ .key = "token_env", .check = hl_schema_c_env },
	{ .key = "token_file", .check = c_hl_file },
	{ .key = "tls", .kind = K_MAP, .sub = tls_rules },
	{ .key = "cluster", .flags = R_REF, .check = c_cluster },
	{ 0 }
};

static const struct rule node_ssh_rules[] = {
	{ .key = "address", .flags = R_REQ | R_REF, .check = c_address },
	{ .key = "port", .flags = R_REF, .check = hl_schema_c_int, .min = 1,
	  .max = 65535 },
	{ .key = "user", .check = c_user },
	{ .key = "host_key", .flags = R_REQ | R_REF, .check = c_hostkey },
	{ 0 }
};

static const struct rule node_rules[] = {
	{ .key = "ssh", .kind = K_MAP, .flags = R_REQ, .sub = node_ssh_rules },
	{ .key = "fingerprint", .flags = R_REF, .check = c_fingerprint },
	{ 0 }
};

static const struct rule node_item = { .key = "node", .kind = K_MAP,
	.sub = node_rules };

static const struct rule mirror_rules[] = {
	{ .key = "url", .flags = R_REQ | R_REF, .check = c_url },
	{ .key = "checksum", .flags = R_REQ | R_REF, .check = c_checksum },
	{ 0 }
};

static const struct rule mirror_item = { .key = "mirror", .kind = K_MAP,
	.sub = mirror_rules };

/* lab.yaml capture: restic for data, vzdump for boot disks */
static const struct rule keep_rules[] = {
	{ .key = "last", .check = hl_schema_c_int, .min = 0, .max = 100000 },
	{ .key = "daily", .check = hl_schema_c_int, .min = 0, .max = 100000 },
	{ .key = "weekly", .check = hl_schema_c_int, .min = 0, .max = 100000 },
	{ .key = "monthly", .check = hl_schema_c_int, .min = 0,
	  .max = 100000 },
	{ 0 }
};

static const struct rule restic_rules[] = {
	{ .key = "repository", .flags = R_REQ, .check = c_repository },
	{ .key = "password_env", .flags = R_REQ, .check = hl_schema_c_env },
	{ .key = "keep", .kind = K_MAP, .flags = R_REQ, .sub = keep_rules },
	{ 0 }
};

static const struct rule boot_rules[] = {
	{ .key = "storage", .flags = R_REQ, .check = c_storage },
	{ .key = "mode", .check = c_enum, .choices = boot_modes },
	{ .key = "keep", .check = hl_schema_c_int, .min = 1, .max = 1000 },
	{ 0 }
};

static const struct rule capture_rules[] = {
	{ .key = "restic", .kind = K_MAP, .sub = restic_rules },
	{ .key = "boot", .kind = K_MAP, .sub = boot_rules },
	{ 0 }
};

const struct rule hl_schema_lab[] = {
	{ .key = "id", .flags = R_REQ, .check = c_ident },
	{ .key = "pve", .kind = K_MAP, .flags = R_REQ, .sub = pve_rules },
	{ .key = "nodes", .kind = K_DICT, .flags = R_REQ, .sub = &node_item,
	  .check = c_label },
	{ .key = "defaults", .kind = K_MAP, .sub = defaults_rules },
	{ .key = "mirror", .kind = K_DICT, .sub = &mirror_item,
	  .check = c_url },
	{ .key = "apt_proxy", .flags = R_REF, .check = c_url },
	{ .key = "capture", .kind = K_MAP, .sub = capture_rules },
	{ 0 }
};

static const struct rule checksum_file_rules[] = {
	{ .key = "url", .flags = R_REQ, .check = c_url },
	{ .key = "algorithm", .flags = R_REQ, .check = c_enum,
	  .choices = algorithms },
	{ 0 }
};

/* url (a cloud image, built by hl-template) or boot_capture (a host's
 * captured boot disk, made a template by hl-capture): schema.c's
 * check_source says which keys go with which. */
static const struct rule source_rules[] = {
	{ .key = "url", .check = c_url },
	{ .key = "checksum", .check = c_checksum },
	{ .key = "checksum_file", .kind = K_MAP, .sub = checksum_file_rules },
	{ .key = "boot_capture", .check = c_host_name },
	{ 0 }
};

static const struct rule vmids_rules[] = {
	{ .key = "first", .flags = R_REQ, .check = hl_schema_c_int,
	  .min = 100, .max = 999999999 },
	{ .key = "last", .flags = R_REQ, .check = hl_schema_c_int,
	  .min = 100, .max = 999999999 },
	{ 0 }
};

static const struct rule vm_rules[] = {
	{ .key = "cores", .check = hl_schema_c_int, .min = 1, .max = 512 },
	{ .key = "memory", .check = c_mib, .min = 16, .max = 4 << 20 },
	{ .key = "cpu", .check = c_cpu },
	{ .key = "scsihw", .check = c_enum, .choices = scsihws },
	{ 0 }
};

static const struct rule tstorage_rules[] = {
	{ .key = "disk", .flags = R_REQ, .check = c_storage },
	{ .key = "import", .check = c_storage },
	{ .key = "snippets", .check = c_storage },
	{ 0 }
};

const struct rule hl_schema_template[] = {
	{ .key = "source", .kind = K_MAP, .flags = R_REQ, .sub = source_rules },
	{ .key = "agent", .check = c_enum, .choices = agents },
	{ .key = "vmids", .kind = K_MAP, .flags = R_REQ, .sub = vmids_rules },
	{ .key = "vm", .kind = K_MAP, .sub = vm_rules },
	{ .key = "storage", .kind = K_MAP, .flags = R_REQ,
	  .sub = tstorage_rules },
	{ 0 }
};


/* layers/L0/runway.yaml: what runway asks of each storage. */
static const struct rule rstorage_rules[] = {
	{ .key = "min_free_gib", .check = hl_schema_c_int, .min = 0,
	  .max = 1 << 20 },
	{ .key = "min_free_percent", .check = hl_schema_c_int, .min = 0,
	  .max = 100 },
	{ 0 }
};

const struct rule hl_schema_runway[] = {
	{ .key = "storage", .kind = K_MAP, .sub = rstorage_rules },
	{ 0 }
};
