/*
 * Internal to the spec room: how the lab model keeps each host's
 * configuration while the specs load (spec.c, spec_hosts.c, spec_json.c,
 * rules.c, spec_stacks.c, rules_stacks.c, compose.c), and the YAML
 * loader's state (yamldoc.c, yamldoc_node.c, yamldoc_scalar.c).  Nothing
 * else includes this.
 */
#ifndef HL_SPEC_IMPL_H
#define HL_SPEC_IMPL_H

#include <stddef.h>
#include <jv.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/pos.h"
#include "spec/schema.h"
#include "spec/spec.h"

/* Every key a host has, in the order of hl_schema_settings, then its own. */
enum key {
	K_TEMPLATE, K_NODE, K_STORAGE, K_BRIDGE, K_VLAN, K_POOL, K_CORES,
	K_MEMORY, K_DISK, K_TAGS, K_GATEWAY, K_DNS, K_SEARCH, K_USER,
	K_SSH_KEYS, K_POWER, K_ROLES, K_VARS, K_STACKS, K_ENV, K_DATA,
	K_BOOT_CAPTURE, K_REBOOT_BATCH,
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
	(1ull << K_POWER) | (1ull << K_VMID) | (1ull << K_IP) | (1ull << K_MAC) |
	(1ull << K_BOOT_CAPTURE) | (1ull << K_REBOOT_BATCH);
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
	jv stack_uses;			/* stack -> {file, vars: {VAR: [line,
					 * col]}}: each stack's Compose file */
};

/*
 * Load one YAML file of the lab (rel: its path below the root), its
 * positions kept with the lab's; jv_invalid() when it yields no document.
 * hl_spec_load_file() checks it against the schema of kind as well.
 */
jv hl_spec_load_yaml(struct loader *L, const char *rel,
    struct hl_pos_table **ptp);
jv hl_spec_load_file(struct loader *L, const char *rel,
    enum hl_schema_doc kind, struct hl_pos_table **ptp);

/* A key's name in the specs. */
const char *hl_spec_key_name(int k);

/* An empty configuration, or a copy of base (a persona's, below its hosts). */
void hl_spec_info_init(struct hl_host_info *in,
    const struct hl_host_info *base);

/* Frees in's values (not in itself); in may be NULL. */
void hl_spec_info_free(struct hl_host_info *in);

/*
 * Lays level l over in: each key replaces the value below, except tags
 * (added up, sorted), roles and stacks (added up in declared order), and
 * vars and env (merged by variable name).
 */
void hl_spec_overlay(struct hl_host_info *in, const struct layer *l,
    enum level level);

/*
 * Adds host name of persona to L->lab: base is what the persona gives its
 * hosts, layers[L_HOST] the host's own mapping.  A duplicate is reported
 * and left out.
 */
void hl_spec_add_host(struct loader *L, const char *persona, const char *name,
    const struct hl_host_info *base, const struct layer *layers);

/* The key names hl_spec_host_json() uses, made once per lab; NULL when out
 * of memory.  hl_spec_keys_free() accepts NULL. */
struct hl_spec_keys *hl_spec_keys_new(void);
void hl_spec_keys_free(struct hl_spec_keys *K);

/* Where obj[key] is in l's file; fallback (or l->pos) when not recorded. */
struct hl_pos hl_spec_layer_pos(const struct layer *l, const char *key,
    struct hl_pos fallback);

/* Where host i's key k was set; the host's own line when nowhere. */
struct hl_pos hl_spec_key_pos(struct loader *L, size_t i, int k);

/* The lab-wide rules (rules.c), run once everything is loaded. */
void hl_rules_templates(struct loader *L);
void hl_rules_hosts(struct loader *L);
void hl_rules_lab(struct loader *L, struct hl_pos_table *pt);
void hl_rules_capture(struct loader *L, struct hl_pos_table *pt);

/*
 * L4's stacks (spec_stacks.c): every directory of layers/L4/stacks/ into
 * lab->stacks, before the hosts; then, with the hosts known, what a stack
 * asks of the hosts that run it.
 */
void hl_spec_load_stacks(struct loader *L);
void hl_rules_stacks(struct loader *L);

/* What compose.c learns from a stack's Compose file. */
struct hl_compose {
	const char *root;	/* the lab root */
	const char *dir;	/* the stack's directory, below root */
	jv data;		/* borrowed: the stack's data paths, a list */
	jv services;		/* out: the well-named services, sorted */
	jv vars;		/* out: variable -> [line, col] of first use */
};

/*
 * Check the Compose file doc (borrowed; pt its positions), reporting each
 * problem to d: a mapping with services, well-named; Compose v1's
 * interpolation; bind mounts into the stack's directory (existing there)
 * or under one of its data paths.  Fills c->services and c->vars (the
 * caller frees them).
 */
void hl_compose_check(struct hl_compose *c, jv doc, struct hl_pos_table *pt,
    struct hl_diag *d);

/* ---- yamldoc: one YAML file into a jv value and its positions ---------- */

struct yamldoc_anchor {
	char *name;
	jv value;
	size_t nodes;		/* how many values it stands for */
};

struct yamldoc {
	yaml_parser_t parser;
	const char *file;	/* display name */
	struct hl_pos_table *pt;
	struct hl_diag *d;
	struct hl_buf path;
	const unsigned char *text;	/* the file, for offsets */
	size_t len;
	struct yamldoc_anchor *anchors;
	size_t nanchors, anchors_cap;
	jv anchor_at;			/* anchor name -> index in anchors */
	size_t nodes;
	int depth;
	int fatal;		/* stop: the rest of the file is not read */
};

/* Where libyaml's mark m is in L's file. */
struct hl_pos hl_yamldoc_pos(struct yamldoc *L, yaml_mark_t m);

/* Reports msg at pos (the first such problem only) and stops the load. */
void hl_yamldoc_fatal(struct yamldoc *L, struct hl_pos pos, const char *msg);

/* The next event into *ev: 0, or -1 after reporting a syntax error. */
int hl_yamldoc_next(struct yamldoc *L, yaml_event_t *ev);

/*
 * The value that starts with ev (deleted here), at key (the position of
 * its key); jv_invalid() when the load stops (L->fatal).  *nodes counts
 * the values it stands for, aliases expanded.
 */
jv hl_yamldoc_node(struct yamldoc *L, yaml_event_t *ev, size_t *nodes,
    struct hl_pos key);

/* A plain scalar's value under the YAML 1.2 core schema. */
jv hl_yamldoc_scalar(const char *s);

#endif
