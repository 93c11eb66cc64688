/*
 * Each VM's own vendor-data: the lab's apt proxy (lab.yaml apt_proxy).
 * The template's prepare boot set it, but a clone's first boot is a new
 * cloud-init instance whose apt module, finding no apt: in vendor-data,
 * removes the proxy file; so every VM hl-vm makes names a snippet of
 * its own through cicustom.  One file per lab and content, named by its
 * digest ("hl-<labid>-vendor-<digest>.yaml"): the same for every VM, put
 * once on each node's snippets storage (the one the host's template
 * definition names), and a new apt_proxy is a new name, which plan shows
 * as drift of cicustom.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/json.h"
#include "state/snippet.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

/* {apt: {proxy}}, or null when the lab has no apt proxy. */
static jv
vendor_doc(const struct hl_lab *lab)
{
	jv proxy = hl_json_get(jv_copy(lab->spec), "apt_proxy");

	if (jv_get_kind(proxy) != JV_KIND_STRING) {
		jv_free(proxy);
		return jv_null();
	}
	return jv_object_set(jv_object(), jv_string("apt"), jv_object_set(
	    jv_object(), jv_string("proxy"), proxy));
}

static jv
vendor_text(const struct hl_lab *lab, jv doc)
{
	char comment[200];

	snprintf(comment, sizeof(comment), "hl-vm: what every VM of lab %s "
	    "gets in its own cloud-init (the apt proxy)", hl_json_str(lab->id));
	return hl_snippet_text(comment, doc);
}

/* The snippets storage of host h's template definition, or null. */
static jv
snippets_storage(const struct hl_lab *lab, jv h)
{
	jv tpl = hl_json_get(hl_json_get(jv_copy(h), "template"), "name");
	jv s = jv_null();

	if (jv_get_kind(tpl) == JV_KIND_STRING)
		s = jv_getpath(jv_copy(lab->templates), JV_ARRAY(tpl,
		    jv_string("storage"), jv_string("snippets")));
	else
		jv_free(tpl);
	if (!jv_is_valid(s) || jv_get_kind(s) != JV_KIND_STRING) {
		jv_free(s);
		return jv_null();
	}
	return s;
}

/* The file name for text: hl-<labid>-vendor-<first 16 hex of SHA-256>. */
static void
file_name(const struct hl_lab *lab, jv text, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0, i;
	char hex[17];

	EVP_Digest(jv_string_value(text), (size_t)jv_string_length_bytes(
	    jv_copy(text)), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 8 && i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, len, "hl-%s-vendor-%s.yaml", hl_json_str(lab->id), hex);
}

jv
vm_cicustom(const struct hl_lab *lab, jv h)
{
	jv doc = vendor_doc(lab), st, text, out;
	char file[200];

	if (jv_get_kind(doc) == JV_KIND_NULL)
		return doc;
	st = snippets_storage(lab, h);
	if (jv_get_kind(st) != JV_KIND_STRING) {
		/* validation refuses this; apply says so */
		jv_free(doc);
		return st;
	}
	text = vendor_text(lab, doc);
	file_name(lab, text, file, sizeof(file));
	out = jv_string_fmt("vendor=%s:snippets/%s", jv_string_value(st), file);
	jv_free(text);
	jv_free(st);
	jv_free(doc);
	return out;
}

int
vm_vendor_put(struct host *x)
{
	jv doc = vendor_doc(x->lab), st = jv_null(), text = jv_null();
	char file[200], dir[300];
	int rc = 0, have;

	if (jv_get_kind(doc) == JV_KIND_NULL)
		goto out;
	st = snippets_storage(x->lab, x->h);
	if (jv_get_kind(st) != JV_KIND_STRING) {
		rc = hl_err_set(x->e, HL_E_LAB, "%s: its template names no "
		    "snippets storage (storage.snippets) for the vendor-data "
		    "that carries lab.yaml's apt_proxy", x->name);
		goto out;
	}
	text = vendor_text(x->lab, doc);
	file_name(x->lab, text, file, sizeof(file));
	have = hl_snippet_exists(x->p, x->node, jv_string_value(st), file,
	    x->e);
	if (have != 0) {
		rc = have < 0 ? -1 : 0;
		goto out;
	}
	rc = hl_snippet_dir(x->p, jv_string_value(st), dir, sizeof(dir), x->e);
	if (rc == 0 && x->o->dry_run) {
		vm_note(x, "would upload the lab's vendor-data (apt proxy) to "
		    "%s:%s/%s", x->node, dir, file);
	} else if (rc == 0) {
		vm_note(x, "uploading the lab's vendor-data (apt proxy) to "
		    "%s:%s/%s", x->node, dir, file);
		rc = hl_snippet_put(x->lab, x->node, dir, file, text, x->e);
	}
out:
	jv_free(text);
	jv_free(st);
	jv_free(doc);
	return rc;
}
