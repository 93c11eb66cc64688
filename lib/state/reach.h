/*
 * How L3, L4 and capture reach a host over SSH: its address (a VM's
 * declared ip without its prefix length, else the address hl-vm last saw
 * it at through the guest agent, .hl/addresses; an external host's
 * declared address), port, user and the lab's key.  The host key is
 * always .hl/known_hosts' entry under the host's name.
 */
#ifndef HL_REACH_H
#define HL_REACH_H

#include <jv.h>

#include "ssh/ssh.h"

struct hl_lab;
struct hl_host;

struct hl_reach {
	char *address;		/* NULL: none known (DHCP, not seen yet) */
	int port;
	char *user;
	char *identity;		/* the lab's .hl/id_ed25519 */
	struct hl_ssh_host ssh;	/* the above, for hl_ssh_run */
};

/* Fill r for h, whose configuration hj (hl_spec_host_json, borrowed) the
 * caller has at hand; returns 0, or -1 when it has no address yet
 * (r->address NULL, the rest filled).  Free with hl_reach_free() either
 * way. */
int hl_reach(const struct hl_lab *lab, const struct hl_host *h, jv hj,
    struct hl_reach *r);
void hl_reach_free(struct hl_reach *r);

#endif
