/*
 * Runway's checks off the API: each node's SSH answers with the host key
 * lab.yaml pins (ssh-keyscan, run without a shell), and the local tools
 * later layers need are on PATH.  Both only warn: L1's prepare step and
 * L3 need them, the API layers do not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "runway/runway_impl.h"
#include "ssh/ssh.h"

void
rw_ssh_checks(struct rw *c)
{
	jv nodes = hl_json_get(jv_copy(c->lab->spec), "nodes"),
	    used = jv_array();

	jv_array_foreach(c->hosts, i, h) {
		const char *n = hl_json_get_str(h, "node");
		int seen = 0;

		jv_array_foreach(used, k, u) {
			seen |= n && strcmp(jv_string_value(u), n) == 0;
			jv_free(u);
		}
		if (n && !seen)
			used = jv_array_append(used, jv_string(n));
		jv_free(h);
	}
	jv_array_foreach(used, i, n) {
		const char *node = jv_string_value(n);
		jv ssh = hl_json_get(hl_json_get(jv_copy(nodes), node), "ssh");
		const char *addr = hl_json_get_str(ssh, "address"),
		    *key = hl_json_get_str(ssh, "host_key");
		struct hl_ssh_target t = { addr, (int)hl_pve_get_num(ssh,
		    "port", 22), NULL, key, NULL };
		char id[300];
		struct hl_buf out = { 0 };

		snprintf(id, sizeof(id), "ssh:%s", node);
		if (!addr || !key) {
			rw_add(c, id, "warn", jv_null(), "lab.yaml gives node %s "
			    "no SSH address or host key", node);
		} else {
			struct hl_err pe;

			if (hl_ssh_keyscan(&t, &out, &pe) < 0)
				rw_add(c, id, "warn", jv_null(), "ssh-keyscan is "
				    "not installed: node %s's SSH not checked",
				    node);
			else if (out.len == 0)
				rw_add(c, id, "warn", jv_null(), "node %s's SSH "
				    "at %s port %d does not answer (hl-template "
				    "needs it for snippets)", node, addr, t.port);
			else if (!hl_ssh_key_in(hl_buf_str(&out), key))
				rw_add(c, id, "warn", jv_null(), "node %s's SSH "
				    "at %s port %d answers with another host "
				    "key than lab.yaml pins", node, addr, t.port);
			else
				rw_add(c, id, "ok", jv_null(), "node %s's SSH "
				    "answers with the pinned host key", node);
		}
		hl_buf_free(&out);
		jv_free(ssh);
		jv_free(n);
	}
	jv_free(used);
	jv_free(nodes);
}

/* Whether name is an executable file in a PATH directory. */
static int
on_path(const char *name)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin"), *d, *save = NULL;
	int found = 0;

	for (d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
	    d = strtok_r(NULL, ":", &save)) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", *d ? d : ".", name);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

void
rw_tool_checks(struct rw *c)
{
	static const struct {
		const char *tool, *why;
	} tools[] = {
		{ "ssh", "L3, L4 and capture reach hosts over SSH" },
		{ "ansible-playbook", "L3 converges hosts with Ansible" },
	};
	size_t i;
	char id[64];

	for (i = 0; i < sizeof(tools) / sizeof(*tools); i++) {
		snprintf(id, sizeof(id), "tool:%s", tools[i].tool);
		if (on_path(tools[i].tool))
			rw_add(c, id, "ok", jv_null(), "%s is installed",
			    tools[i].tool);
		else
			rw_add(c, id, "warn", jv_null(), "%s is not on PATH: %s",
			    tools[i].tool, tools[i].why);
	}
}
