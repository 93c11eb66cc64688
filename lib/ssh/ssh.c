/* SSH helpers: children without the token, pinned host keys, SFTP (ssh.h). */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ssh/ssh.h"

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
static char dropped[8][128];

void
hl_child_env_drop(const char *name)
{
	for (size_t i = 0; i < sizeof(dropped) / sizeof(*dropped); i++)
		if (dropped[i][0] == '\0' || strcmp(dropped[i], name) == 0) {
			snprintf(dropped[i], sizeof(dropped[i]), "%s", name);
			return;
		}
}

static int
is_dropped(const char *entry)
{
	size_t n;

	if (strncmp(entry, "HL_PVE_", 7) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(dropped) / sizeof(*dropped) &&
	    dropped[i][0]; i++) {
		n = strlen(dropped[i]);
		if (strncmp(entry, dropped[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

char **
hl_child_env(void)
{
	static char *env[512];
	size_t i, n = 0;

	for (i = 0; environ[i] && n + 1 < sizeof(env) / sizeof(*env); i++)
		if (!is_dropped(environ[i]))
			env[n++] = environ[i];
	env[n] = NULL;
	return env;
}

/* Run argv, its stdout (at most 64 KiB) into b; its exit status or -1. */
int
hl_run_capture(char *const argv[], struct hl_buf *b)
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
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, hl_child_env()) != 0) {
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
int
hl_ssh_key_in(const char *scan, const char *pinned)
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


/* known_hosts for t at path: the pinned key line, or the scanned key whose
 * fingerprint is the pinned one. */
static int
known_hosts(const struct hl_ssh_target *t, const char *path, struct hl_err *e)
{
	char port[16], host[300];
	struct hl_buf scan = { 0 }, line = { 0 };
	FILE *f;
	int rc = 0;

	snprintf(port, sizeof(port), "%d", t->port);
	if (t->port == 22)
		snprintf(host, sizeof(host), "%s", t->address);
	else
		snprintf(host, sizeof(host), "[%s]:%d", t->address, t->port);
	if (strncmp(t->host_key, "SHA256:", 7) == 0) {
		char *argv[] = { "ssh-keyscan", "-T", "5", "-p", port, "--",
			(char *)t->address, NULL };
		char *copy, *l, *save = NULL;

		if (hl_run_capture(argv, &scan) < 0 || scan.len == 0) {
			hl_buf_free(&scan);
			return hl_err_set(e, HL_EXIT_REMOTE, "%s port %d: no "
			    "SSH answers", t->address, t->port);
		}
		copy = strdup(hl_buf_str(&scan));
		for (l = copy ? strtok_r(copy, "\n", &save) : NULL; l;
		    l = strtok_r(NULL, "\n", &save))
			if (l[0] != '#' && hl_ssh_key_in(l, t->host_key)) {
				const char *k = strchr(l, ' ');

				hl_buf_printf(&line, "%s %s\n", host, k ? k + 1 :
				    "");
				break;
			}
		free(copy);
	} else {
		hl_buf_printf(&line, "%s %s\n", host, t->host_key);
	}
	hl_buf_free(&scan);
	if (line.len == 0)
		return hl_err_set(e, HL_EXIT_REMOTE, "%s port %d answers with "
		    "another host key than lab.yaml pins", t->address, t->port);
	f = fopen(path, "w");
	if (f == NULL || fputs(hl_buf_str(&line), f) == EOF)
		rc = hl_err_set(e, HL_EXIT_INTERNAL, "%s: %s", path,
		    strerror(errno));
	if (f && fclose(f) != 0 && rc == 0)
		rc = hl_err_set(e, HL_EXIT_INTERNAL, "%s: %s", path,
		    strerror(errno));
	hl_buf_free(&line);
	return rc;
}

int
hl_sftp_put(const struct hl_ssh_target *t, const char *local,
    const char *remote, struct hl_err *e)
{
	char dir[] = "/tmp/hl-sftp.XXXXXX", kh[64], batch[64], port[16],
	    dest[600], khopt[128];
	struct hl_buf out = { 0 };
	FILE *f;
	int rc;

	if (mkdtemp(dir) == NULL)
		return hl_err_set(e, HL_EXIT_INTERNAL, "mkdtemp: %s",
		    strerror(errno));
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	snprintf(batch, sizeof(batch), "%s/batch", dir);
	snprintf(port, sizeof(port), "%d", t->port);
	snprintf(dest, sizeof(dest), "%s@%s", t->user, t->address);
	snprintf(khopt, sizeof(khopt), "UserKnownHostsFile=%s", kh);
	rc = known_hosts(t, kh, e);
	if (rc == 0) {
		f = fopen(batch, "w");
		/* sftp's batch syntax: quoted paths, no shell involved */
		if (f == NULL || fprintf(f, "put \"%s\" \"%s\"\n", local,
		    remote) < 0 || fclose(f) != 0)
			rc = hl_err_set(e, HL_EXIT_INTERNAL, "%s: %s", batch,
			    strerror(errno));
	}
	if (rc == 0) {
		char *argv[24];
		int n = 0;

		argv[n++] = "sftp";
		argv[n++] = "-q";
		argv[n++] = "-b";
		argv[n++] = batch;
		argv[n++] = "-P";
		argv[n++] = port;
		argv[n++] = "-o";
		argv[n++] = "StrictHostKeyChecking=yes";
		argv[n++] = "-o";
		argv[n++] = khopt;
		argv[n++] = "-o";
		argv[n++] = "GlobalKnownHostsFile=/dev/null";
		argv[n++] = "-o";
		argv[n++] = "BatchMode=yes";
		argv[n++] = "-o";
		argv[n++] = "ConnectTimeout=10";
		if (t->identity) {
			argv[n++] = "-i";
			argv[n++] = (char *)t->identity;
		}
		argv[n++] = "--";
		argv[n++] = dest;
		argv[n] = NULL;
		if (hl_run_capture(argv, &out) != 0)
			rc = hl_err_set(e, HL_EXIT_REMOTE, "sftp to %s port %d "
			    "failed: the host key is not the pinned one, or the "
			    "login or the copy to %s was refused", t->address,
			    t->port, remote);
	}
	hl_buf_free(&out);
	unlink(kh);
	unlink(batch);
	rmdir(dir);
	return rc;
}
