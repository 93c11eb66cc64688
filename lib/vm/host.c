/*
 * One host's calls during apply and destroy: progress notes about it, and
 * calls whose task is waited for and retried where that is safe.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fanout.h"
#include "core/json.h"
#include "core/num.h"
#include "core/progress.h"
#include "ssh/known_hosts.h"
#include "state/owner.h"
#include "state/registry.h"
#include "vm/vm.h"
#include "vm/vm_impl.h"

void
vm_note(struct host *x, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_note(x->progress, HL_NOTE_PROGRESS, x->name, "%s", msg);
}

/*
 * A call whose reply may be a task, and that task waited for.  A call that
 * failed without PVE's say (5xx, 595, a dropped connection) may or may
 * not have happened: a config write or resize is sent again (the same
 * values again change nothing), a create-like call only when done() says
 * it did not take effect.  A task that failed is repeated only when it
 * was a write that never got the config lock ("got timeout").
 */
int
vm_task_check(struct host *x, const char *method, const char *path, jv params,
    enum hl_pve_kind kind, int (*done)(struct host *))
{
	jv upid;
	int rc = -1, attempt, status;

	for (attempt = 0; attempt < 4; attempt++) {
		status = 0;
		if (hl_pve_call(x->p, kind, method, path, jv_copy(params),
		    &upid, &status, x->e) == 0) {
			rc = jv_get_kind(upid) == JV_KIND_STRING ?
			    hl_pve_task_wait(x->p, jv_string_value(upid), 0,
			    x->name, x->e) : 0;
			jv_free(upid);
			/* a write whose task never got the config lock
			 * changed nothing: it goes again */
			if (rc == 0 || kind != HL_PVE_WRITE || attempt == 3 ||
			    x->e->reason != HL_E_LOCKED)
				break;
			vm_note(x, "%s %s again after: %s", method, path, x->e->msg);
			hl_sleep(0.2 * (1 << attempt));
			continue;
		}
		jv_free(upid);
		if ((status && status < 500) || x->e->reason == HL_E_TLS ||
		    x->e->reason == HL_E_AUTH || attempt == 3)
			break;
		if (kind == HL_PVE_ONCE && done == NULL)
			break;
		if (kind == HL_PVE_ONCE && done(x)) {
			rc = 0;
			break;
		}
		vm_note(x, "%s %s again after: %s",
		    method, path, x->e->msg);
		hl_sleep(0.2 * (1 << attempt));
	}
	jv_free(params);
	return rc;
}

int
vm_task(struct host *x, const char *method, const char *path, jv params,
    enum hl_pve_kind kind)
{
	return vm_task_check(x, method, path, params, kind, NULL);
}

void
vm_path(struct host *x, char *out, size_t len, const char *rest)
{
	snprintf(out, len, "/nodes/%s/qemu/%d%s", x->node, x->vmid, rest);
}

/* A host's entry when it failed: {action: failed, error}; noted too. */
jv
vm_failed(const struct hl_progress *progress, const char *name,
    const struct hl_err *e)
{
	hl_note(progress, HL_NOTE_ERROR, NULL, "%s", e->msg);
	return jv_object_set(jv_object_set(jv_object(), jv_string("action"),
	    jv_string("failed")), jv_string("error"), hl_json_err(e));
}

