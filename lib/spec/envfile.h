/*
 * KEY=VALUE files under the lab's .hl/ (the simulator's sim.env): the
 * source of lab.yaml values written as {from: FILE, key: NAME}.
 */
#ifndef HL_ENVFILE_H
#define HL_ENVFILE_H

#include "core/err.h"

#define HL_ENVFILE_MAX (64u << 10)

/*
 * Look key up in the file at path.  Lines are KEY=VALUE, optionally
 * prefixed with "export ", the value optionally in single or double quotes;
 * blank lines and "#" comments are skipped.  Returns 0 with *value
 * malloc'ed (the caller frees it), 1 when the file has no such key, or -1
 * with e filled (HL_E_LAB) when the file cannot be read; e->reason is
 * HL_E_NONE when it does not exist.  e->msg is a phrase to follow the
 * file's name ("is not a regular file").  The file's other values (it may hold
 * a token) are wiped from memory before returning.
 */
int hl_envfile_get(const char *path, const char *key, char **value,
    struct hl_err *e);

#endif
