/*
 * OpenSSH public keys: the files a lab names for cloud-init, and the pinned
 * host keys of nodes and external hosts.
 */
#ifndef HL_SSHKEY_H
#define HL_SSHKEY_H

#include <stddef.h>

/*
 * Check one "TYPE BASE64 [COMMENT]" line: a known key type, valid base64,
 * and a key blob that names the same type.  Returns 1 when valid, else 0
 * with *why set to a static reason.
 */
int hl_sshkey_check_line(const char *line, const char **why);

/* "SHA256:" and 43 characters of unpadded base64, as ssh-keygen -l prints. */
int hl_sshkey_check_fingerprint(const char *s);

/*
 * Check a public key file: at least one key, blank lines and "#" comments
 * allowed.  Returns the number of keys (> 0), or 0 with *line (1-based, 0
 * for the whole file) and *why naming the first problem.  Files over 64 KiB
 * are refused.
 */
int hl_sshkey_check_file(const char *path, int *line, const char **why);

#endif
