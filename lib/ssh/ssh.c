/* SSH helpers: children without the token, pinned host keys, SFTP (ssh.h). */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/file.h"
#include "core/proc.h"
#include "ssh/ssh.h"

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

/* Split s in place into at most n words (blanks between); the count. */
static int
words(char *s, char **w, int n)
{
	char *save = NULL, *t;
	int k = 0;

	for (t = strtok_r(s, " \t\r", &save); t && k < n;
	    t = strtok_r(NULL, " \t\r", &save))
		w[k++] = t;
	return k;
}

/* Whether the scanned lines hold the pinned key (a key line or SHA256:). */
int
hl_ssh_key_in(const char *scan, const char *pinned)
{
	char *copy = strdup(scan), *want = strdup(pinned), *line, *save = NULL;
	char *w[3], *pw[2];
	int found = 0, npw = want ? words(want, pw, 2) : 0;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char fp[160];

		/* ssh-keyscan: "HOST TYPE BASE64" */
		if (line[0] == '#' || words(line, w, 3) != 3)
			continue;
		if (strncmp(pinned, "SHA256:", 7) == 0) {
			key_fingerprint(w[2], fp, sizeof(fp));
			found = strcmp(fp, pinned) == 0;
		} else {
			found = npw == 2 && strcmp(w[1], pw[0]) == 0 &&
			    strcmp(w[2], pw[1]) == 0;
		}
	}
	free(copy);
	free(want);
	return found;
}

int
hl_ssh_keyscan(const struct hl_ssh_target *t, struct hl_buf *scan,
    struct hl_err *e)
{
	char port[16];
	char *argv[] = { "ssh-keyscan", "-T", "5", "-p", port, "-t",
		"ed25519,ecdsa,rsa", "--", (char *)t->address, NULL };
	struct hl_err pe;

	snprintf(port, sizeof(port), "%d", t->port);
	/* a time-out is a host that did not answer: an empty scan */
	if (hl_proc_run(argv, 15, scan, NULL, &pe) < 0 &&
	    pe.reason != HL_E_TIMEOUT)
		return hl_err_copy(e, &pe);
	return 0;
}

int
hl_ssh_pinned_key(const struct hl_ssh_target *t, struct hl_buf *line,
    struct hl_err *e)
{
	struct hl_buf scan = { 0 };

	if (strncmp(t->host_key, "SHA256:", 7) == 0) {
		char *copy, *l, *save = NULL;

		if (hl_ssh_keyscan(t, &scan, e) < 0 || scan.len == 0) {
			hl_buf_free(&scan);
			return hl_err_set(e, HL_E_SSH, "%s port %d: no "
			    "SSH answers", t->address, t->port);
		}
		copy = strdup(hl_buf_str(&scan));
		for (l = copy ? strtok_r(copy, "\n", &save) : NULL; l;
		    l = strtok_r(NULL, "\n", &save))
			if (l[0] != '#' && hl_ssh_key_in(l, t->host_key)) {
				const char *k = strchr(l, ' ');

				hl_buf_printf(line, "%s\n", k ? k + 1 : "");
				break;
			}
		free(copy);
	} else {
		hl_buf_printf(line, "%s\n", t->host_key);
	}
	hl_buf_free(&scan);
	if (line->len == 0)
		return hl_err_set(e, HL_E_SSH, "%s port %d answers with "
		    "another host key than the specs pin", t->address,
		    t->port);
	return 0;
}

/* known_hosts for t at path: the pinned key, under t's address. */
static int
known_hosts(const struct hl_ssh_target *t, const char *path, struct hl_err *e)
{
	struct hl_buf key = { 0 }, line = { 0 };
	int rc;

	rc = hl_ssh_pinned_key(t, &key, e);
	if (rc == 0 && t->port == 22)
		hl_buf_printf(&line, "%s %s", t->address, hl_buf_str(&key));
	else if (rc == 0)
		hl_buf_printf(&line, "[%s]:%d %s", t->address, t->port,
		    hl_buf_str(&key));
	if (rc == 0)
		rc = hl_file_write(path, &line, 0600, e);
	hl_buf_free(&key);
	hl_buf_free(&line);
	return rc;
}

/*
 * Whether path can stand in an sftp batch line as it is: sftp reads its
 * batch with its own quoting, runs a line starting with '!' as a local
 * command and globs remote names, so only plain absolute paths go there.
 */
static int
batch_safe(const char *path)
{
	return path[0] == '/' && strspn(path, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") == strlen(path) &&
	    strstr(path, "/..") == NULL;
}

int
hl_sftp_put(const struct hl_ssh_target *t, const char *local,
    const char *remote, struct hl_err *e)
{
	char dir[] = "/tmp/hl-sftp.XXXXXX", kh[64], batch[64], port[16],
	    dest[600], khopt[128];
	struct hl_buf out = { 0 }, cmd = { 0 };
	struct hl_err pe;
	int rc;

	if (!batch_safe(local) || !batch_safe(remote))
		return hl_err_set(e, HL_E_USAGE, "sftp: '%s' to '%s': only plain "
		    "absolute paths (letters, digits, . _ - /) are copied",
		    local, remote);
	if (mkdtemp(dir) == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "mkdtemp: %s",
		    strerror(errno));
	snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	snprintf(batch, sizeof(batch), "%s/batch", dir);
	snprintf(port, sizeof(port), "%d", t->port);
	snprintf(dest, sizeof(dest), "%s@%s", t->user, t->address);
	snprintf(khopt, sizeof(khopt), "UserKnownHostsFile=%s", kh);
	rc = known_hosts(t, kh, e);
	if (rc == 0) {
		/* sftp's batch syntax: quoted paths, no shell involved; a
		 * name of this process's first, renamed over the file
		 * (OpenSSH's posix-rename): whoever reads it meanwhile (a
		 * guest starting, another upload) sees it whole */
		hl_buf_printf(&cmd, "put \"%s\" \"%s.hl-%ld\"\n"
		    "rename \"%s.hl-%ld\" \"%s\"\n", local, remote,
		    (long)getpid(), remote, (long)getpid(), remote);
		rc = hl_file_write(batch, &cmd, 0600, e);
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
		if (hl_proc_run(argv, 120, NULL, &out, &pe) != 0)
			rc = hl_err_set(e, HL_E_SSH, "sftp to %s port %d "
			    "failed: the host key is not the pinned one, or the "
			    "login or the copy to %s was refused", t->address,
			    t->port, remote);
	}
	hl_buf_free(&out);
	hl_buf_free(&cmd);
	unlink(kh);
	unlink(batch);
	rmdir(dir);
	return rc;
}

int
hl_ssh_check_key(const struct hl_ssh_target *t, struct hl_err *e)
{
	struct hl_buf scan = { 0 };
	int rc = 0;

	if (hl_ssh_keyscan(t, &scan, e) < 0 || scan.len == 0)
		rc = hl_err_set(e, HL_E_SSH, "%s port %d: no SSH answers",
		    t->address, t->port);
	else if (!hl_ssh_key_in(hl_buf_str(&scan), t->host_key))
		rc = hl_err_set(e, HL_E_SSH, "%s port %d answers with another "
		    "host key than lab.yaml pins", t->address, t->port);
	hl_buf_free(&scan);
	return rc;
}
