/*
 * What lab.yaml's capture block asks of the hosts, and what the hosts'
 * data and boot_capture ask of it: a key nothing would act on is an error.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "spec/spec_impl.h"

/* The position of lab.yaml's path (".capture.restic.keep"), or at. */
static struct hl_pos
at_path(struct hl_pos_table *pt, const char *path, struct hl_pos at)
{
	hl_pos_get(pt, path, NULL, &at);
	return at;
}

void
hl_rules_capture(struct loader *L, struct hl_pos_table *pt)
{
	struct hl_lab *lab = L->lab;
	jv restic = jv_getpath(jv_copy(lab->spec), JV_ARRAY(
	    jv_string("capture"), jv_string("restic")));
	jv boot = jv_getpath(jv_copy(lab->spec), JV_ARRAY(
	    jv_string("capture"), jv_string("boot")));
	jv keep = hl_json_get(jv_copy(restic), "keep");
	struct hl_pos at = { hl_pos_table_file(pt), 1, 1 };
	const char *repo = hl_json_get_str(restic, "repository");
	int some = 0;

	if (jv_get_kind(keep) == JV_KIND_OBJECT) {
		jv_object_foreach(keep, k, v) {
			some |= jv_get_kind(v) == JV_KIND_NUMBER &&
			    jv_number_value(v) > 0;
			jv_free(k);
			jv_free(v);
		}
		if (!some)
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, at_path(pt,
			    ".capture.restic.keep", at), ".capture.restic.keep",
			    "keep nothing would keep any snapshot: set at least "
			    "one of last, daily, weekly, monthly above 0");
	}
	if (repo && strncmp(repo, "sftp:", 5) == 0) {
		size_t i;

		for (i = 0; i < lab->nhosts; i++)
			if (strcmp(lab->hosts[i].name, repo + 5) == 0)
				break;
		if (i == lab->nhosts)
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, at_path(pt,
			    ".capture.restic.repository", at),
			    ".capture.restic.repository", "repository host "
			    "'%s' is not a host of the lab", repo + 5);
	}
	for (size_t i = 0; i < lab->nhosts; i++) {
		const struct hl_host_info *in = lab->hosts[i].info;
		jv d = in->val[K_DATA];

		if (jv_get_kind(restic) != JV_KIND_OBJECT &&
		    jv_get_kind(d) == JV_KIND_ARRAY && jv_array_length(jv_copy(d)))
			hl_diag_add(&lab->diag, HL_DIAG_ERROR,
			    hl_spec_key_pos(L, i, K_DATA), NULL, "host '%s' "
			    "declares data paths, but nothing captures them: "
			    "lab.yaml has no capture.restic",
			    lab->hosts[i].name);
		if (jv_get_kind(boot) != JV_KIND_OBJECT &&
		    jv_get_kind(in->val[K_BOOT_CAPTURE]) == JV_KIND_TRUE)
			hl_diag_add(&lab->diag, HL_DIAG_ERROR,
			    hl_spec_key_pos(L, i, K_BOOT_CAPTURE), NULL, "host "
			    "'%s' has boot_capture, but lab.yaml has no "
			    "capture.boot (the storage its boot disk goes to)",
			    lab->hosts[i].name);
	}
	/* a template made from a boot capture: of a host whose boot disk
	 * is captured */
	jv_object_foreach(lab->templates, name, t) {
		const char *tpl = jv_string_value(name), *src;
		jv b = jv_getpath(jv_copy(t), JV_ARRAY(jv_string("source"),
		    jv_string("boot_capture")));
		size_t i;

		src = jv_get_kind(b) == JV_KIND_STRING ? jv_string_value(b) :
		    NULL;
		for (i = 0; src && i < lab->nhosts; i++)
			if (strcmp(lab->hosts[i].name, src) == 0)
				break;
		if (src && (i == lab->nhosts || jv_get_kind(lab->hosts[i].info->
		    val[K_BOOT_CAPTURE]) != JV_KIND_TRUE)) {
			char rel[300];
			struct hl_pos tat = { NULL, 0, 0 };

			snprintf(rel, sizeof(rel), "layers/L1/templates/%s.yaml",
			    tpl);
			for (size_t f = 0; f < lab->nfiles; f++)
				if (strcmp(hl_pos_table_file(lab->files[f]),
				    rel) == 0)
					hl_pos_get(lab->files[f],
					    ".source.boot_capture", NULL, &tat);
			hl_diag_add(&lab->diag, HL_DIAG_ERROR, tat,
			    ".source.boot_capture", i == lab->nhosts ? "'%s' "
			    "is not a host of the lab" : "host '%s' has no "
			    "boot_capture: its boot disk is never captured",
			    src);
		}
		jv_free(b);
		jv_free(name);
		jv_free(t);
	}
	jv_free(keep);
	jv_free(restic);
	jv_free(boot);
}
