#include <string.h>

#include "spec/check.h"
#include "core/json.h"
#include "spec/select.h"

int
hl_select_check(const char *sel, const char **why)
{
	if (strcmp(sel, "all") == 0)
		return 1;
	if (sel[0] == '@') {
		*why = "a tag selector is @ and a tag name";
		return hl_check_ident(sel + 1);
	}
	if (strncmp(sel, "persona:", 8) == 0) {
		*why = "a persona selector is persona: and a persona name";
		return hl_check_ident(sel + 8);
	}
	*why = "a selector is a host name, @TAG, persona:NAME or all";
	return hl_check_ident(sel);
}

static int
has_tag(const struct hl_host *h, const char *tag)
{
	int i, n = jv_get_kind(h->tags) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(h->tags)) : 0, found = 0;

	for (i = 0; i < n && !found; i++) {
		jv t = jv_array_get(jv_copy(h->tags), i);

		found = strcmp(jv_string_value(t), tag) == 0;
		jv_free(t);
	}
	return found;
}

static int
matches(const struct hl_host *h, const char *sel)
{
	if (strcmp(sel, "all") == 0)
		return 1;
	if (sel[0] == '@')
		return has_tag(h, sel + 1);
	if (strncmp(sel, "persona:", 8) == 0)
		return strcmp(h->persona, sel + 8) == 0;
	return strcmp(h->name, sel) == 0;
}

int
hl_select(const struct hl_lab *lab, char *const *sels, int nsels,
    unsigned char *picked, struct hl_diag *d)
{
	int s, unmatched = 0;
	size_t i;

	if (nsels == 0) {
		memset(picked, 1, lab->nhosts);
		return 0;
	}
	for (s = 0; s < nsels; s++) {
		int hit = 0;

		for (i = 0; i < lab->nhosts; i++)
			if (matches(&lab->hosts[i], sels[s])) {
				picked[i] = 1;
				hit = 1;
			}
		if (!hit) {
			hl_diag_add(d, HL_DIAG_ERROR, (struct hl_pos){ 0 },
			    NULL, "selector '%s' matches no host",
			    sels[s]);
			unmatched++;
		}
	}
	return unmatched;
}
