/*
 * One remote command over ssh with the host key pinned (ssh.h): the one
 * place that builds a host's ssh command line (DESIGN.md 2.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proc.h"
#include "ssh/ssh.h"

void
hl_ssh_quote(struct hl_buf *b, const char *s)
{
	hl_buf_adds(b, "'");
	for (; *s; s++)
		if (*s == '\'')
			hl_buf_adds(b, "'\\''");
		else
			hl_buf_add(b, s, 1);
	hl_buf_adds(b, "'");
}

/* The last non-empty line of ssh's stderr, into out (len bytes). */
static void
last_line(const char *text, char *out, size_t len)
{
	const char *end = text + strlen(text), *start;

	while (end > text && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' '))
		end--;
	for (start = end; start > text && start[-1] != '\n'; start--)
		;
	snprintf(out, len, "%.*s", (int)(end - start), start);
	if (out[0] == '\0')
		snprintf(out, len, "no message");
}

/* Why ssh (exit 255) failed, from its stderr. */
static int
ssh_failed(const struct hl_ssh_host *h, const char *err, struct hl_err *e)
{
	char line[300];

	if (strstr(err, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
	    (strstr(err, "Host key verification failed") &&
	    strstr(err, "has changed"))) {
		hl_err_set(e, HL_E_SSH, "%s (%s) answers with another host key "
		    "than .hl/known_hosts holds for it", h->alias, h->address);
		return HL_SSH_BADKEY;
	}
	if (strstr(err, "Host key verification failed")) {
		hl_err_set(e, HL_E_SSH, "%s (%s): .hl/known_hosts holds no key "
		    "for it (hl-vm apply reads a VM's keys)", h->alias,
		    h->address);
		return HL_SSH_BADKEY;
	}
	last_line(err, line, sizeof(line));
	hl_err_set(e, HL_E_SSH, "%s (%s): ssh failed: %s", h->alias,
	    h->address, line);
	return HL_SSH_FAILED;
}

int
hl_ssh_run(const struct hl_ssh_host *h, char *const remote_argv[],
    double timeout_s, struct hl_buf *out, struct hl_err *e)
{
	struct hl_ssh_io io = { .out = out };

	return hl_ssh_run_io(h, remote_argv, &io, timeout_s, e);
}

int
hl_ssh_run_io(const struct hl_ssh_host *h, char *const remote_argv[],
    const struct hl_ssh_io *io, double timeout_s, struct hl_err *e)
{
	struct hl_proc_spec ps = { .timeout_s = timeout_s, .out = io->out,
		.out_cap = io->out_cap, .in = io->in };
	struct hl_buf cmd = { 0 }, err = { 0 }, khopt = { 0 }, alias = { 0 },
	    dest = { 0 }, id = { 0 };
	char port[16], *argv[32];
	struct hl_err pe;
	int n = 0, rc;

	for (int i = 0; remote_argv[i]; i++) {
		if (i > 0)
			hl_buf_adds(&cmd, " ");
		hl_ssh_quote(&cmd, remote_argv[i]);
	}
	snprintf(port, sizeof(port), "%d", h->port > 0 ? h->port : 22);
	hl_buf_printf(&khopt, "UserKnownHostsFile=%s/.hl/known_hosts",
	    h->root);
	hl_buf_printf(&alias, "HostKeyAlias=%s", h->alias);
	hl_buf_printf(&dest, "%s@%s", h->user, h->address);
	if (h->identity)
		hl_buf_adds(&id, h->identity);
	else
		hl_buf_printf(&id, "%s/.hl/id_ed25519", h->root);
	argv[n++] = "ssh";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-i";
	argv[n++] = (char *)hl_buf_str(&id);
	argv[n++] = "-o";
	argv[n++] = "StrictHostKeyChecking=yes";
	argv[n++] = "-o";
	argv[n++] = (char *)hl_buf_str(&khopt);
	argv[n++] = "-o";
	argv[n++] = "GlobalKnownHostsFile=/dev/null";
	argv[n++] = "-o";
	argv[n++] = (char *)hl_buf_str(&alias);
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = "-o";
	argv[n++] = "IdentitiesOnly=yes";
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=5";
	argv[n++] = "--";
	argv[n++] = (char *)hl_buf_str(&dest);
	argv[n++] = (char *)hl_buf_str(&cmd);
	argv[n] = NULL;
	ps.argv = argv;
	ps.err = &err;
	rc = hl_proc_spawn(&ps, &pe);
	if (rc < 0 && pe.reason == HL_E_TIMEOUT)
		hl_err_set(e, HL_E_TIMEOUT, "%s (%s): ssh did not finish within "
		    "%.0f s", h->alias, h->address, timeout_s);
	else if (rc < 0)
		hl_err_copy(e, &pe);
	else if (rc == 255)
		rc = ssh_failed(h, hl_buf_str(&err), e);
	if (io->err && err.len)
		hl_buf_add(io->err, err.s, err.len);
	if (rc < 0 && rc != HL_SSH_BADKEY)
		rc = HL_SSH_FAILED;
	hl_buf_free(&cmd);
	hl_buf_free(&err);
	hl_buf_free(&khopt);
	hl_buf_free(&alias);
	hl_buf_free(&dest);
	hl_buf_free(&id);
	return rc;
}
