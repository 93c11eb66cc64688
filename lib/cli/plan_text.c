/*
 * hl-vm plan for a person at a terminal (run.h): the plan document read
 * back as a diff, the way Terraform shows one.  It goes to stderr, beside
 * the progress lines; stdout keeps its one JSON document.
 *
 *   + web03  create on pve1 as 103: debian-12 stable (art-2), 2 cores, ...
 *   ~ web01  update (101 on pve1)
 *       cores       2 -> 4  (at the next reboot)
 *   ! db01   blocked: the declared disk is smaller than the VM's
 *   Plan: 1 to create, 1 to update, 1 blocked, 2 unchanged.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "cli/run.h"

int
hl_run_human(const struct hl_run *r)
{
	return !(r->flags & HL_RUN_PROGRESS_JSON) && isatty(STDERR_FILENO);
}

/* A value as a person reads it: strings bare, null as "(none)". */
static void
value(struct hl_buf *b, jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING) {
		hl_buf_printf(b, "%s", jv_string_value(v));
	} else if (jv_get_kind(v) == JV_KIND_NULL ||
	    jv_get_kind(v) == JV_KIND_INVALID) {
		hl_buf_printf(b, "(none)");
	} else {
		jv s = jv_dump_string(jv_copy(v), 0);

		hl_buf_printf(b, "%s", jv_string_value(s));
		jv_free(s);
	}
	jv_free(v);
}

/* ", LABEL VALUE" for a member of o that is there and not null. */
static void
part(struct hl_buf *b, jv o, const char *key, const char *fmt)
{
	jv v = hl_json_get(jv_copy(o), key);

	if (jv_get_kind(v) == JV_KIND_NUMBER)
		hl_buf_printf(b, fmt, jv_number_value(v));
	else if (jv_get_kind(v) == JV_KIND_STRING)
		hl_buf_printf(b, fmt, jv_string_value(v));
	jv_free(v);
}

static void
creates(struct hl_buf *b, jv c)
{
	const char *art = hl_json_get_str(c, "artifact");

	part(b, c, "node", " on %s");
	part(b, c, "vmid", " as %.0f");
	hl_buf_printf(b, ":");
	part(b, c, "template", " %s");
	part(b, c, "channel", " %s");
	hl_buf_printf(b, " (%s)", art ? art : "nothing promoted on the node");
	part(b, c, "cores", ", %.0f cores");
	part(b, c, "memory_mib", ", %.0f MiB");
	part(b, c, "disk_gib", ", %.0f GiB disk");
	part(b, c, "bridge", ", %s");
	part(b, c, "ip", ", %s");
	if (hl_json_get_str(c, "power") &&
	    strcmp(hl_json_get_str(c, "power"), "stopped") == 0)
		hl_buf_printf(b, ", left stopped");
	jv_free(c);
}

static void
changes(struct hl_buf *b, jv list)
{
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		return;
	}
	jv_array_foreach(list, i, ch) {
		const char *field = hl_json_get_str(ch, "field");

		hl_buf_printf(b, "      %-14s ", field ? field : "?");
		value(b, hl_json_get(jv_copy(ch), "from"));
		hl_buf_printf(b, " -> ");
		value(b, hl_json_get(jv_copy(ch), "to"));
		if (hl_json_get_kind(ch, "pending") == JV_KIND_TRUE)
			hl_buf_printf(b, "  (set; the VM takes it at its next "
			    "boot)");
		else if (hl_json_get_kind(ch, "reboot_needed") == JV_KIND_TRUE)
			hl_buf_printf(b, "  (at the next reboot)");
		if (hl_json_get_kind(ch, "rotates_host_keys") == JV_KIND_TRUE)
			hl_buf_printf(b, "  (new host keys)");
		hl_buf_printf(b, "\n");
		jv_free(ch);
	}
	jv_free(list);
}

void
hl_run_plan_text(FILE *f, jv doc)
{
	jv hosts = hl_json_get(jv_copy(doc), "hosts");
	struct hl_buf b = { 0 };
	int n_create = 0, n_update = 0, n_blocked = 0, n_noop = 0;

	if (jv_get_kind(hosts) != JV_KIND_ARRAY) {
		jv_free(hosts);
		return;
	}
	jv_array_foreach(hosts, i, h) {
		const char *name = hl_json_get_str(h, "name"),
		    *action = hl_json_get_str(h, "action"),
		    *reason = hl_json_get_str(h, "reason"),
		    *drift = hl_json_get_str(h, "template_drift");

		if (name == NULL || action == NULL) {
			jv_free(h);
			continue;
		}
		if (strcmp(action, "create") == 0) {
			n_create++;
			hl_buf_printf(&b, "  + %-12s create", name);
			if (hl_json_get_kind(h, "resume") == JV_KIND_TRUE)
				hl_buf_printf(&b, " (resumes a VM an earlier "
				    "run left half-made)");
			creates(&b, hl_json_get(jv_copy(h), "creates"));
			hl_buf_printf(&b, "\n");
		} else if (strcmp(action, "update") == 0) {
			n_update++;
			hl_buf_printf(&b, "  ~ %-12s update", name);
			part(&b, h, "vmid", " (%.0f");
			part(&b, h, "node", " on %s");
			hl_buf_printf(&b, ")\n");
			changes(&b, hl_json_get(jv_copy(h), "changes"));
		} else if (strcmp(action, "blocked") == 0) {
			n_blocked++;
			hl_buf_printf(&b, "  ! %-12s blocked: %s\n", name,
			    reason ? reason : "");
		} else {
			n_noop++;
		}
		if (drift)
			hl_buf_printf(&b, "    %-12s note: %s\n", "", drift);
		jv_free(h);
	}
	jv_free(hosts);
	if (n_create + n_update + n_blocked == 0)
		hl_buf_printf(&b, "No changes: %d host%s as declared.\n",
		    n_noop, n_noop == 1 ? "" : "s");
	else
		hl_buf_printf(&b, "Plan: %d to create, %d to update, %d "
		    "blocked, %d unchanged.\n", n_create, n_update, n_blocked,
		    n_noop);
	fputs(hl_buf_str(&b), f);
	fflush(f);
	hl_buf_free(&b);
}
