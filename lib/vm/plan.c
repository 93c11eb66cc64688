/* L2 plan and status (vm.h): desired from the specs, actual from Proxmox. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/json.h"
#include "core/num.h"
#include "spec/lab.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/* The fields hl owns, and what changing each means for a running VM. */
static const struct field {
	const char *name;
	int reboot;		/* applies at the next boot */
	int rotates;		/* a new cloud-init instance: new host keys */
} fields[] = {
	{ "cores", 1, 0 }, { "memory_mib", 1, 0 }, { "bridge", 0, 0 },
	{ "vlan", 0, 0 }, { "mac", 0, 1 }, { "ip", 1, 1 },
	{ "nameserver", 1, 1 }, { "searchdomain", 1, 1 }, { "user", 1, 1 },
	{ "ssh_keys", 1, 1 }, { "tags", 0, 0 }, { "disk_gib", 0, 0 },
	{ "onboot", 0, 0 },
	{ "cicustom", 1, 0 },
};

/* The VM's power state: not a config field, but compared the same way. */
static const struct field power_field = { "power", 0, 0 };

/* ---- property strings ------------------------------------------------- */

/* "k=v,k2=v2" -> {k: v}; a bare first item is stored under first. */
static jv
props(const char *s, const char *first)
{
	jv o = jv_object();
	char *copy = strdup(s ? s : ""), *item, *save = NULL;

	for (item = copy ? strtok_r(copy, ",", &save) : NULL; item;
	    item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (eq) {
			*eq = '\0';
			o = jv_object_set(o, jv_string(item), jv_string(eq + 1));
		} else if (first) {
			o = jv_object_set(o, jv_string(first), jv_string(item));
		}
	}
	free(copy);
	return o;
}

static char *
urldecode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			unsigned long c = 0;

			hl_num_hex_n(s + 1, 2, 0xff, &c);
			*o++ = (char)c;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* Keys, one per line, trimmed, sorted: comparable text. */
static jv
keyset(const char *text)
{
	jv arr = jv_array();
	char *copy = strdup(text ? text : ""), *line, *save = NULL;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line && *line != '#') {
			size_t n = strlen(line);

			while (n && strchr(" \t\r", line[n - 1]))
				line[--n] = '\0';
			arr = jv_array_append(arr, jv_string(line));
		}
	}
	free(copy);
	return hl_json_sorted_unique(arr);
}

static double
gib(const char *size)
{
	char num[32];
	size_t n = size ? strspn(size, "0123456789.") : 0;
	double v = 0;

	/* PVE's disk sizes: a number and a unit (T, G, M, K) or bytes */
	if (n == 0 || n >= sizeof(num))
		return 0;
	memcpy(num, size, n);
	num[n] = '\0';
	if (hl_num_double(num, &v) < 0 || (size[n] && size[n + 1]))
		return 0;
	switch (size[n]) {
	case 'T': return v * 1024;
	case 'G': return v;
	case 'M': return v / 1024;
	case 'K': return v / (1024 * 1024);
	default: return v / (1024.0 * 1024 * 1024);
	}
}

/* ---- desired and actual, as the same fields --------------------------- */

/* ipconfig0's comparable text: "ip=dhcp" or "ip=A/N[,gw=G]"; null: no ip. */
static jv
ipconfig(const char *ip, const char *gw)
{
	if (ip == NULL)
		return jv_null();
	if (strcmp(ip, "dhcp") == 0)
		return jv_string("ip=dhcp");
	return gw ? jv_string_fmt("ip=%s,gw=%s", ip, gw) :
	    jv_string_fmt("ip=%s", ip);
}

int
declared_stopped(jv h)
{
	const char *power = hl_json_get_str(h, "power");

	return power && strcmp(power, "stopped") == 0;
}

jv
desired(const struct hl_lab *lab, jv h)
{
	jv o = jv_object(), v;
	const char *ip = hl_json_get_str(h, "ip"),
	    *gw = hl_json_get_str(h, "gateway");
	struct hl_buf b = { 0 };

	o = jv_object_set(o, jv_string("cores"), hl_json_get(jv_copy(h),
	    "cores"));
	o = jv_object_set(o, jv_string("memory_mib"), hl_json_get(jv_copy(h),
	    "memory_mib"));
	o = jv_object_set(o, jv_string("bridge"), hl_json_get(jv_copy(h),
	    "bridge"));
	o = jv_object_set(o, jv_string("vlan"), hl_json_get(jv_copy(h),
	    "vlan"));
	v = hl_json_get(jv_copy(h), "mac");
	o = jv_object_set(o, jv_string("mac"), v);
	o = jv_object_set(o, jv_string("ip"), ipconfig(ip ? ip : "dhcp", gw));
	v = hl_json_get(jv_copy(h), "dns");
	if (jv_get_kind(v) == JV_KIND_ARRAY) {
		jv_array_foreach(v, i, d) {
			hl_buf_printf(&b, "%s%s", b.len ? " " : "",
			    jv_string_value(d));
			jv_free(d);
		}
		o = jv_object_set(o, jv_string("nameserver"),
		    jv_string(hl_buf_str(&b)));
		hl_buf_free(&b);
	} else {
		o = jv_object_set(o, jv_string("nameserver"), jv_null());
	}
	jv_free(v);
	o = jv_object_set(o, jv_string("searchdomain"), hl_json_get(jv_copy(h),
	    "search_domain"));
	o = jv_object_set(o, jv_string("user"), hl_json_get(jv_copy(h),
	    "user"));
	v = hl_json_get(jv_copy(h), "ssh_keys");
	if (jv_get_kind(v) == JV_KIND_ARRAY) {
		jv_array_foreach(v, i, f) {
			char *path = hl_lab_path(lab->root, jv_string_value(f));
			char *text = NULL;
			size_t n = 0;

			/* absolute, or below the lab root: as validated */
			if (path && hl_file_read(path, 1 << 20, &text, &n) ==
			    HL_FILE_OK)
				hl_buf_printf(&b, "%s\n", text);
			free(text);
			free(path);
			jv_free(f);
		}
	}
	jv_free(v);
	o = jv_object_set(o, jv_string("ssh_keys"), keyset(hl_buf_str(&b)));
	hl_buf_free(&b);
	o = jv_object_set(o, jv_string("tags"), hl_json_sorted_unique(
	    hl_json_get(jv_copy(h), "tags")));
	o = jv_object_set(o, jv_string("disk_gib"), hl_json_get(jv_copy(h),
	    "disk_gib"));
	/* a VM declared stopped must not start with its node either */
	o = jv_object_set(o, jv_string("onboot"), jv_bool(
	    !declared_stopped(h)));
	return jv_object_set(o, jv_string("cicustom"), vm_cicustom(lab, h));
}

static jv
actual(const struct hl_lab *lab, jv conf)
{
	jv o = jv_object(), net, ipc, tags = jv_array();
	const char *s, *tag_text = hl_json_get_str(conf, "tags");
	char hl_tag[160], *keys;
	double d;

	snprintf(hl_tag, sizeof(hl_tag), "hl-%s", hl_json_str(lab->id));
	d = hl_pve_get_num(conf, "cores", 1);
	o = jv_object_set(o, jv_string("cores"), jv_number(d));
	d = hl_pve_get_num(conf, "memory", 512);
	o = jv_object_set(o, jv_string("memory_mib"), jv_number(d));
	net = props(hl_json_get_str(conf, "net0"), NULL);
	o = jv_object_set(o, jv_string("bridge"), hl_json_get(jv_copy(net),
	    "bridge"));
	s = hl_json_get_str(net, "tag");
	o = jv_object_set(o, jv_string("vlan"), s && hl_num_double(s, &d) == 0
	    ? jv_number(d) : jv_null());
	s = hl_json_get_str(net, "virtio");
	o = jv_object_set(o, jv_string("mac"), s ? jv_string(s) : jv_null());
	jv_free(net);
	ipc = props(hl_json_get_str(conf, "ipconfig0"), NULL);
	o = jv_object_set(o, jv_string("ip"), ipconfig(hl_json_get_str(ipc,
	    "ip"), hl_json_get_str(ipc, "gw")));
	jv_free(ipc);
	o = jv_object_set(o, jv_string("nameserver"), hl_json_get(
	    jv_copy(conf), "nameserver"));
	o = jv_object_set(o, jv_string("searchdomain"), hl_json_get(
	    jv_copy(conf), "searchdomain"));
	o = jv_object_set(o, jv_string("user"), hl_json_get(jv_copy(conf),
	    "ciuser"));
	keys = urldecode(hl_json_get_str(conf, "sshkeys") ?
	    hl_json_get_str(conf, "sshkeys") : "");
	o = jv_object_set(o, jv_string("ssh_keys"), keyset(keys));
	free(keys);
	if (tag_text) {
		char *copy = strdup(tag_text), *t, *save = NULL;

		for (t = copy ? strtok_r(copy, ";, ", &save) : NULL; t;
		    t = strtok_r(NULL, ";, ", &save))
			if (strcmp(t, hl_tag) != 0)
				tags = jv_array_append(tags, jv_string(t));
		free(copy);
	}
	o = jv_object_set(o, jv_string("tags"), hl_json_sorted_unique(tags));
	{
		jv disk = props(hl_json_get_str(conf, "scsi0"), "file");

		o = jv_object_set(o, jv_string("disk_gib"), jv_number(gib(
		    hl_json_get_str(disk, "size"))));
		jv_free(disk);
	}
	/* PVE's default: a VM does not start with its node */
	o = jv_object_set(o, jv_string("onboot"), jv_bool(hl_pve_get_num(conf,
	    "onboot", 0) != 0));
	return jv_object_set(o, jv_string("cicustom"), hl_json_get(
	    jv_copy(conf), "cicustom"));
}

/* ---- plan ------------------------------------------------------------- */

/* Whether conf's marker says hl was creating it for this lab's host. */
static int
creating(const struct hl_lab *lab, const char *name, jv conf)
{
	const char *desc = hl_json_get_str(conf, "description");
	char *l = hl_owner_get(desc, "lab"), *h = hl_owner_get(desc, "host"),
	    *st = hl_owner_get(desc, "state");
	int yes = l && h && st && strcmp(l, hl_json_str(lab->id)) == 0 &&
	    strcmp(h, name) == 0 && strcmp(st, "creating") == 0;

	free(l);
	free(h);
	free(st);
	return yes;
}

static int
same_mac(jv a, jv b)
{
	return jv_get_kind(a) == JV_KIND_STRING &&
	    jv_get_kind(b) == JV_KIND_STRING &&
	    strcasecmp(jv_string_value(a), jv_string_value(b)) == 0;
}

/* One change; pending: already set, waiting for the VM's next boot. */
static jv
change(const struct field *f, jv from, jv to, int pending)
{
	jv c = jv_object_set(jv_object(), jv_string("field"),
	    jv_string(f->name));

	c = jv_object_set(c, jv_string("from"), from);
	c = jv_object_set(c, jv_string("to"), to);
	c = jv_object_set(c, jv_string("reboot_needed"), jv_bool(f->reboot ||
	    pending));
	c = jv_object_set(c, jv_string("rotates_host_keys"),
	    jv_bool(f->rotates));
	if (pending)
		c = jv_object_set(c, jv_string("pending"), jv_true());
	return c;
}

/*
 * The fields hl owns, declared (h) against the VM's config (conf) and, for
 * a running VM, what it runs with (current, or null): each difference
 * into *changes.  Returns the action: noop, update, or blocked (a disk
 * that would shrink).
 */
static const char *
diff(const struct hl_lab *lab, jv h, jv conf, jv current, jv *changes)
{
	jv want = desired(lab, h), have = actual(lab, conf), cur = jv_null();
	const char *action = "noop";
	size_t i;

	if (jv_get_kind(current) == JV_KIND_OBJECT)
		cur = actual(lab, current);
	for (i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		jv a = hl_json_get(jv_copy(have), fields[i].name),
		    b = hl_json_get(jv_copy(want), fields[i].name),
		    now = jv_get_kind(cur) == JV_KIND_OBJECT ? hl_json_get(
		    jv_copy(cur), fields[i].name) : jv_copy(a);
		int waits = 0;

		/* a MAC hl did not declare is PVE's own: never drift */
		if (strcmp(fields[i].name, "mac") == 0 &&
		    (jv_get_kind(b) == JV_KIND_NULL ||
		    same_mac(a, b))) {
			waits = jv_get_kind(b) != JV_KIND_NULL &&
			    !same_mac(now, b);
		} else if (jv_equal(jv_copy(a), jv_copy(b))) {
			/* set, but the running VM takes it at its next boot */
			waits = !jv_equal(jv_copy(now), jv_copy(b));
		} else {
			*changes = jv_array_append(*changes, change(&fields[i],
			    jv_copy(a), jv_copy(b), 0));
			if (strcmp(fields[i].name, "disk_gib") == 0 &&
			    jv_get_kind(a) == JV_KIND_NUMBER &&
			    jv_get_kind(b) == JV_KIND_NUMBER &&
			    jv_number_value(b) < jv_number_value(a))
				action = "blocked";
			else if (strcmp(action, "noop") == 0)
				action = "update";
		}
		if (waits) {
			*changes = jv_array_append(*changes, change(&fields[i],
			    jv_copy(now), jv_copy(b), 1));
			if (strcmp(action, "noop") == 0)
				action = "update";
		}
		jv_free(a);
		jv_free(b);
		jv_free(now);
	}
	jv_free(want);
	jv_free(have);
	jv_free(cur);
	return action;
}

/*
 * The declared power state (h) against the VM's (res, its resource): a
 * change into *changes when they differ, which apply makes by starting
 * or shutting down the VM.  Returns whether they differ.
 */
static int
power_diff(jv h, jv res, jv *changes)
{
	const char *st = hl_json_get_str(res, "status"),
	    *have = st && strcmp(st, "running") == 0 ? "running" : "stopped",
	    *want = declared_stopped(h) ? "stopped" : "running";

	if (strcmp(have, want) == 0)
		return 0;
	*changes = jv_array_append(*changes, change(&power_field,
	    jv_string(have), jv_string(want), 0));
	return 1;
}

/* Template drift, reported and never a replacement: "built from artifact
 * A; CHANNEL is now B", or null. */
static jv
template_drift(jv h, jv conf, jv channels, const char *rnode)
{
	char *art = hl_owner_get(hl_json_get_str(conf, "description"),
	    "artifact"), *chart = art && rnode ?
	    hl_registry_host_artifact(channels, h, rnode) : NULL;
	jv tpl = hl_json_get(jv_copy(h), "template"), out = jv_null();

	if (art && chart && strcmp(art, chart) != 0)
		out = jv_string_fmt("built from artifact %s; %s is now %s",
		    art, hl_json_get_str(tpl, "channel"), chart);
	free(art);
	free(chart);
	jv_free(tpl);
	return out;
}

/*
 * What a create makes for host h: {node, vmid, template, channel,
 * artifact (what the channel points to on the node, or null), cores,
 * memory_mib, disk_gib, bridge, vlan, ip, tags, power}.
 */
static jv
creates(const struct hl_lab *lab, jv h, jv channels)
{
	static const char *const shown[] = { "cores", "memory_mib",
		"disk_gib", "bridge", "vlan", "ip", "tags", "cicustom", "power" };
	jv want = jv_object_set(desired(lab, h), jv_string("power"),
	    jv_string(declared_stopped(h) ? "stopped" : "running"));
	jv tpl = hl_json_get(jv_copy(h), "template"), out = jv_object();
	char *art = hl_registry_host_artifact(channels, h, NULL);
	size_t i;

	out = jv_object_set(out, jv_string("node"), hl_json_get(jv_copy(h),
	    "node"));
	out = jv_object_set(out, jv_string("vmid"), hl_json_get(jv_copy(h),
	    "vmid"));
	out = jv_object_set(out, jv_string("template"), hl_json_get(
	    jv_copy(tpl), "name"));
	out = jv_object_set(out, jv_string("channel"), hl_json_get(
	    jv_copy(tpl), "channel"));
	out = jv_object_set(out, jv_string("artifact"), art ? jv_string(art) :
	    jv_null());
	for (i = 0; i < sizeof(shown) / sizeof(*shown); i++)
		out = jv_object_set(out, jv_string(shown[i]), hl_json_get(
		    jv_copy(want), shown[i]));
	free(art);
	jv_free(tpl);
	jv_free(want);
	return out;
}

jv
plan_host(const struct hl_lab *lab, jv h, struct view *v, jv channels,
    int *pending)
{
	const char *name = hl_json_get_str(h, "name"),
	    *node = hl_json_get_str(h, "node");
	jv out = jv_object_set(jv_object(), jv_string("name"), jv_string(name));
	jv res = hl_json_get(jv_copy(v->managed), name), conf = jv_null();
	jv changes = jv_array(), cur, drift;
	const char *action, *rnode = hl_json_get_str(res, "node");

	if (jv_get_kind(res) == JV_KIND_NULL) {
		*pending = 1;
		out = jv_object_set(out, jv_string("action"),
		    jv_string("create"));
		out = jv_object_set(out, jv_string("reason"),
		    jv_string("no VM of this lab is named so"));
		out = jv_object_set(out, jv_string("creates"),
		    creates(lab, h, channels));
		goto done;
	}
	conf = hl_json_get(jv_copy(v->configs), name);
	if (creating(lab, name, conf)) {
		/* an interrupted create: apply picks it up where it stopped */
		*pending = 1;
		out = jv_object_set(out, jv_string("action"),
		    jv_string("create"));
		out = jv_object_set(out, jv_string("resume"), jv_true());
		out = jv_object_set(out, jv_string("reason"), jv_string_fmt(
		    "VM %.0f was being created when its run stopped: apply "
		    "resumes it", hl_pve_get_num(res, "vmid", -1)));
		out = jv_object_set(out, jv_string("node"), rnode ?
		    jv_string(rnode) : jv_null());
		out = jv_object_set(out, jv_string("vmid"), hl_json_get(
		    jv_copy(res), "vmid"));
		goto done;
	}
	cur = hl_json_get(jv_copy(v->current), name);
	action = diff(lab, h, conf, cur, &changes);
	jv_free(cur);
	if (power_diff(h, res, &changes) && strcmp(action, "noop") == 0)
		action = "update";
	if (strcmp(action, "blocked") == 0)
		out = jv_object_set(out, jv_string("reason"), jv_string(
		    "the declared disk is smaller than the VM's: disks only "
		    "grow"));
	if (rnode && node && strcmp(rnode, node) != 0) {
		action = "blocked";
		out = jv_object_set(out, jv_string("reason"), jv_string(
		    "the VM is on another node than the one declared"));
	}
	if (strcmp(action, "noop") != 0)
		*pending = 1;
	drift = template_drift(h, conf, channels, rnode);
	if (jv_get_kind(drift) == JV_KIND_STRING)
		out = jv_object_set(out, jv_string("template_drift"), drift);
	else
		jv_free(drift);
	out = jv_object_set(out, jv_string("action"), jv_string(action));
	out = jv_object_set(out, jv_string("node"), rnode ? jv_string(rnode) :
	    jv_null());
	out = jv_object_set(out, jv_string("vmid"), hl_json_get(jv_copy(res),
	    "vmid"));
done:
	jv_free(conf);
	jv_free(res);
	return jv_object_set(out, jv_string("changes"), changes);
}

int
hl_vm_plan(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_vm_plan_opts *o, jv *doc,
    struct hl_err *e)
{
	struct view v = VIEW_INIT;
	jv hosts = jv_array(), channels = hl_registry_channels(lab);
	int pending = 0, code;
	size_t i;

	*doc = jv_null();
	if (read_view(p, lab, &v, e) < 0) {
		code = e->code;
		goto out;
	}
	for (i = 0; i < lab->nhosts; i++) {
		jv h;

		if (!picked[i] || lab->hosts[i].external)
			continue;
		h = hl_spec_host_json(lab, &lab->hosts[i]);
		hosts = jv_array_append(hosts, plan_host(lab, h, &v, channels,
		    &pending));
		jv_free(h);
	}
	if (o->save && saved_write(o->save, saved_make(lab, jv_copy(hosts),
	    &v, channels, o->head), e) < 0) {
		code = e->code;
		goto out;
	}
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	hosts = jv_null();
	if (o->save)
		*doc = jv_object_set(*doc, jv_string("saved"),
		    jv_string(o->save));
	code = o->exit_code && pending ? HL_EXIT_NO : HL_EXIT_OK;
out:
	jv_free(hosts);
	free_view(&v);
	jv_free(channels);
	return code;
}

