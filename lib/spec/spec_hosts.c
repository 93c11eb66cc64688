/*
 * Each host's configuration, level over level (lab.yaml defaults, then its
 * persona, then the host), with the keys its kind needs and where each
 * value was set.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "spec/spec.h"
#include "spec/spec_impl.h"

static const char *const host_keys[N_KEYS - N_SETTINGS] = { "kind", "vmid",
	"ip", "mac", "address", "port", "host_key" };

const char *
hl_spec_key_name(int k)
{
	return k < N_SETTINGS ? hl_schema_settings[k] :
	    host_keys[k - N_SETTINGS];
}

struct hl_pos
hl_spec_layer_pos(const struct layer *l, const char *key,
    struct hl_pos fallback)
{
	struct hl_buf b = { 0 };
	struct hl_pos pos;

	hl_buf_adds(&b, l->base);
	hl_path_key(&b, key);
	if (hl_pos_get(l->pt, hl_buf_str(&b), NULL, &pos) < 0)
		pos = fallback.line ? fallback : l->pos;
	hl_buf_free(&b);
	return pos;
}

static struct hl_host *
new_host(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	struct hl_host *h;

	if (lab->nhosts == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 64;

		h = realloc(lab->hosts, cap * sizeof(*h));
		if (h == NULL)
			return NULL;
		lab->hosts = h;
		L->cap = cap;
	}
	h = &lab->hosts[lab->nhosts];
	memset(h, 0, sizeof(*h));
	h->tags = jv_null();
	h->info = calloc(1, sizeof(*h->info));
	return h->info ? h : NULL;
}

static int
key_index(const char *name)
{
	int k;

	for (k = 0; k < N_KEYS; k++)
		if (strcmp(hl_spec_key_name(k), name) == 0)
			return k;
	return -1;
}

/* arr without repeats, each first occurrence kept in place. */
static jv
ordered_unique(jv arr)
{
	jv out = jv_array(), seen = jv_object();

	jv_array_foreach(arr, i, x) {
		(void)i;
		if (jv_get_kind(x) != JV_KIND_STRING ||
		    jv_object_has(jv_copy(seen), jv_copy(x))) {
			jv_free(x);
			continue;
		}
		seen = jv_object_set(seen, jv_copy(x), jv_true());
		out = jv_array_append(out, x);
	}
	jv_free(seen);
	jv_free(arr);
	return out;
}

/*
 * Lay level l of a host's configuration over in: each key it sets replaces
 * the value below, except tags, roles, stacks and data, which accumulate
 * (tags sorted, the others in the order declared, lower levels first), and
 * vars and env, merged by variable name.  Where a value was set is looked up only when a problem
 * needs it (hl_spec_key_pos).
 */
void
hl_spec_overlay(struct hl_host_info *in, const struct layer *l,
    enum level level)
{
	int it;

	if (jv_get_kind(l->obj) != JV_KIND_OBJECT)
		return;
	for (it = jv_object_iter(l->obj); jv_object_iter_valid(l->obj, it);
	    it = jv_object_iter_next(l->obj, it)) {
		jv key = jv_object_iter_key(l->obj, it);
		int k = key_index(jv_string_value(key));
		jv v;

		jv_free(key);
		if (k < 0)
			continue;	/* "hosts", or unknown (reported) */
		v = jv_object_iter_value(l->obj, it);
		in->set |= 1ull << k;
		in->from[k] = (unsigned char)level;
		/* null: set, but invalid (reported already) */
		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(v);
			v = jv_invalid();
		} else if ((k == K_TAGS || k == K_ROLES || k == K_STACKS ||
		    k == K_DATA) &&
		    jv_get_kind(in->val[k]) == JV_KIND_ARRAY &&
		    jv_get_kind(v) == JV_KIND_ARRAY) {
			v = jv_array_concat(jv_copy(in->val[k]), v);
		} else if ((k == K_VARS || k == K_ENV) &&
		    jv_get_kind(in->val[k]) == JV_KIND_OBJECT &&
		    jv_get_kind(v) == JV_KIND_OBJECT) {
			v = jv_object_merge(jv_copy(in->val[k]), v);
		}
		if (k == K_TAGS && jv_get_kind(v) == JV_KIND_ARRAY)
			v = hl_json_sorted_unique(v);
		if ((k == K_ROLES || k == K_STACKS || k == K_DATA) &&
		    jv_get_kind(v) == JV_KIND_ARRAY)
			v = ordered_unique(v);
		jv_free(in->val[k]);
		in->val[k] = v;
	}
}

/* An empty configuration, or a copy of base (a persona's, below its hosts). */
void
hl_spec_info_init(struct hl_host_info *in, const struct hl_host_info *base)
{
	int k;

	in->set = base ? base->set : 0;
	in->pt = base ? base->pt : NULL;
	for (k = 0; k < N_KEYS; k++) {
		in->val[k] = base ? jv_copy(base->val[k]) : jv_invalid();
		in->from[k] = base ? base->from[k] : L_UNSET;
	}
}

void
hl_spec_info_free(struct hl_host_info *in)
{
	int k;

	for (k = 0; in && k < N_KEYS; k++)
		jv_free(in->val[k]);
}

/* Where host i's key k was set; the host's own line when nowhere. */
struct hl_pos
hl_spec_key_pos(struct loader *L, size_t i, int k)
{
	const struct hl_host *h = &L->lab->hosts[i];
	const struct hl_host_info *in = h->info;
	struct hl_buf base = { 0 };
	struct layer l = { .pos = h->pos };
	struct hl_pos pos;

	switch (in->from[k]) {
	case L_DEFAULTS:
		l = *L->defaults;
		break;
	case L_PERSONA:
		l.pt = in->pt;
		l.base = "";
		break;
	case L_HOST:
		hl_buf_adds(&base, ".hosts");
		hl_path_key(&base, h->name);
		l.pt = in->pt;
		l.base = hl_buf_str(&base);
		break;
	default:
		return h->pos;
	}
	pos = hl_spec_layer_pos(&l, hl_spec_key_name(k), h->pos);
	hl_buf_free(&base);
	return pos;
}


static void
require(struct loader *L, const struct hl_host *h,
    const struct hl_host_info *in, int k)
{
	/* Without lab.yaml, a missing key may be a default: say nothing. */
	if (L->no_defaults && k < N_SETTINGS)
		return;
	if (in->set & (1ull << k))
		return;
	if (k < N_SETTINGS)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s' (set it on the host, in persona "
		    "'%s' or in lab.yaml defaults)", h->name, hl_spec_key_name(k),
		    h->persona);
	else
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, h->pos, NULL,
		    "host '%s' has no '%s'", h->name, hl_spec_key_name(k));
}

/* Host-level keys that do not apply to the host's kind. */
static void
check_kind_keys(struct loader *L, const struct hl_host *h,
    const struct layer *hl)
{
	int k;

	for (k = 0; k < N_KEYS; k++) {
		unsigned long long bit = 1ull << k;

		if (!((h->external ? vm_only : external_only) & bit) ||
		    !jv_object_has(jv_copy(hl->obj), jv_string(hl_spec_key_name(k))))
			continue;
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
		    hl_spec_layer_pos(hl, hl_spec_key_name(k), h->pos), NULL,
		    "'%s' does not apply to a host of kind %s", hl_spec_key_name(k),
		    h->external ? "external" : "vm");
	}
}

/* The keys a host of its kind must end up with. */
static void
check_required(struct loader *L, const struct hl_host *h,
    const struct hl_host_info *in)
{
	static const int vm[] = { K_VMID, K_TEMPLATE, K_NODE, K_STORAGE,
		K_BRIDGE, K_CORES, K_MEMORY, K_DISK, K_USER, K_SSH_KEYS };
	static const int external[] = { K_ADDRESS, K_HOST_KEY, K_USER };
	const int *need = h->external ? external : vm;
	size_t i, n = h->external ? sizeof(external) / sizeof(external[0]) :
	    sizeof(vm) / sizeof(vm[0]);

	for (i = 0; i < n; i++)
		require(L, h, in, need[i]);
	if (!h->external && jv_is_valid(in->val[K_SSH_KEYS]) &&
	    jv_array_length(jv_copy(in->val[K_SSH_KEYS])) == 0)
		hl_diag_add(&L->lab->diag, HL_DIAG_ERROR,
		    hl_spec_key_pos(L, (size_t)(h - L->lab->hosts), K_SSH_KEYS), NULL,
		    "host '%s' has an empty 'ssh_keys' list", h->name);
}

void
hl_spec_add_host(struct loader *L, const char *persona, const char *name,
    const struct hl_host_info *base, const struct layer *layers)
{
	struct hl_lab *lab = L->lab;
	struct hl_host *h = new_host(L);
	struct hl_host_info *in;
	jv prev;

	if (h == NULL)
		return;
	in = h->info;
	h->pos = layers[2].pos;
	prev = jv_object_get(jv_copy(L->host_at), jv_string(name));
	if (jv_is_valid(prev)) {
		const struct hl_host *first = &lab->hosts[(int)jv_number_value(
		    prev)];

		hl_diag_add2(&lab->diag, HL_DIAG_ERROR, h->pos, first->pos, NULL,
		    "host '%s' is declared twice (also in %s:%d)", name,
		    first->pos.file, first->pos.line);
		jv_free(prev);
		free(h->info);
		h->info = NULL;
		return;
	}
	jv_free(prev);
	h->name = strdup(name);
	h->persona = strdup(persona);
	hl_spec_info_init(in, base);
	hl_spec_overlay(in, &layers[L_HOST], L_HOST);
	h->external = jv_is_valid(in->val[K_KIND]) &&
	    strcmp(jv_string_value(in->val[K_KIND]), "external") == 0;
	/* A bad kind is reported; guessing one would only add noise. */
	if (!(in->set & (1ull << K_KIND)) || jv_is_valid(in->val[K_KIND])) {
		check_kind_keys(L, h, &layers[L_HOST]);
		check_required(L, h, in);
	}
	h->tags = jv_copy(in->val[K_TAGS]);
	L->host_at = jv_object_set(L->host_at, jv_string(name),
	    jv_number((double)lab->nhosts));
	lab->nhosts++;
}
