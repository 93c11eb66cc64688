/* Ownership of VMs and templates: the tag and the marker (owner.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "pve/pve.h"
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

int
hl_owner_find(struct hl_pve *p, jv vms, const char *labid, const char *host,
    jv *vm, struct hl_err *e)
{
	jv found = jv_null(), conf = jv_null();
	const char *node;
	int foreign = 0, rc = 0, vmid;
	char path[300];

	*vm = jv_null();
	jv_array_foreach(vms, i, v) {
		const char *name = hl_json_get_str(v, "name");

		if (name && strcmp(name, host) == 0 &&
		    hl_pve_get_num(v, "template", 0) == 0) {
			if (hl_owner_tagged(hl_json_get_str(v, "tags"), labid) &&
			    jv_get_kind(found) == JV_KIND_NULL) {
				found = v;
				continue;
			}
			foreign = (int)hl_pve_get_num(v, "vmid", 0);
		}
		jv_free(v);
	}
	if (jv_get_kind(found) == JV_KIND_NULL) {
		if (foreign)
			return hl_err_set(e, HL_E_REFUSED, "%s: VM %d has its "
			    "name but not the tag hl-%s: not hl's to touch",
			    host, foreign, labid);
		return hl_err_set(e, HL_E_FAILED, "%s: no VM of hl's for it "
		    "(hl-vm apply makes it)", host);
	}
	node = hl_json_get_str(found, "node");
	vmid = (int)hl_pve_get_num(found, "vmid", 0);
	snprintf(path, sizeof(path), "/nodes/%s/qemu/%d/config",
	    node ? node : "", vmid);
	if (node == NULL || hl_pve_get(p, path, &conf, e) < 0)
		rc = node ? -1 : hl_err_set(e, HL_E_REPLY, "%s: VM %d without "
		    "a node in /cluster/resources", host, vmid);
	else if (!hl_owner_is(found, conf, labid, "host", host))
		rc = hl_err_set(e, HL_E_REFUSED, "%s: VM %d has no marker of "
		    "this lab and host: not hl's to touch", host, vmid);
	jv_free(conf);
	*vm = found;
	return rc;
}
