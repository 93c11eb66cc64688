#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "envfile.h"
#include "json.h"
#include "schema.h"
#include "sshkey.h"

struct walk;
struct rule;

typedef jv (*check_fn)(struct walk *w, const struct rule *r, jv v);

enum rule_kind { K_SCALAR, K_MAP, K_DICT, K_LIST };

enum rule_flags {
	R_REQ = 1 << 0,		/* required */
	R_REF = 1 << 1,		/* may be {from: .hl/FILE, key: NAME} */
};

struct rule {
	const char *key;		/* NULL ends a table */
	enum rule_kind kind;
	unsigned flags;
	const struct rule *sub;		/* MAP: its keys; DICT, LIST: the item */
	check_fn check;			/* SCALAR: the value; DICT: each key */
	long min, max;			/* integers */
	const char *const *choices;	/* enumerations */
};

struct walk {
	struct hl_schema_ctx *c;
	struct hl_pos_table *pt;
	struct hl_buf path;
	struct hl_pos kpos;	/* the current key */
	struct hl_pos pos;	/* the current value */
	const char *ref;	/* "NAME in FILE" while checking a .hl/ value */
};

static void
werr(struct walk *w, struct hl_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
werr(struct walk *w, struct hl_pos pos, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_diag_add(w->c->diag, HL_DIAG_ERROR, pos, hl_buf_str(&w->path), "%s",
	    msg);
}

/*
 * How a value appears in a message.  A value read from .hl/ is named, not
 * shown: those files sit beside a token.
 */
static const char *
shown(struct walk *w, const char *s, char *buf, size_t n)
{
	if (w->ref)
		snprintf(buf, n, "%s", w->ref);
	else
		snprintf(buf, n, "'%.200s'", s);
	return buf;
}

static const char *
kind_name(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL: return "nothing";
	case JV_KIND_TRUE:
	case JV_KIND_FALSE: return "a boolean";
	case JV_KIND_NUMBER: return "a number";
	case JV_KIND_STRING: return "a string";
	case JV_KIND_ARRAY: return "a list";
	case JV_KIND_OBJECT: return "a mapping";
	default: return "invalid";
	}
}

/* A string value, or an error naming what was expected. */
static int
want_string(struct walk *w, jv v, const char *what)
{
	if (jv_get_kind(v) == JV_KIND_STRING)
		return 1;
	werr(w, w->pos, "must be %s, not %s", what, kind_name(v));
	return 0;
}

/* Builds a check from a predicate over strings. */
#define STRING_CHECK(fn, pred, what)					\
static jv								\
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
		werr(w, w->pos, "%s is not %s",				\
		    shown(w, jv_string_value(v), b, sizeof(b)), what);	\
		jv_free(v);						\
		return jv_invalid();					\
	}								\
	return v;							\
}

#define S (jv_string_value(v))
STRING_CHECK(c_ident, hl_check_ident(S),
    "a name of [a-z0-9][a-z0-9_-]{0,62}")
STRING_CHECK(c_user, hl_check_user(S), "a user name of [a-z_][a-z0-9_-]{0,31}")
STRING_CHECK(c_label, hl_check_label(S), "an RFC 1123 host name label")
STRING_CHECK(c_domain, hl_check_hostname(S), "an RFC 1123 domain name")
STRING_CHECK(c_address, hl_check_ipv4(S, NULL) || hl_check_hostname(S),
    "an IPv4 address or an RFC 1123 host name")
STRING_CHECK(c_storage, hl_check_storage_id(S),
    "a Proxmox storage ID of [a-z][a-z0-9_.-]*[a-z0-9]")
STRING_CHECK(c_pool, hl_check_pool(S), "a Proxmox pool ID of [A-Za-z0-9_-]")
STRING_CHECK(c_bridge, hl_check_bridge(S), "a bridge name such as vmbr0")
STRING_CHECK(c_cluster, hl_check_cluster_name(S),
    "a Proxmox cluster name of [A-Za-z0-9-]{1,15}")
STRING_CHECK(c_env, hl_check_env_name(S),
    "an environment variable name of [A-Z_][A-Z0-9_]*")
STRING_CHECK(c_ipv4, hl_check_ipv4(S, NULL), "an IPv4 address")
STRING_CHECK(c_fingerprint, hl_check_fingerprint(S),
    "a SHA-256 fingerprint (AA:BB:... 32 bytes)")
STRING_CHECK(c_https, hl_check_url(S, 1), "an https:// URL")
STRING_CHECK(c_url, hl_check_url(S, 0), "an http:// or https:// URL")
STRING_CHECK(c_checksum, hl_check_checksum(S),
    "a checksum 'sha256:<64 hex>' or 'sha512:<128 hex>'")
STRING_CHECK(c_path, hl_check_path(S), "a file path without '..'")
STRING_CHECK(c_cpu, hl_check_label(S), "a QEMU CPU type such as host or x86-64-v2-AES")
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
		werr(w, w->pos, "host name %s is not an RFC 1123 host name "
		    "(letters, digits and '-', not at either end, not all "
		    "digits)", shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	/* "all" selects every host: a host of that name could not be. */
	if (jv_is_valid(v) && strcmp(jv_string_value(v), "all") == 0) {
		werr(w, w->pos, "host name 'all' is reserved for the selector "
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
	werr(w, w->pos, "%s is not one of: %s",
	    shown(w, jv_string_value(v), b, sizeof(b)), list);
	jv_free(v);
	return jv_invalid();
}

static jv
c_int(struct walk *w, const struct rule *r, jv v)
{
	double d;

	/* A value from .hl/ is text. */
	if (w->ref && jv_get_kind(v) == JV_KIND_STRING) {
		const char *s = jv_string_value(v);
		char *end;
		long n = strtol(s, &end, 10);

		if (*s && *end == '\0' && end - s < 12) {
			jv_free(v);
			v = jv_number((double)n);
		}
	}
	if (jv_get_kind(v) != JV_KIND_NUMBER) {
		werr(w, w->pos, "'%s' must be an integer, not %s", r->key,
		    kind_name(v));
		jv_free(v);
		return jv_invalid();
	}
	d = jv_number_value(v);
	if (d != (double)(long)d || d < (double)r->min || d > (double)r->max) {
		werr(w, w->pos, "%s%s%s must be an integer from %ld to %ld",
		    w->ref ? "" : "'", w->ref ? w->ref : r->key,
		    w->ref ? "" : "'", r->min, r->max);
		jv_free(v);
		return jv_invalid();
	}
	return v;
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
		werr(w, w->pos, "size needs a unit, e.g. 2G or 512M");
		jv_free(v);
		return jv_invalid();
	}
	if (!want_string(w, v, "a size such as 2G")) {
		jv_free(v);
		return jv_invalid();
	}
	if (!hl_check_size(jv_string_value(v), &bytes, &why)) {
		werr(w, w->pos, "size %s %s",
		    shown(w, jv_string_value(v), b, sizeof(b)), why);
		jv_free(v);
		return jv_invalid();
	}
	n = bytes >> shift;
	if ((n << shift) != bytes) {
		werr(w, w->pos, "size %s is not a whole number of %s",
		    shown(w, jv_string_value(v), b, sizeof(b)), unit);
		jv_free(v);
		return jv_invalid();
	}
	if (n < (uint64_t)r->min || n > (uint64_t)r->max) {
		werr(w, w->pos, "size %s is out of range (%ld%s to %ld%s)",
		    shown(w, jv_string_value(v), b, sizeof(b)), r->min, unit,
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
		werr(w, w->pos, "%s is not a Proxmox VE tag",
		    shown(w, jv_string_value(v), b, sizeof(b)));
		jv_free(v);
		return jv_invalid();
	}
	/* hl-<labid> marks the VMs hl owns; a hand-set one would forge it. */
	if (strncmp(jv_string_value(v), "hl-", 3) == 0) {
		werr(w, w->pos, "tag %s is reserved: hl-* tags mark the VMs hl "
		    "manages", shown(w, jv_string_value(v), b, sizeof(b)));
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
	werr(w, w->pos, "%s is not an IPv4 address with a prefix "
	    "(a.b.c.d/N, N from 8 to 32) or 'dhcp'",
	    shown(w, jv_string_value(v), b, sizeof(b)));
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
		werr(w, w->pos, "%s is not a unicast MAC address "
		    "(XX:XX:XX:XX:XX:XX, even first octet)",
		    shown(w, jv_string_value(v), b, sizeof(b)));
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
	werr(w, w->pos, "%s is neither an OpenSSH public key line nor a "
	    "SHA256: fingerprint", shown(w, jv_string_value(v), b, sizeof(b)));
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
		werr(w, w->pos, "template %s: '%s' is not a template name",
		    shown(w, s, b, sizeof(b)), name);
		jv_free(v);
		return jv_invalid();
	}
	for (c = channels; at && *c; c++)
		if (strcmp(*c, at + 1) == 0)
			break;
	if (at && *c == NULL) {
		werr(w, w->pos, "template %s: unknown channel '%.64s' (channels "
		    "are stable and canary)", shown(w, s, b, sizeof(b)), at + 1);
		jv_free(v);
		return jv_invalid();
	}
	out = jv_object_set(jv_object_set(jv_object(), jv_string("name"),
	    jv_string(name)), jv_string("channel"),
	    jv_string(at ? at + 1 : "stable"));
	jv_free(v);
	return out;
}

/* ---- the walker ---------------------------------------------------- */

/* Edit distance counting a swap of neighbours as one edit (OSA). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[33][33];

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* Names other tools use for our keys, for "did you mean". */
static const char *const aliases[][2] = {
	{ "cpus", "cores" }, { "vcpus", "cores" }, { "sockets", "cores" },
	{ "ram", "memory" }, { "mem", "memory" }, { "size", "disk" },
	{ "disk_size", "disk" }, { "nameserver", "dns" },
	{ "nameservers", "dns" }, { "gw", "gateway" }, { "vlan_tag", "vlan" },
	{ "hostname", "address" }, { "ciuser", "user" }, { "sshkeys", "ssh_keys" },
	{ "id", "vmid" },
};

static const char *
suggest(const struct rule *rules, const char *key)
{
	const struct rule *r;
	const char *best = NULL;
	size_t bestd = 3, d, i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(key, aliases[i][0]) == 0)
			for (r = rules; r->key; r++)
				if (strcmp(r->key, aliases[i][1]) == 0)
					return r->key;
	/* One typo in a short key, two in a longer one. */
	bestd = strlen(key) <= 5 ? 2 : 3;
	for (; rules->key; rules++) {
		d = edit_distance(key, rules->key);
		if (d < bestd && d < strlen(rules->key)) {
			bestd = d;
			best = rules->key;
		}
	}
	return best;
}

static jv walk_value(struct walk *w, const struct rule *r, jv v);

/* 1 when *v is of kind k; else reports it and replaces it with invalid. */
static int
want_kind(struct walk *w, jv *v, jv_kind k, const char *what)
{
	if (jv_get_kind(*v) == k)
		return 1;
	werr(w, w->pos, "must be %s, not %s", what, kind_name(*v));
	jv_free(*v);
	*v = jv_invalid();
	return 0;
}

/* Moves the walk to the child at key or index; returns the old path length. */
static size_t
enter(struct walk *w, const char *key, int index)
{
	size_t mark = w->path.len;

	if (key)
		hl_path_key(&w->path, key);
	else
		hl_path_index(&w->path, index);
	/* Below an alias or a merge, the parent's position stands. */
	if (hl_pos_get(w->pt, hl_buf_str(&w->path), &w->kpos, &w->pos) < 0)
		w->kpos = w->pos;
	return mark;
}

static void
leave(struct walk *w, size_t mark, struct hl_pos kpos, struct hl_pos pos)
{
	hl_buf_truncate(&w->path, mark);
	w->kpos = kpos;
	w->pos = pos;
}

static jv
walk_map(struct walk *w, const struct rule *rules, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	const struct rule *r;
	jv out;
	int it;

	if (!want_kind(w, &v, JV_KIND_OBJECT, "a mapping"))
		return v;
	out = jv_object();
	for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
	    it = jv_object_iter_next(v, it)) {
		jv k = jv_object_iter_key(v, it);
		const char *key = jv_string_value(k);
		size_t mark = enter(w, key, 0);
		jv child;

		for (r = rules; r->key && strcmp(r->key, key); r++)
			;
		if (r->key == NULL) {
			const char *hint = suggest(rules, key);

			if (hint)
				werr(w, w->kpos, "unknown key '%s' (did you mean "
				    "'%s'?)", key, hint);
			else
				werr(w, w->kpos, "unknown key '%s'", key);
		} else {
			/*
			 * An invalid value stays as null: the key was set,
			 * so nothing later reports it missing as well.
			 */
			child = walk_value(w, r, jv_object_iter_value(v, it));
			out = jv_object_set(out, jv_copy(k),
			    jv_is_valid(child) ? child : jv_null());
		}
		leave(w, mark, kpos, pos);
		jv_free(k);
	}
	for (r = rules; r->key; r++)
		if ((r->flags & R_REQ) &&
		    !jv_object_has(jv_copy(v), jv_string(r->key)))
			werr(w, kpos, "missing required key '%s'", r->key);
	jv_free(v);
	return out;
}

static jv
walk_dict(struct walk *w, const struct rule *r, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	jv out;
	int it;

	if (!want_kind(w, &v, JV_KIND_OBJECT, "a mapping"))
		return v;
	out = jv_object();
	for (it = jv_object_iter(v); jv_object_iter_valid(v, it);
	    it = jv_object_iter_next(v, it)) {
		jv k = jv_object_iter_key(v, it);
		size_t mark = enter(w, jv_string_value(k), 0);
		struct hl_pos vpos = w->pos;
		jv name, child;

		/* The key is checked where it stands. */
		w->pos = w->kpos;
		name = r->check(w, r, jv_copy(k));
		w->pos = vpos;
		child = walk_value(w, r->sub, jv_object_iter_value(v, it));
		if (jv_is_valid(name) && jv_is_valid(child))
			out = jv_object_set(out, jv_copy(k), child);
		else
			jv_free(child);
		jv_free(name);
		leave(w, mark, kpos, pos);
		jv_free(k);
	}
	jv_free(v);
	return out;
}

static jv
walk_list(struct walk *w, const struct rule *r, jv v)
{
	struct hl_pos kpos = w->kpos, pos = w->pos;
	jv out;
	int i, n;

	if (!want_kind(w, &v, JV_KIND_ARRAY, "a list"))
		return v;
	out = jv_array();
	n = jv_array_length(jv_copy(v));
	for (i = 0; i < n; i++) {
		size_t mark = enter(w, NULL, i);
		jv child = walk_value(w, r->sub, jv_array_get(jv_copy(v), i));

		if (jv_is_valid(child))
			out = jv_array_append(out, child);
		leave(w, mark, kpos, pos);
	}
	jv_free(v);
	return out;
}

static const struct rule ref_rules[] = {
	{ .key = "from", .kind = K_SCALAR, .flags = R_REQ, .check = c_path },
	{ .key = "key", .kind = K_SCALAR, .flags = R_REQ, .check = c_env },
	{ 0 }
};

/*
 * {from: .hl/FILE, key: NAME}: the value of NAME in that KEY=VALUE file.
 * A missing file is a warning, once per file (the simulator writes it
 * when it starts); the value is then null.  *ref gets "NAME in FILE".
 */
static jv
resolve_ref(struct walk *w, jv v, char *ref, size_t n)
{
	const char *from, *key;
	struct hl_err e = { 0 };
	char *path = NULL, *value = NULL;
	jv spec = walk_map(w, ref_rules, v), out = jv_invalid();
	int rc;

	from = hl_json_get_str(spec, "from");
	key = hl_json_get_str(spec, "key");
	if (from == NULL || key == NULL)
		goto done;
	if (strncmp(from, ".hl/", 4) != 0) {
		werr(w, w->pos, "'from' must name a file under .hl/, not '%s'",
		    from);
		goto done;
	}
	if (strstr(key, "TOKEN") || strstr(key, "PASSWORD") ||
	    strstr(key, "SECRET")) {
		werr(w, w->pos, "'%s' names a secret: lab.yaml takes no secrets",
		    key);
		goto done;
	}
	snprintf(ref, n, "%s in %s", key, from);
	if (asprintf(&path, "%s/%s", w->c->root, from) < 0)
		goto done;
	rc = hl_envfile_get(path, key, &value, &e);
	if (rc < 0 && e.code == HL_EXIT_OK) {
		if (!jv_object_has(jv_copy(w->c->warned), jv_string(from))) {
			hl_diag_add(w->c->diag, HL_DIAG_WARNING, w->pos,
			    hl_buf_str(&w->path), "'%s' does not exist yet (the "
			    "simulator writes it when it starts): values taken "
			    "from it are unset", from);
			w->c->warned = jv_object_set(w->c->warned,
			    jv_string(from), jv_true());
		}
		out = jv_null();
	} else if (rc < 0) {
		werr(w, w->pos, "'%s' %s", from, e.msg);
	} else if (rc > 0) {
		werr(w, w->pos, "'%s' has no %s", from, key);
	} else {
		out = jv_string(value);
	}
done:
	free(path);
	free(value);
	jv_free(spec);
	return out;
}

static jv
walk_value(struct walk *w, const struct rule *r, jv v)
{
	char ref[256];
	jv out;

	if ((r->flags & R_REF) && jv_get_kind(v) == JV_KIND_OBJECT) {
		v = resolve_ref(w, v, ref, sizeof(ref));
		if (jv_get_kind(v) != JV_KIND_STRING)
			return v;
		w->ref = ref;
		out = r->check(w, r, v);
		w->ref = NULL;
		return out;
	}
	/* Escapes in quoted YAML can still make control characters. */
	if (jv_get_kind(v) == JV_KIND_STRING) {
		const char *c;

		for (c = jv_string_value(v); *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f) {
				werr(w, w->pos, "value has a control character");
				jv_free(v);
				return jv_invalid();
			}
	}
	switch (r->kind) {
	case K_MAP:
		return walk_map(w, r->sub, v);
	case K_DICT:
		return walk_dict(w, r, v);
	case K_LIST:
		return walk_list(w, r, v);
	default:
		return r->check(w, r, v);
	}
}

/* ---- the spec files ------------------------------------------------ */

static const char *const kinds[] = { "vm", "external", NULL };
static const char *const agents[] = { "builtin", "install", NULL };
static const char *const algorithms[] = { "sha256", "sha512", NULL };
static const char *const scsihws[] = { "virtio-scsi-single",
	"virtio-scsi-pci", "lsi", "lsi53c810", "megasas", "pvscsi", NULL };

static const struct rule tag_item = { .key = "tag", .check = c_tag };
static const struct rule ipv4_item = { .key = "dns", .check = c_ipv4 };
static const struct rule keyfile_item = { .key = "ssh_keys", .check = c_path };

/*
 * The keys a host may set at every level.  Keep hl_schema_settings and
 * docs/spec.md in step with this list.
 */
#define SETTING_RULES							\
	{ .key = "template", .check = c_template_ref },			\
	{ .key = "node", .check = c_label },				\
	{ .key = "storage", .check = c_storage },			\
	{ .key = "bridge", .check = c_bridge },				\
	{ .key = "vlan", .check = c_int, .min = 1, .max = 4094 },	\
	{ .key = "pool", .check = c_pool },				\
	{ .key = "cores", .check = c_int, .min = 1, .max = 512 },	\
	{ .key = "memory", .check = c_mib, .min = 16, .max = 4 << 20 },	\
	{ .key = "disk", .check = c_gib, .min = 1, .max = 1 << 16 },	\
	{ .key = "tags", .kind = K_LIST, .sub = &tag_item },		\
	{ .key = "gateway", .check = c_ipv4 },				\
	{ .key = "dns", .kind = K_LIST, .sub = &ipv4_item },		\
	{ .key = "search_domain", .check = c_domain },			\
	{ .key = "user", .check = c_user },				\
	{ .key = "ssh_keys", .kind = K_LIST, .sub = &keyfile_item }

const char *const hl_schema_settings[] = { "template", "node", "storage",
	"bridge", "vlan", "pool", "cores", "memory", "disk", "tags", "gateway",
	"dns", "search_domain", "user", "ssh_keys", NULL };

static const struct rule host_rules[] = {
	SETTING_RULES,
	{ .key = "kind", .check = c_enum, .choices = kinds },
	{ .key = "vmid", .check = c_int, .min = 100, .max = 999999999 },
	{ .key = "ip", .check = c_ip },
	{ .key = "mac", .check = c_mac },
	{ .key = "address", .check = c_address },
	{ .key = "port", .check = c_int, .min = 1, .max = 65535 },
	{ .key = "host_key", .check = c_hostkey },
	{ 0 }
};

static const struct rule host_item = { .key = "host", .kind = K_MAP,
	.sub = host_rules };

static const struct rule persona_rules[] = {
	SETTING_RULES,
	{ .key = "hosts", .kind = K_DICT, .sub = &host_item,
	  .check = c_host_name },
	{ 0 }
};

static const struct rule defaults_rules[] = { SETTING_RULES, { 0 } };

static const struct rule tls_rules[] = {
	{ .key = "ca_file", .flags = R_REF, .check = c_path },
	{ .key = "fingerprint", .flags = R_REF, .check = c_fingerprint },
	{ 0 }
};

static const struct rule pve_rules[] = {
	{ .key = "endpoint", .flags = R_REQ | R_REF, .check = c_https },
	{ .key = "token_env", .check = c_env },
	{ .key = "tls", .kind = K_MAP, .sub = tls_rules },
	{ .key = "cluster", .flags = R_REF, .check = c_cluster },
	{ 0 }
};

static const struct rule node_ssh_rules[] = {
	{ .key = "address", .flags = R_REQ | R_REF, .check = c_address },
	{ .key = "port", .flags = R_REF, .check = c_int, .min = 1,
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

static const struct rule lab_rules[] = {
	{ .key = "id", .flags = R_REQ, .check = c_ident },
	{ .key = "pve", .kind = K_MAP, .flags = R_REQ, .sub = pve_rules },
	{ .key = "nodes", .kind = K_DICT, .flags = R_REQ, .sub = &node_item,
	  .check = c_label },
	{ .key = "defaults", .kind = K_MAP, .sub = defaults_rules },
	{ .key = "mirror", .kind = K_DICT, .sub = &mirror_item,
	  .check = c_url },
	{ 0 }
};

static const struct rule checksum_file_rules[] = {
	{ .key = "url", .flags = R_REQ, .check = c_url },
	{ .key = "algorithm", .flags = R_REQ, .check = c_enum,
	  .choices = algorithms },
	{ 0 }
};

static const struct rule source_rules[] = {
	{ .key = "url", .flags = R_REQ, .check = c_url },
	{ .key = "checksum", .check = c_checksum },
	{ .key = "checksum_file", .kind = K_MAP, .sub = checksum_file_rules },
	{ 0 }
};

static const struct rule vmids_rules[] = {
	{ .key = "first", .flags = R_REQ, .check = c_int, .min = 100,
	  .max = 999999999 },
	{ .key = "last", .flags = R_REQ, .check = c_int, .min = 100,
	  .max = 999999999 },
	{ 0 }
};

static const struct rule vm_rules[] = {
	{ .key = "cores", .check = c_int, .min = 1, .max = 512 },
	{ .key = "memory", .check = c_mib, .min = 16, .max = 4 << 20 },
	{ .key = "cpu", .check = c_cpu },
	{ .key = "scsihw", .check = c_enum, .choices = scsihws },
	{ 0 }
};

static const struct rule tstorage_rules[] = {
	{ .key = "disk", .flags = R_REQ, .check = c_storage },
	{ .key = "import", .flags = R_REQ, .check = c_storage },
	{ .key = "snippets", .check = c_storage },
	{ 0 }
};

static const struct rule template_rules[] = {
	{ .key = "source", .kind = K_MAP, .flags = R_REQ, .sub = source_rules },
	{ .key = "agent", .flags = R_REQ, .check = c_enum, .choices = agents },
	{ .key = "vmids", .kind = K_MAP, .flags = R_REQ, .sub = vmids_rules },
	{ .key = "vm", .kind = K_MAP, .sub = vm_rules },
	{ .key = "storage", .kind = K_MAP, .flags = R_REQ,
	  .sub = tstorage_rules },
	{ 0 }
};

/* A template source names exactly one of checksum and checksum_file. */
static void
check_one_checksum(struct walk *w, jv doc)
{
	jv src;
	struct hl_pos at;

	if (jv_get_kind(doc) != JV_KIND_OBJECT)
		return;
	src = jv_object_get(jv_copy(doc), jv_string("source"));
	if (jv_get_kind(src) == JV_KIND_OBJECT &&
	    jv_object_has(jv_copy(src), jv_string("checksum")) ==
	    jv_object_has(jv_copy(src), jv_string("checksum_file"))) {
		if (hl_pos_get(w->pt, ".source", &at, NULL) < 0)
			at = w->pos;
		hl_diag_add(w->c->diag, HL_DIAG_ERROR, at, ".source",
		    "give exactly one of 'checksum' and 'checksum_file'");
	}
	jv_free(src);
}

jv
hl_schema_check(struct hl_schema_ctx *c, enum hl_schema_doc kind, jv doc,
    struct hl_pos_table *pt)
{
	static const struct rule *const roots[] = {
		[HL_SCHEMA_LAB] = lab_rules,
		[HL_SCHEMA_PERSONA] = persona_rules,
		[HL_SCHEMA_TEMPLATE] = template_rules,
	};
	struct walk w = { .c = c, .pt = pt };
	jv out;

	if (hl_pos_get(pt, "", &w.kpos, &w.pos) < 0)
		w.pos = w.kpos = (struct hl_pos){ hl_pos_table_file(pt), 1, 1 };
	if (kind == HL_SCHEMA_TEMPLATE)
		check_one_checksum(&w, doc);
	out = walk_map(&w, roots[kind], doc);
	hl_buf_free(&w.path);
	return out;
}
