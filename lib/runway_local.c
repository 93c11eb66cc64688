/*
 * Runway's checks off the API: each node's SSH answers with the host key
 * lab.yaml pins (ssh-keyscan, run without a shell), and the local tools
 * later layers need are on PATH.  Both only warn: L1's prepare step and
 * L3 need them, the API layers do not.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "json.h"
#include "runway_impl.h"

extern char **environ;

/* "SHA256:..." of a base64 key blob, as ssh-keygen -l prints it. */
static void
key_fingerprint(const char *b64, char *out, size_t len)
{
	unsigned char raw[8192], md[EVP_MAX_MD_SIZE], enc[100];
	unsigned n = 0;
	int k = EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)strlen(b64));
	size_t pad = 0, l = strlen(b64);

	out[0] = '\0';
	if (k < 0 || l > 10000)
		return;
	while (l > 0 && b64[--l] == '=')
		pad++;
	EVP_Digest(raw, (size_t)k - pad, md, &n, EVP_sha256(), NULL);
	EVP_EncodeBlock(enc, md, (int)n);
	enc[strcspn((char *)enc, "=")] = '\0';
	snprintf(out, len, "SHA256:%s", enc);
}

/* The environment without HL_PVE_* (the token among them): a child's. */
static char **
child_env(void)
{
	static char *env[512];
	size_t i, n = 0;

	for (i = 0; environ[i] && n + 1 < sizeof(env) / sizeof(*env); i++)
		if (strncmp(environ[i], "HL_PVE_", 7) != 0)
			env[n++] = environ[i];
	env[n] = NULL;
	return env;
}

/* Run argv, its stdout (at most 64 KiB) into b; its exit status or -1. */
static int
capture(char *const argv[], struct hl_buf *b)
{
	posix_spawn_file_actions_t fa;
	int fds[2], st = -1;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	if (pipe(fds) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, child_env()) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		if (b->len < (64u << 10))
			hl_buf_add(b, buf, (size_t)n);
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the scanned lines hold the pinned key (a key line or SHA256:). */
static int
key_matches(const char *scan, const char *pinned)
{
	char *copy = strdup(scan), *line, *save = NULL;
	int found = 0;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char host[256], type[64], blob[8200], fp[160];

		if (line[0] == '#' || sscanf(line, "%255s %63s %8199s", host,
		    type, blob) != 3)
			continue;
		if (strncmp(pinned, "SHA256:", 7) == 0) {
			key_fingerprint(blob, fp, sizeof(fp));
			found = strcmp(fp, pinned) == 0;
		} else {
			char want_type[64], want_blob[8200];

			found = sscanf(pinned, "%63s %8199s", want_type,
			    want_blob) == 2 && strcmp(type, want_type) == 0 &&
			    strcmp(blob, want_blob) == 0;
		}
	}
	free(copy);
	return found;
}

void
rw_ssh_checks(struct rw *c)
{
	jv nodes = hl_json_get(jv_copy(c->lab->spec), "nodes"),
	    used = jv_array();

	jv_array_foreach(c->hosts, i, h) {
		const char *n = hl_json_get_str(h, "node");
		int seen = 0;

		jv_array_foreach(used, k, u) {
			seen |= n && strcmp(jv_string_value(u), n) == 0;
			jv_free(u);
		}
		if (n && !seen)
			used = jv_array_append(used, jv_string(n));
		jv_free(h);
	}
	jv_array_foreach(used, i, n) {
		const char *node = jv_string_value(n);
		jv ssh = hl_json_get(hl_json_get(jv_copy(nodes), node), "ssh");
		const char *addr = hl_json_get_str(ssh, "address"),
		    *key = hl_json_get_str(ssh, "host_key");
		jv portv = hl_json_get(jv_copy(ssh), "port");
		char id[300], port[16];
		struct hl_buf out = { 0 };
		double pn = 22;

		hl_pve_num(portv, &pn);
		jv_free(portv);
		snprintf(port, sizeof(port), "%.0f", pn);
		snprintf(id, sizeof(id), "ssh:%s", node);
		if (!addr || !key) {
			rw_add(c, id, "warn", jv_null(), "lab.yaml gives node %s "
			    "no SSH address or host key", node);
		} else {
			char *argv[] = { "ssh-keyscan", "-T", "5", "-p", port,
				"-t", "ed25519,ecdsa,rsa", "--", (char *)addr,
				NULL };
			int rc = capture(argv, &out);

			if (rc < 0)
				rw_add(c, id, "warn", jv_null(), "ssh-keyscan is "
				    "not installed: node %s's SSH not checked",
				    node);
			else if (out.len == 0)
				rw_add(c, id, "warn", jv_null(), "node %s's SSH "
				    "at %s port %s does not answer (hl-template "
				    "needs it for snippets)", node, addr, port);
			else if (!key_matches(hl_buf_str(&out), key))
				rw_add(c, id, "warn", jv_null(), "node %s's SSH "
				    "at %s port %s answers with another host "
				    "key than lab.yaml pins", node, addr, port);
			else
				rw_add(c, id, "ok", jv_null(), "node %s's SSH "
				    "answers with the pinned host key", node);
		}
		hl_buf_free(&out);
		jv_free(ssh);
		jv_free(n);
	}
	jv_free(used);
	jv_free(nodes);
}

/* Whether name is an executable file in a PATH directory. */
static int
on_path(const char *name)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin"), *d, *save = NULL;
	int found = 0;

	for (d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
	    d = strtok_r(NULL, ":", &save)) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", *d ? d : ".", name);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

void
rw_tool_checks(struct rw *c)
{
	static const struct {
		const char *tool, *why;
	} tools[] = {
		{ "ssh", "L3, L4 and capture reach hosts over SSH" },
		{ "ansible-playbook", "L3 converges hosts with Ansible" },
	};
	size_t i;
	char id[64];

	for (i = 0; i < sizeof(tools) / sizeof(*tools); i++) {
		snprintf(id, sizeof(id), "tool:%s", tools[i].tool);
		if (on_path(tools[i].tool))
			rw_add(c, id, "ok", jv_null(), "%s is installed",
			    tools[i].tool);
		else
			rw_add(c, id, "warn", jv_null(), "%s is not on PATH: %s",
			    tools[i].tool, tools[i].why);
	}
}
