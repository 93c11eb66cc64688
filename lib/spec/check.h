/*
 * Syntax checks for spec values.  Each returns 1 when s is valid, 0 when
 * not; none allocates.  The grammars are the ones DESIGN.md 2.1 and the
 * Proxmox VE schema (../shared/pve-api/apidata.json) give.
 */
#ifndef HL_CHECK_H
#define HL_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* persona, host, template, tag names: [a-z0-9][a-z0-9_-]{0,62} */
int hl_check_ident(const char *s);
/* user names: [a-z_][a-z0-9_-]{0,31} */
int hl_check_user(const char *s);
/* one RFC 1123 label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?, any case */
int hl_check_label(const char *s);
/* an RFC 1123 host or domain name: labels joined by dots, <= 253 */
int hl_check_hostname(const char *s);
/* Proxmox VE tag (pve-tag-list item): [a-z0-9_][a-z0-9_+.-]* */
int hl_check_pve_tag(const char *s);
/* pve-storage-id: [a-z][a-z0-9_.-]*[a-z0-9] */
int hl_check_storage_id(const char *s);
/* pve-poolid: [A-Za-z0-9_-]{1,64} */
int hl_check_pool(const char *s);
/* a Linux bridge name: [A-Za-z][A-Za-z0-9_.-]{0,14} */
int hl_check_bridge(const char *s);
/* a Proxmox cluster name: [A-Za-z0-9-]{1,15} */
int hl_check_cluster_name(const char *s);
/* an environment variable name: [A-Z_][A-Z0-9_]{0,63} */
int hl_check_env_name(const char *s);
/* a variable name (Ansible's, Compose's, the shell's): [A-Za-z_][A-Za-z0-9_]{0,63} */
int hl_check_var_name(const char *s);
/* dotted-quad IPv4 without leading zeros; *addr in host order */
int hl_check_ipv4(const char *s, uint32_t *addr);
/* a.b.c.d/N with 8 <= N <= 32 */
int hl_check_cidr(const char *s, uint32_t *addr, int *prefix);
/* a unicast MAC, XX:XX:XX:XX:XX:XX; out (18 bytes) gets it upper-cased */
int hl_check_mac(const char *s, char out[18]);
/* a SHA-256 certificate fingerprint, AA:BB:... (32 bytes, any case) */
int hl_check_fingerprint(const char *s);
/* "http://" or "https://" with a host; https_only refuses http */
int hl_check_url(const char *s, int https_only);
/* "sha256:<64 hex>" or "sha512:<128 hex>" */
int hl_check_checksum(const char *s);
/* a relative path without ".." components, or an absolute one */
int hl_check_path(const char *s);

/*
 * A size with a binary unit: K, M, G, T, optionally followed by "iB"
 * ("512M", "2G", "2GiB").  A number without a unit, a fraction, or an SI
 * unit ("GB") is refused; why says which.
 */
int hl_check_size(const char *s, uint64_t *bytes, const char **why);

/* The edit distance of a and b, a swap of neighbours counted as one edit
 * (optimal string alignment); 99 for strings over 32 characters.  For
 * "did you mean". */
size_t hl_check_distance(const char *a, const char *b);

#endif
