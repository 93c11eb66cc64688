/* Finding the lab: -C DIR, else HL_LAB, else upwards from the cwd. */
#ifndef HL_LAB_H
#define HL_LAB_H

#include "core/err.h"

/*
 * The lab root: dir when given (it must hold lab.yaml), else $HL_LAB, else
 * the nearest directory upwards from the working directory that holds
 * lab.yaml.  Returns 0 with *root malloc'ed (absolute), or -1 with e filled
 * (HL_E_LAB).
 */
int hl_lab_find(const char *dir, char **root, struct hl_err *e);

/*
 * A path a spec names (an SSH key file, a CA file): as it is when
 * absolute, else below the lab root.  Returns it malloc'ed, or NULL when
 * out of memory.  Every reader of such a path goes through here, so the
 * validator and the tools read the same file.
 */
char *hl_lab_path(const char *root, const char *path);

#endif
