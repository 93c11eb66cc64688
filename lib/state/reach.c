/* How a host is reached (reach.h). */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "spec/lab.h"
#include "spec/spec.h"
#include "ssh/known_hosts.h"
#include "state/reach.h"

int
hl_reach(const struct hl_lab *lab, const struct hl_host *h, jv hj,
    struct hl_reach *r)
{
	const char *s = hl_json_get_str(hj, h->external ? "address" : "ip"),
	    *user = hl_json_get_str(hj, "user");

	memset(r, 0, sizeof(*r));
	if (s == NULL || strcmp(s, "dhcp") == 0)
		r->address = h->external ? NULL :
		    hl_known_hosts_address(lab->root, h->name);
	else
		r->address = strndup(s, strcspn(s, "/"));
	r->port = h->external ? (int)jv_number_value(hl_json_get(jv_copy(hj),
	    "port")) : 22;
	if (r->port <= 0)
		r->port = 22;
	r->user = strdup(user ? user : "root");
	r->identity = hl_lab_path(lab->root, ".hl/id_ed25519");
	r->ssh = (struct hl_ssh_host){ .root = lab->root, .alias = h->name,
		.address = r->address, .port = r->port, .user = r->user,
		.identity = r->identity };
	return r->address ? 0 : -1;
}

void
hl_reach_free(struct hl_reach *r)
{
	free(r->address);
	free(r->user);
	free(r->identity);
	memset(r, 0, sizeof(*r));
}
