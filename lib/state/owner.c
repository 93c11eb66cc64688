/* Ownership of VMs and templates: the tag and the marker (owner.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "state/owner.h"

void
hl_owner_tag(const char *labid, char *out, size_t len)
{
	snprintf(out, len, "hl-%s", labid ? labid : "");
}

int
hl_owner_has_tag(const char *tags, const char *tag)
{
	size_t n = strlen(tag);
	const char *t = tags;

	while (t && *t) {
		size_t k = strcspn(t, ";, ");

		if (k == n && strncmp(t, tag, n) == 0)
			return 1;
		t += k;
		t += strspn(t, ";, ");
	}
	return 0;
}

int
hl_owner_tagged(const char *tags, const char *labid)
{
	char want[160];

	hl_owner_tag(labid, want, sizeof(want));
	return hl_owner_has_tag(tags, want);
}

void
hl_owner_marker(char *out, size_t len, const char *labid, ...)
{
	size_t used;
	const char *k, *v;
	va_list ap;

	snprintf(out, len, "hl: lab=%s", labid ? labid : "");
	va_start(ap, labid);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		used = strlen(out);
		snprintf(out + used, len - used, " %s=%s", k, v ? v : "none");
	}
	va_end(ap);
}

char *
hl_owner_get(const char *desc, const char *key)
{
	char want[64];
	const char *at;

	if (desc == NULL || strncmp(desc, "hl:", 3) != 0)
		return NULL;
	snprintf(want, sizeof(want), " %s=", key);
	at = strstr(desc, want);
	if (at == NULL)
		return NULL;
	at += strlen(want);
	return strndup(at, strcspn(at, " \n"));
}

int
hl_owner_is(jv vm, jv conf, const char *labid, const char *key,
    const char *value)
{
	const char *desc = hl_json_get_str(conf, "description");
	char *lab = hl_owner_get(desc, "lab"),
	    *got = key ? hl_owner_get(desc, key) : NULL;
	int yes = hl_owner_tagged(hl_json_get_str(vm, "tags"), labid) &&
	    lab && labid && strcmp(lab, labid) == 0 &&
	    (key == NULL || (got && value && strcmp(got, value) == 0));

	free(lab);
	free(got);
	return yes;
}
