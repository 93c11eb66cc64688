#include <stdio.h>
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

/* Keep the candidate nearest to want (by edit distance), if near enough:
 * one typo in a short name, two in a longer one. */
static void
nearer(const char *want, const char *cand, const char **best, size_t *bestd)
{
	size_t d = hl_check_distance(want, cand);

	if (d < *bestd && d < strlen(cand)) {
		*bestd = d;
		*best = cand;
	}
}

/* The selector a near miss of sel would be, or NULL: a host name, a tag or
 * a persona of the lab, in sel's own form. */
static const char *
did_you_mean(const struct hl_lab *lab, const char *sel, char *out,
    size_t len)
{
	const char *want = sel, *best = NULL, *form = "";
	size_t i, bestd;

	if (sel[0] == '@') {
		want = sel + 1;
		form = "@";
	} else if (strncmp(sel, "persona:", 8) == 0) {
		want = sel + 8;
		form = "persona:";
	}
	bestd = strlen(want) <= 5 ? 2 : 3;
	for (i = 0; i < lab->nhosts; i++) {
		const struct hl_host *h = &lab->hosts[i];

		if (*form == '\0')
			nearer(want, h->name, &best, &bestd);
		else if (*form == 'p')
			nearer(want, h->persona, &best, &bestd);
		else if (jv_get_kind(h->tags) == JV_KIND_ARRAY)
			jv_array_foreach(h->tags, k, t) {
				/* the tag lives on in h->tags */
				nearer(want, jv_string_value(t), &best, &bestd);
				jv_free(t);
			}
	}
	if (best == NULL)
		return NULL;
	snprintf(out, len, "%s%s", form, best);
	return out;
}

int
hl_select(const struct hl_lab *lab, char *const *sels, int nsels,
    unsigned char *picked, struct hl_buf *why)
{
	int s, unmatched = 0;
	size_t i;

	if (nsels == 0) {
		memset(picked, 1, lab->nhosts);
		return 0;
	}
	for (s = 0; s < nsels; s++) {
		char near[200];
		const char *hint;
		int hit = 0;

		for (i = 0; i < lab->nhosts; i++)
			if (matches(&lab->hosts[i], sels[s])) {
				picked[i] = 1;
				hit = 1;
			}
		if (hit)
			continue;
		hint = did_you_mean(lab, sels[s], near, sizeof(near));
		hl_buf_printf(why, "%sselector '%s' matches no host%s%s%s",
		    unmatched ? "; " : "", sels[s], hint ? " (did you mean '" :
		    "", hint ? hint : "", hint ? "'?)" : "");
		unmatched++;
	}
	return unmatched;
}
