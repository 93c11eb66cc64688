/*
 * What a stack asks of the hosts that run it, checked once the hosts are
 * known: every variable its Compose file uses is in the env of each such
 * host or among the stack's secrets; no secret has a value in the specs.
 * A stack no host runs is a warning.  spec_stacks.c loads the stacks.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "spec/spec_impl.h"

static int
has(jv arr, jv s)
{
	int found = 0;

	jv_array_foreach(arr, i, x) {
		(void)i;
		found |= jv_equal(x, jv_copy(s));
	}
	jv_free(s);
	return found;
}

/* "host 'a'", "hosts 'a', 'b' and 3 more": the hosts (an array). */
static void
host_list(jv hosts, char *b, size_t n)
{
	int len = jv_array_length(jv_copy(hosts));

	snprintf(b, n, "host%s", len > 1 ? "s" : "");
	jv_array_foreach(hosts, i, x) {
		if (i < 3)
			snprintf(b + strlen(b), n - strlen(b), "%s'%s'",
			    i == 0 ? " " : i == len - 1 ? " and " : ", ",
			    jv_string_value(x));
		else if (i == 3)
			snprintf(b + strlen(b), n - strlen(b), " and %d more",
			    len - 3);
		jv_free(x);
	}
}

/* A variable no host running the stack has, at its first use. */
static void
report_missing(struct loader *L, jv missing)
{
	int it, jt;

	for (it = jv_object_iter(missing); jv_object_iter_valid(missing, it);
	    it = jv_object_iter_next(missing, it)) {
		jv stack = jv_object_iter_key(missing, it);
		jv vars = jv_object_iter_value(missing, it);
		jv use = jv_object_get(jv_copy(L->stack_uses), jv_copy(stack));
		jv at = hl_json_get(jv_copy(use), "vars");

		for (jt = jv_object_iter(vars); jv_object_iter_valid(vars, jt);
		    jt = jv_object_iter_next(vars, jt)) {
			jv var = jv_object_iter_key(vars, jt);
			jv hosts = jv_object_iter_value(vars, jt);
			jv lc = jv_object_get(jv_copy(at), jv_copy(var));
			jv line = jv_array_get(jv_copy(lc), 0);
			jv col = jv_array_get(jv_copy(lc), 1);
			struct hl_pos pos = { hl_json_get_str(use, "file"),
			    (int)jv_number_value(line),
			    (int)jv_number_value(col) };
			char list[256];

			host_list(hosts, list, sizeof(list));
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, pos, NULL,
			    "variable '%s' is in neither the env of %s nor the "
			    "secrets of stack '%s'", jv_string_value(var),
			    list, jv_string_value(stack));
			jv_free(line);
			jv_free(col);
			jv_free(lc);
			jv_free(var);
			jv_free(hosts);
		}
		jv_free(at);
		jv_free(use);
		jv_free(stack);
		jv_free(vars);
	}
}

/* Where host i's env sets name: the highest level that does. */
static struct hl_pos
env_pos(struct loader *L, size_t i, const char *name)
{
	const struct hl_host *h = &L->lab->hosts[i];
	struct hl_pos_table *pts[3] = { h->info->pt, h->info->pt,
		L->defaults->pt };
	struct hl_buf b = { 0 };
	struct hl_pos pos = hl_spec_key_pos(L, i, K_ENV);  /* below an alias */
	int l, found = 0;

	for (l = 0; l < 3 && !found; l++) {
		hl_buf_truncate(&b, 0);
		if (l == 0) {
			hl_buf_adds(&b, ".hosts");
			hl_path_key(&b, h->name);
		}
		hl_buf_adds(&b, l == 2 ? ".defaults.env" : ".env");
		hl_path_key(&b, name);
		found = pts[l] && hl_pos_get(pts[l], hl_buf_str(&b), &pos,
		    NULL) == 0;
	}
	hl_buf_free(&b);
	return pos;
}

/*
 * Host i runs stack (a valid one, entry): each variable it uses that the
 * host's env lacks goes to *missing; a secret the env sets is an error,
 * once per place it is set.
 */
static void
check_host(struct loader *L, size_t i, jv stack, jv entry, jv *missing,
    jv *said)
{
	const struct hl_host *h = &L->lab->hosts[i];
	const struct hl_host_info *in = h->info;
	jv env = in->val[K_ENV], secrets = hl_json_get(jv_copy(entry),
	    "secrets"), use = jv_object_get(jv_copy(L->stack_uses),
	    jv_copy(stack)), vars = hl_json_get(use, "vars");
	int it;

	/* An env set but invalid is reported: its names are unknown. */
	if (jv_get_kind(env) != JV_KIND_OBJECT && (in->set & (1ull << K_ENV)))
		goto done;
	if (jv_get_kind(env) != JV_KIND_OBJECT)
		env = jv_object();
	else
		env = jv_copy(env);
	jv_array_foreach(secrets, j, s) {
		struct hl_pos pos;
		char key[512];

		(void)j;
		if (!jv_object_has(jv_copy(env), jv_copy(s))) {
			jv_free(s);
			continue;
		}
		pos = env_pos(L, i, jv_string_value(s));
		snprintf(key, sizeof(key), "%s:%d:%s", pos.file ? pos.file : "",
		    pos.line, jv_string_value(s));
		if (!jv_object_has(jv_copy(*said), jv_string(key))) {
			*said = jv_object_set(*said, jv_string(key), jv_true());
			hl_diag_add(&L->lab->diag, HL_DIAG_ERROR, pos, NULL,
			    "'%s' is set in env, but it is a secret of stack "
			    "'%s' (its stack.yaml): a secret comes from the "
			    "operator's environment at deploy time, never from "
			    "the specs", jv_string_value(s),
			    jv_string_value(stack));
		}
		jv_free(s);
	}
	for (it = jv_object_iter(vars); jv_object_iter_valid(vars, it);
	    it = jv_object_iter_next(vars, it)) {
		jv var = jv_object_iter_key(vars, it);
		jv hosts;

		if (jv_object_has(jv_copy(env), jv_copy(var)) ||
		    has(secrets, jv_copy(var))) {
			jv_free(var);
			continue;
		}
		hosts = jv_getpath(jv_copy(*missing), JV_ARRAY(jv_copy(stack),
		    jv_copy(var)));
		if (jv_get_kind(hosts) != JV_KIND_ARRAY) {
			jv_free(hosts);
			hosts = jv_array();
		}
		hosts = jv_array_append(hosts, jv_string(h->name));
		*missing = jv_setpath(*missing, JV_ARRAY(jv_copy(stack), var),
		    hosts);
	}
	jv_free(env);
done:
	jv_free(vars);
	jv_free(secrets);
}

void
hl_rules_stacks(struct loader *L)
{
	struct hl_lab *lab = L->lab;
	jv missing = jv_object(), used = jv_object(), said = jv_object();
	size_t i;
	int it;

	for (i = 0; i < lab->nhosts; i++) {
		jv stacks = lab->hosts[i].info->val[K_STACKS];

		if (jv_get_kind(stacks) != JV_KIND_ARRAY)
			continue;
		jv_array_foreach(stacks, j, s) {
			jv e = jv_object_get(jv_copy(lab->stacks), jv_copy(s));

			(void)j;
			used = jv_object_set(used, jv_copy(s), jv_true());
			if (jv_is_valid(e))
				check_host(L, i, s, e, &missing, &said);
			jv_free(e);
			jv_free(s);
		}
	}
	report_missing(L, missing);
	for (it = jv_object_iter(L->stack_uses);
	    jv_object_iter_valid(L->stack_uses, it);
	    it = jv_object_iter_next(L->stack_uses, it)) {
		jv name = jv_object_iter_key(L->stack_uses, it);

		if (!jv_object_has(jv_copy(used), jv_copy(name))) {
			struct hl_buf dir = { 0 };

			hl_buf_printf(&dir, "layers/L4/stacks/%s",
			    jv_string_value(name));
			hl_diag_add(&lab->diag, HL_DIAG_WARNING,
			    (struct hl_pos){ hl_buf_str(&dir), 0, 0 }, NULL,
			    "stack '%s' is not used: no host names it in "
			    "'stacks'", jv_string_value(name));
			hl_buf_free(&dir);
		}
		jv_free(name);
	}
	jv_free(missing);
	jv_free(used);
	jv_free(said);
}
