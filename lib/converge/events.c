/*
 * Ansible's run as it happens (ansible.posix.jsonl: one event a line) read
 * into per-host results: counts, the tasks that changed or failed, in
 * check mode the drift with its diff, and progress notes.  hl's own tasks
 * (the version, the roles' include, the commit record: every task that is
 * not a role's) are read but not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "converge/converge_impl.h"
#include "core/clock.h"
#include "core/json.h"

static const char *const counters[] = { "ok", "changed", "failed",
	"unreachable", "skipped" };

jv
cv_host_new(const char *name)
{
	jv h = jv_object_set(jv_object(), jv_string("name"), jv_string(name));
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(*counters); i++)
		h = jv_object_set(h, jv_string(counters[i]), jv_number(0));
	h = jv_object_set(h, jv_string("duration_s"), jv_number(0));
	h = jv_object_set(h, jv_string("changed_tasks"), jv_array());
	h = jv_object_set(h, jv_string("failed_tasks"), jv_array());
	return h;
}

void
cv_events_init(struct cv_events *ev, jv names)
{
	ev->hosts = jv_object();
	jv_array_foreach(names, i, n) {
		ev->hosts = jv_object_set(ev->hosts, jv_copy(n),
		    cv_host_new(jv_string_value(n)));
		jv_free(n);
	}
	jv_free(names);
	ev->task = jv_null();
	ev->version = jv_null();
	ev->t0 = hl_clock();
}

void
cv_events_free(struct cv_events *ev)
{
	jv_free(ev->hosts);
	jv_free(ev->task);
	jv_free(ev->version);
}

/*
 * {role, task, hl, handler} from a task event's task: the role from its
 * path (.../roles/NAME/tasks/...), its name without the "ROLE : " Ansible
 * puts before a role's task names.
 */
static jv
task_of(const struct cv_events *ev, jv t, int handler)
{
	const char *name = hl_json_get_str(t, "name"), *path =
	    hl_json_get_str(t, "path"), *r;
	char role[128] = "";
	size_t n;
	jv out;

	if (name == NULL)
		name = "";
	if (path && (r = strstr(path, "/roles/")) != NULL) {
		r += 7;
		n = strcspn(r, "/");
		if (n < sizeof(role))
			snprintf(role, sizeof(role), "%.*s", (int)n, r);
	}
	n = strlen(role);
	if (n && strncmp(name, role, n) == 0 && strncmp(name + n, " : ", 3) == 0)
		name += n + 3;
	out = jv_object_set(jv_object(), jv_string("role"), n ? jv_string(role)
	    : jv_null());
	out = jv_object_set(out, jv_string("task"), jv_string(name));
	/* hl's playbook is JSON: Ansible knows no line in it, no path */
	out = jv_object_set(out, jv_string("hl"), jv_bool(n == 0));
	out = jv_object_set(out, jv_string("handler"), jv_bool(handler));
	jv_free(t);
	return out;
}

static jv
bump(jv h, const char *key)
{
	double n = jv_number_value(hl_json_get(jv_copy(h), key));

	return jv_object_set(h, jv_string(key), jv_number(n + 1));
}

static jv
append(jv h, const char *key, jv item)
{
	jv a = hl_json_get(jv_copy(h), key);

	if (jv_get_kind(a) != JV_KIND_ARRAY) {
		jv_free(a);
		a = jv_array();
	}
	return jv_object_set(h, jv_string(key), jv_array_append(a, item));
}

/* What a failed or unreachable result says: its msg, with a command's
 * stderr when the msg is only "non-zero return code". */
static jv
message(jv r)
{
	const char *msg = hl_json_get_str(r, "msg"), *err =
	    hl_json_get_str(r, "stderr");
	char b[2048];

	if (msg == NULL)
		msg = "failed";
	jv out;

	if (err && *err && strcmp(msg, "non-zero return code") == 0) {
		snprintf(b, sizeof(b), "%s: %s", msg, err);
		out = jv_string(b);
	} else {
		out = jv_string(msg);
	}
	jv_free(r);
	return out;
}

/* Why a host was not reached, in one line: a changed host key said as
 * such (ssh's banner says it in twenty), else ssh's last line. */
static jv
unreachable_why(jv r)
{
	const char *msg = hl_json_get_str(r, "msg"), *last;
	jv out;

	if (msg && (strstr(msg, "Host key verification failed") ||
	    strstr(msg, "IDENTIFICATION HAS CHANGED")))
		out = jv_string("its host key is not the one in .hl/known_hosts:"
		    " the VM may have been rebuilt outside hl (hl-vm status)");
	else if (msg) {
		size_t n = strlen(msg);

		while (n > 0 && strchr("\r\n", msg[n - 1]))
			n--;
		for (last = msg + n; last > msg && last[-1] != '\n'; last--)
			;
		out = jv_string_fmt("%.*s", (int)(msg + n - last), last);
	} else
		out = jv_string("no answer");
	jv_free(r);
	return out;
}

/* {role, task} of the current task. */
static jv
task_item(const struct cv_events *ev)
{
	return jv_object_set(jv_object_set(jv_object(), jv_string("role"),
	    hl_json_get(jv_copy(ev->task), "role")), jv_string("task"),
	    hl_json_get(jv_copy(ev->task), "task"));
}

static const char *
where(const struct cv_events *ev, char *b, size_t len)
{
	const char *role = hl_json_get_str(ev->task, "role"),
	    *task = hl_json_get_str(ev->task, "task");

	snprintf(b, len, "%s%s%s", role ? role : "", role ? ": " : "",
	    task ? task : "");
	return b;
}

/* One host's result of the current task. */
static void
result(struct cv_events *ev, const char *event, const char *host, jv r)
{
	jv h = hl_json_get(jv_copy(ev->hosts), host);
	int hl = hl_json_get_kind(ev->task, "hl") == JV_KIND_TRUE;
	int handler = hl_json_get_kind(ev->task, "handler") == JV_KIND_TRUE;
	char b[600];

	if (jv_get_kind(h) != JV_KIND_OBJECT) {
		jv_free(h);
		h = cv_host_new(host);
	}
	h = jv_object_set(h, jv_string("duration_s"), jv_number(
	    (double)(long)((hl_clock() - ev->t0) * 10 + 0.5) / 10));
	if (strcmp(event, "v2_runner_on_unreachable") == 0) {
		/* hl's tasks too: a host lost at the end was not converged */
		jv why = unreachable_why(jv_copy(r));

		h = jv_object_set(h, jv_string("unreachable"), jv_number(1));
		hl_note(ev->progress, HL_NOTE_ERROR, host, "unreachable: %s",
		    jv_string_value(why));
		h = jv_object_set(h, jv_string("unreachable_msg"), why);
	} else if (hl) {
		if (jv_get_kind(ev->version) == JV_KIND_NULL &&
		    hl_json_get_str(r, "msg") &&
		    strstr(hl_json_get_str(ev->task, "task"), "version"))
			ev->version = jv_string(hl_json_get_str(r, "msg"));
	} else if (strcmp(event, "v2_runner_on_ok") == 0) {
		h = bump(h, "ok");
		if (hl_json_get_kind(r, "changed") == JV_KIND_TRUE) {
			h = bump(h, "changed");
			h = append(h, "changed_tasks", task_item(ev));
			if (ev->check && !handler)
				h = append(h, "drift", jv_object_set(
				    task_item(ev), jv_string("diff"),
				    hl_json_get(jv_copy(r), "diff")));
			hl_note(ev->progress, HL_NOTE_PROGRESS, host, "%s: %s",
			    ev->check ? "would change" : "changed",
			    where(ev, b, sizeof(b)));
		}
	} else if (strcmp(event, "v2_runner_on_failed") == 0) {
		jv msg = message(jv_copy(r));

		h = bump(h, "failed");
		hl_note(ev->progress, HL_NOTE_ERROR, host, "failed: %s: %s",
		    where(ev, b, sizeof(b)), jv_string_value(msg));
		h = append(h, "failed_tasks", jv_object_set(task_item(ev),
		    jv_string("msg"), msg));
	} else if (strcmp(event, "v2_runner_on_skipped") == 0) {
		h = bump(h, "skipped");
	}
	ev->hosts = jv_object_set(ev->hosts, jv_string(host), h);
	jv_free(r);
}

void
cv_event_line(void *ctx, const char *line, size_t len)
{
	struct cv_events *ev = ctx;
	jv d = jv_parse_sized(line, (int)len);
	const char *event = jv_is_valid(d) ? hl_json_get_str(d, "_event") :
	    NULL;
	char b[600];

	if (event == NULL)
		;	/* not an event: a warning Ansible printed */
	else if (strcmp(event, "v2_playbook_on_play_start") == 0)
		ev->t0 = hl_clock();
	else if (strcmp(event, "v2_playbook_on_task_start") == 0 ||
	    strcmp(event, "v2_playbook_on_handler_task_start") == 0) {
		jv_free(ev->task);
		ev->task = task_of(ev, hl_json_get(jv_copy(d), "task"),
		    strstr(event, "handler") != NULL);
		if (hl_json_get_kind(ev->task, "hl") != JV_KIND_TRUE &&
		    hl_json_get_kind(ev->task, "role") != JV_KIND_NULL)
			hl_note(ev->progress, HL_NOTE_PROGRESS, NULL, "%s%s",
			    hl_json_get_kind(ev->task, "handler") ==
			    JV_KIND_TRUE ? "handler " : "",
			    where(ev, b, sizeof(b)));
	} else if (strncmp(event, "v2_runner_on_", 13) == 0) {
		jv hosts = hl_json_get(jv_copy(d), "hosts");

		if (jv_get_kind(hosts) == JV_KIND_OBJECT)
			jv_object_foreach(hosts, name, r) {
				result(ev, event, jv_string_value(name), r);
				jv_free(name);
			}
		jv_free(hosts);
	}
	jv_free(d);
}
