#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "core/file.h"
#include "spec/sshkey.h"

#define KEYFILE_MAX (64u << 10)

static const char *const key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com", NULL
};

static int
known_type(const char *t, size_t n)
{
	const char *const *k;

	for (k = key_types; *k; k++)
		if (strlen(*k) == n && memcmp(*k, t, n) == 0)
			return 1;
	return 0;
}

/*
 * After the type, a key blob is a run of SSH strings (RFC 4253 6.6) that
 * fill it exactly; an Ed25519 key is one string of 32 bytes.
 */
static int
well_formed(const unsigned char *p, size_t n, const char *type)
{
	size_t count = 0, last = 0;

	while (n > 0) {
		size_t len;

		if (n < 4)
			return 0;
		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];
		if (len > n - 4)
			return 0;
		p += 4 + len;
		n -= 4 + len;
		last = len;
		count++;
	}
	if (strcmp(type, "ssh-ed25519") == 0)
		return count == 1 && last == 32;
	return count >= 1;
}

int
hl_sshkey_check_line(const char *line, const char **why)
{
	const char *type = line, *b64;
	size_t tlen, blen;
	unsigned char *blob = NULL;
	int n, pad = 0, ok = 0;
	unsigned int inner;

	for (b64 = line; *b64; b64++)
		if ((unsigned char)*b64 < ' ' && *b64 != '\t') {
			*why = "has a control character";
			return 0;
		}
	tlen = strcspn(type, " \t");
	if (!known_type(type, tlen)) {
		*why = strncmp(line, "-----BEGIN", 10) == 0 ||
		    strstr(line, "PRIVATE KEY") ? "is a private key, not an "
		    "OpenSSH public key" : "is not an OpenSSH public key "
		    "(expected e.g. 'ssh-ed25519 AAAA... comment')";
		return 0;
	}
	b64 = type + tlen + strspn(type + tlen, " \t");
	blen = strcspn(b64, " \t\r\n");
	if (blen == 0 || blen % 4 != 0 || blen > 16384) {
		*why = "has no valid base64 key after the key type";
		return 0;
	}
	blob = malloc(blen);
	if (blob == NULL) {
		*why = "out of memory";
		return 0;
	}
	n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)blen);
	if (b64[blen - 1] == '=')
		pad++;
	if (b64[blen - 2] == '=')
		pad++;
	n -= pad;
	/* The blob starts with the type again, as an SSH string. */
	if (n < 4) {
		*why = "has no valid base64 key after the key type";
		goto done;
	}
	inner = (unsigned)blob[0] << 24 | (unsigned)blob[1] << 16 |
	    (unsigned)blob[2] << 8 | blob[3];
	if (inner != tlen || (size_t)n < 4 + tlen ||
	    memcmp(blob + 4, type, tlen) != 0) {
		*why = "has a key blob that does not match its key type";
		goto done;
	}
	if (!well_formed(blob + 4 + tlen, (size_t)n - 4 - tlen, type)) {
		*why = "has a truncated or malformed key blob";
		goto done;
	}
	ok = 1;
done:
	free(blob);
	return ok;
}

int
hl_sshkey_check_fingerprint(const char *s)
{
	size_t i;

	if (strncmp(s, "SHA256:", 7) != 0 || strlen(s + 7) != 43)
		return 0;
	for (i = 7; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return 0;
	return 1;
}

int
hl_sshkey_check_file(const char *path, int *line, const char **why)
{
	enum hl_file_status st;
	char *buf = NULL, *p, *next;
	size_t len = 0;
	int keys = 0, n = 0;

	*line = 0;
	st = hl_file_read(path, KEYFILE_MAX, &buf, &len);
	if (st != HL_FILE_OK) {
		*why = st == HL_FILE_TOO_BIG ? "is larger than 64 KiB" :
		    st == HL_FILE_MISSING ? "does not exist" :
		    st == HL_FILE_NOT_REGULAR ? "is not a regular file" :
		    "cannot be read";
		return 0;
	}
	if (memchr(buf, '\0', len)) {
		*why = "holds a NUL byte";
		free(buf);
		return 0;
	}
	for (p = buf; *p; p = next) {
		const char *q;

		next = p + strcspn(p, "\n");
		if (*next)
			*next++ = '\0';
		n++;
		if (next > p && next[-1] == '\0' && p < next - 1 &&
		    next[-2] == '\r')
			next[-2] = '\0';
		q = p + strspn(p, " \t");
		if (*q == '\0' || *q == '#')
			continue;
		if (!hl_sshkey_check_line(q, why)) {
			*line = n;
			free(buf);
			return 0;
		}
		keys++;
	}
	free(buf);
	if (keys == 0)
		*why = "holds no public key";
	return keys;
}
