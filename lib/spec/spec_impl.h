/*
 * Internal to spec.c and rules.c: how the lab model keeps each host's
 * configuration while the specs load.  Nothing else includes this.
 */
#ifndef HL_SPEC_IMPL_H
#define HL_SPEC_IMPL_H

#include <jv.h>

#include "spec/schema.h"
#include "spec/spec.h"

/* Every key a host has, in the order of hl_schema_settings, then its own. */
enum key {
	K_TEMPLATE, K_NODE, K_STORAGE, K_BRIDGE, K_VLAN, K_POOL, K_CORES,
	K_MEMORY, K_DISK, K_TAGS, K_GATEWAY, K_DNS, K_SEARCH, K_USER,
	K_SSH_KEYS,
	N_SETTINGS,
	K_KIND = N_SETTINGS, K_VMID, K_IP, K_MAC, K_ADDRESS, K_PORT, K_HOST_KEY,
	N_KEYS
};

/* Keys that only mean something for kind: vm (the rest: both kinds). */
static const unsigned long long vm_only = (1ull << K_TEMPLATE) |
	(1ull << K_NODE) | (1ull << K_STORAGE) | (1ull << K_BRIDGE) |
	(1ull << K_VLAN) | (1ull << K_POOL) | (1ull << K_CORES) |
	(1ull << K_MEMORY) | (1ull << K_DISK) | (1ull << K_GATEWAY) |
	(1ull << K_DNS) | (1ull << K_SEARCH) | (1ull << K_SSH_KEYS) |
	(1ull << K_VMID) | (1ull << K_IP) | (1ull << K_MAC);
static const unsigned long long external_only = (1ull << K_ADDRESS) |
	(1ull << K_PORT) | (1ull << K_HOST_KEY);

/* One level of a host's configuration: defaults, persona or host. */
struct layer {
	jv obj;				/* borrowed */
	struct hl_pos_table *pt;
	const char *base;		/* path of obj in its file */
	struct hl_pos pos;		/* where obj is */
};

enum level { L_DEFAULTS, L_PERSONA, L_HOST, L_UNSET = 0xff };

/* What the lab keeps per host beyond struct hl_host. */
struct hl_host_info {
	unsigned long long set;		/* keys set at some level, valid or not */
	jv val[N_KEYS];			/* effective values; invalid = unset */
	unsigned char from[N_KEYS];	/* the level that set each key */
	struct hl_pos_table *pt;	/* the host's persona file */
};

struct loader {
	struct hl_lab *lab;
	const struct layer *defaults;
	struct hl_schema_ctx sc;
	size_t cap;
	int no_defaults;		/* lab.yaml unreadable: defaults unknown */
	jv host_at;			/* host name -> index, for duplicates */
	jv keyfiles;			/* SSH key files already checked */
};

/* A key's name in the specs. */
const char *hl_spec_key_name(int k);

/* Where obj[key] is in l's file; fallback (or l->pos) when not recorded. */
struct hl_pos hl_spec_layer_pos(const struct layer *l, const char *key,
    struct hl_pos fallback);

/* Where host i's key k was set; the host's own line when nowhere. */
struct hl_pos hl_spec_key_pos(struct loader *L, size_t i, int k);

/* The lab-wide rules (rules.c), run once everything is loaded. */
void hl_rules_templates(struct loader *L);
void hl_rules_hosts(struct loader *L);
void hl_rules_lab(struct loader *L, struct hl_pos_table *pt);

#endif
