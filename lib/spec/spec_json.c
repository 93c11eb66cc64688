/*
 * A host's effective configuration as the JSON object "hl-validate show"
 * prints (docs/hl-validate.md), and the key names it is built from.
 */
#include <stdlib.h>

#include "core/json.h"
#include "spec/spec.h"
#include "spec/spec_impl.h"

/* Keys of the "show" object beside those of enum key. */
enum out_key { O_NAME, O_PERSONA, O_KIND, O_SOURCE, O_FILE, O_LINE, O_MEMORY,
	O_DISK, O_N };

static const char *const out_names[O_N] = { "name", "persona", "kind",
	"source", "file", "line", "memory_mib", "disk_gib" };

/* Key names as jv strings, made once per lab: lookups and output share them. */
struct hl_spec_keys {
	jv keys[N_KEYS];		/* hl_spec_key_name() */
	jv out[O_N];			/* the rest of hl_spec_host_json() */
};

struct hl_spec_keys *
hl_spec_keys_new(void)
{
	struct hl_spec_keys *K = calloc(1, sizeof(*K));
	int k;

	if (K == NULL)
		return NULL;
	for (k = 0; k < N_KEYS; k++)
		K->keys[k] = jv_string(hl_spec_key_name(k));
	for (k = 0; k < O_N; k++)
		K->out[k] = jv_string(out_names[k]);
	return K;
}

void
hl_spec_keys_free(struct hl_spec_keys *K)
{
	int k;

	if (K == NULL)
		return;
	for (k = 0; k < N_KEYS; k++)
		jv_free(K->keys[k]);
	for (k = 0; k < O_N; k++)
		jv_free(K->out[k]);
	free(K);
}

static jv
or_null(jv v)
{
	return jv_is_valid(v) ? v : jv_null();
}

/* own (a list, or invalid), then each stack's data paths, once each */
static jv
data_paths(const struct hl_lab *lab, jv own, jv stacks)
{
	jv out = jv_array(), seen = jv_object();
	jv lists = JV_ARRAY(jv_is_valid(own) ? own : jv_array());

	if (jv_get_kind(stacks) == JV_KIND_ARRAY)
		jv_array_foreach(stacks, i, s) {
			jv d = hl_json_get(hl_json_get(jv_copy(lab->stacks),
			    jv_string_value(s)), "data");

			lists = jv_array_append(lists, jv_get_kind(d) ==
			    JV_KIND_ARRAY ? d : (jv_free(d), jv_array()));
			jv_free(s);
		}
	jv_array_foreach(lists, i, l) {
		jv_array_foreach(l, j, p) {
			if (jv_get_kind(p) == JV_KIND_STRING &&
			    !jv_object_has(jv_copy(seen), jv_copy(p))) {
				seen = jv_object_set(seen, jv_copy(p), jv_true());
				out = jv_array_append(out, p);
			} else
				jv_free(p);
		}
		jv_free(l);
	}
	jv_free(lists);
	jv_free(seen);
	return out;
}

jv
hl_spec_host_json(const struct hl_lab *lab, const struct hl_host *h)
{
	const struct hl_spec_keys *K = lab->keys;
	const struct hl_host_info *in = h->info;
	jv o = jv_object();
	int k;

	o = jv_object_set(o, jv_copy(K->out[O_NAME]), jv_string(h->name));
	o = jv_object_set(o, jv_copy(K->out[O_PERSONA]), jv_string(h->persona));
	o = jv_object_set(o, jv_copy(K->out[O_KIND]),
	    jv_string(h->external ? "external" : "vm"));
	o = jv_object_set(o, jv_copy(K->out[O_SOURCE]), jv_object_set(
	    jv_object_set(jv_object(), jv_copy(K->out[O_FILE]),
	    jv_string(h->pos.file)), jv_copy(K->out[O_LINE]),
	    jv_number(h->pos.line)));
	for (k = 0; k < N_KEYS; k++) {
		unsigned long long bit = 1ull << k;
		jv name = jv_copy(K->keys[k]), v = jv_copy(in->val[k]);

		if (k == K_KIND || (h->external && (vm_only & bit)) ||
		    (!h->external && (external_only & bit))) {
			jv_free(name);
			jv_free(v);
			continue;
		}
		/* Sizes carry their unit in the name. */
		if (k == K_MEMORY || k == K_DISK) {
			jv_free(name);
			name = jv_copy(K->out[k == K_MEMORY ? O_MEMORY : O_DISK]);
		}
		if (!jv_is_valid(v) && (k == K_TAGS || k == K_DNS ||
		    k == K_SSH_KEYS || k == K_ROLES || k == K_STACKS)) {
			jv_free(v);
			v = jv_array();
		}
		/* the host's own data paths, then its stacks' */
		if (k == K_DATA)
			v = data_paths(lab, v, in->val[K_STACKS]);
		if (!jv_is_valid(v) && k == K_BOOT_CAPTURE) {
			jv_free(v);
			v = jv_false();
		}
		if (!jv_is_valid(v) && (k == K_VARS || k == K_ENV)) {
			jv_free(v);
			v = jv_object();
		}
		if (!jv_is_valid(v) && k == K_IP) {
			jv_free(v);
			v = jv_string("dhcp");
		}
		/* a VM runs unless it is declared stopped */
		if (!jv_is_valid(v) && k == K_POWER) {
			jv_free(v);
			v = jv_string("running");
		}
		if (!jv_is_valid(v) && k == K_PORT) {
			jv_free(v);
			v = jv_number(22);
		}
		o = jv_object_set(o, name, or_null(v));
	}
	return o;
}
