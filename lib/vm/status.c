/*
 * hl-vm status: each host's VM as it is (power, address through the
 * agent, the spec commit and template artifact its marker records).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/* The first global IPv4 address an agent reply lists, or NULL. */
const char *
agent_ip(jv reply)
{
	jv list = hl_json_get(jv_copy(reply), "result");
	const char *out = NULL;

	if (jv_get_kind(list) == JV_KIND_ARRAY)
		jv_array_foreach(list, i, iface) {
			const char *n = hl_json_get_str(iface, "name");
			jv addrs = hl_json_get(jv_copy(iface), "ip-addresses");

			if (n && strcmp(n, "lo") != 0 &&
			    jv_get_kind(addrs) == JV_KIND_ARRAY)
				jv_array_foreach(addrs, k, a) {
					const char *t = hl_json_get_str(a,
					    "ip-address-type"),
					    *ip = hl_json_get_str(a,
					    "ip-address");

					if (!out && t && ip && strcmp(t,
					    "ipv4") == 0 && strncmp(ip, "127.",
					    4) != 0 && strncmp(ip, "169.254.",
					    8) != 0)
						out = ip;
					jv_free(a);
				}
			jv_free(addrs);
			jv_free(iface);
		}
	jv_free(list);
	return out;	/* lives on in reply */
}

int
hl_vm_status(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const char *head, jv *doc, struct hl_err *e)
{
	struct view v = VIEW_INIT;
	jv hosts = jv_array(), channels = hl_registry_channels(lab), names = jv_array();
	struct hl_pve_req *r = NULL;
	char (*paths)[200] = NULL;
	size_t i;
	int k = 0, code = HL_EXIT_OK;

	*doc = jv_null();
	if (read_view(p, lab, &v, e) < 0) {
		code = e->code;
		goto out;
	}
	r = calloc(lab->nhosts + 1, sizeof(*r));
	paths = calloc(lab->nhosts + 1, sizeof(*paths));
	for (i = 0; r && paths && i < lab->nhosts; i++) {
		jv res = hl_json_get(jv_copy(v.managed), lab->hosts[i].name);
		const char *st = hl_json_get_str(res, "status");

		if (picked[i] && st && strcmp(st, "running") == 0) {
			double vmid = hl_pve_get_num(res, "vmid", 0);

			snprintf(paths[k], sizeof(paths[k]), "/nodes/%s/qemu/"
			    "%.0f/agent/network-get-interfaces",
			    hl_json_get_str(res, "node"), vmid);
			r[k].path = paths[k];
			names = jv_array_append(names,
			    jv_string(lab->hosts[i].name));
			k++;
		}
		jv_free(res);
	}
	if (r && k)
		hl_pve_get_all(p, r, k);
	for (i = 0; i < lab->nhosts; i++) {
		const char *name = lab->hosts[i].name;
		jv res, conf, o, h;
		char *spec, *art, *chart = NULL;
		const char *ip = NULL;

		if (!picked[i] || lab->hosts[i].external)
			continue;
		res = hl_json_get(jv_copy(v.managed), name);
		conf = hl_json_get(jv_copy(v.configs), name);
		for (int j = 0; j < k; j++) {
			jv n = jv_array_get(jv_copy(names), j);

			if (strcmp(jv_string_value(n), name) == 0 &&
			    r[j].rc == 0)
				ip = agent_ip(r[j].data);
			jv_free(n);
		}
		h = hl_spec_host_json(lab, &lab->hosts[i]);
		spec = hl_owner_get(hl_json_get_str(conf, "description"), "spec");
		art = hl_owner_get(hl_json_get_str(conf, "description"), "artifact");
		chart = hl_registry_host_artifact(channels, h, NULL);
		o = jv_object_set(jv_object(), jv_string("name"),
		    jv_string(name));
		o = jv_object_set(o, jv_string("exists"),
		    jv_bool(jv_get_kind(res) == JV_KIND_OBJECT));
		o = jv_object_set(o, jv_string("node"), hl_json_get(jv_copy(res),
		    "node"));
		o = jv_object_set(o, jv_string("vmid"), hl_json_get(jv_copy(res),
		    "vmid"));
		o = jv_object_set(o, jv_string("power"), hl_json_get(
		    jv_copy(res), "status"));
		o = jv_object_set(o, jv_string("ip"), ip ? jv_string(ip) :
		    jv_null());
		o = jv_object_set(o, jv_string("spec_commit"), spec ?
		    jv_string(spec) : jv_null());
		o = jv_object_set(o, jv_string("head_commit"), head ?
		    jv_string(head) : jv_null());
		o = jv_object_set(o, jv_string("template_artifact"), art ?
		    jv_string(art) : jv_null());
		o = jv_object_set(o, jv_string("channel_artifact"), chart ?
		    jv_string(chart) : jv_null());
		hosts = jv_array_append(hosts, o);
		free(spec);
		free(art);
		free(chart);
		jv_free(h);
		jv_free(res);
		jv_free(conf);
	}
	*doc = jv_object_set(jv_object(), jv_string("hosts"), hosts);
	hosts = jv_null();
out:
	for (int j = 0; r && j < k; j++)
		jv_free(r[j].data);
	free(r);
	free(paths);
	jv_free(hosts);
	jv_free(names);
	free_view(&v);
	jv_free(channels);
	return code;
}
