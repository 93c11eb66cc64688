/*
 * A stack's release for one host (deploy_impl.h): its files, its .env
 * (the host's env for the variables the Compose file uses, and the
 * stack's secrets), and .hl-release.json (what plan compares next time:
 * each file's and env value's hash, the probes a rollback checks), as a
 * tar stream, named by a digest of all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/file.h"
#include "core/json.h"
#include "core/tar.h"
#include "deploy/deploy_impl.h"
#include "spec/lab.h"
#include "spec/spec.h"

#define FILE_MAX (16u << 20)

static void
hex(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
sha256(const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	hex(md, n, out);
}

/* The lab's key for the secrets' HMAC (.hl/deploy-key, 32 random bytes,
 * made on first use, mode 0600). */
static int
lab_key(const char *root, unsigned char key[32], struct hl_err *e)
{
	char *path = hl_lab_path(root, ".hl/deploy-key"), *old = NULL;
	size_t len = 0;
	int rc = -1;

	if (path == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	if (hl_file_read(path, 64, &old, &len) == HL_FILE_OK && len == 32) {
		memcpy(key, old, 32);
		rc = 0;
	} else if (RAND_bytes(key, 32) == 1) {
		struct hl_buf b = { 0 };

		hl_buf_add(&b, (const char *)key, 32);
		rc = hl_file_write(path, &b, 0600, e);
		hl_buf_free(&b);
	} else {
		hl_err_set(e, HL_E_INTERNAL, "no random bytes for .hl/deploy-key");
	}
	free(old);
	free(path);
	return rc;
}

/* The declared probes: [{service, http|tcp|command}]. */
static jv
probes(jv health)
{
	jv out = jv_array();

	if (jv_get_kind(health) == JV_KIND_OBJECT)
		jv_object_foreach(health, svc, p) {
			out = jv_array_append(out, jv_object_set(p,
			    jv_string("service"), svc));
		}
	jv_free(health);
	return out;
}

int
dp_release(const struct hl_lab *lab, jv host, const char *stack,
    struct dp_release *rel, struct hl_err *e)
{
	jv def = hl_json_get(jv_copy(lab->stacks), stack), env =
	    hl_json_get(jv_copy(host), "env"), files, vars, secrets, man;
	jv mfiles = jv_object(), menv = jv_object();
	const char *dir = hl_json_get_str(def, "dir");
	struct hl_buf canon = { 0 }, dotenv = { 0 }, mtext = { 0 };
	unsigned char key[32], mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	char h[65];
	int rc = -1, bad = 0;

	memset(rel, 0, sizeof(*rel));
	rel->manifest = jv_null();
	rel->probes = jv_null();
	files = hl_json_get(jv_copy(def), "files");
	vars = hl_json_get(jv_copy(def), "vars");
	secrets = hl_json_get(jv_copy(def), "secrets");
	if (dir == NULL || jv_get_kind(files) != JV_KIND_ARRAY) {
		hl_err_set(e, HL_E_LAB, "stack %s: not a valid stack", stack);
		goto out;
	}
	if (jv_get_kind(secrets) == JV_KIND_ARRAY &&
	    jv_array_length(jv_copy(secrets)) > 0 &&
	    lab_key(lab->root, key, e) < 0)
		goto out;
	jv_array_foreach(files, i, f) {
		char *path, *data = NULL;
		size_t len = 0;
		struct stat st;
		enum hl_file_status fs;

		if (asprintf(&path, "%s/%s/%s", lab->root, dir,
		    jv_string_value(f)) < 0) {
			hl_err_set(e, HL_E_INTERNAL, "out of memory");
			jv_free(f);
			goto out;
		}
		fs = hl_file_read(path, FILE_MAX, &data, &len);
		if (fs != HL_FILE_OK || stat(path, &st) < 0) {
			hl_err_set(e, HL_E_LAB, "%s/%s %s", dir,
			    jv_string_value(f), hl_file_strerror(fs, errno));
			free(path);
			jv_free(f);
			goto out;
		}
		sha256(data, len, h);
		hl_buf_printf(&canon, "f %s %s\n", jv_string_value(f), h);
		mfiles = jv_object_set(mfiles, jv_copy(f), jv_string(h));
		if (hl_tar_file(&rel->tar, jv_string_value(f), data, len,
		    st.st_mode & 0111 ? 0755 : 0644) < 0)
			bad = hl_err_set(e, HL_E_LAB, "%s/%s: a path too long "
			    "for a release", dir, jv_string_value(f));
		free(data);
		free(path);
		jv_free(f);
		if (bad)
			goto out;
	}
	/* the env the Compose file uses, then its secrets */
	jv_array_foreach(vars, i, v) {
		const char *k = jv_string_value(v);
		jv val = hl_json_get(jv_copy(env), k);

		if (hl_json_str(val)) {
			hl_buf_printf(&dotenv, "%s=%s\n", k, hl_json_str(val));
			sha256(hl_json_str(val), strlen(hl_json_str(val)), h);
			hl_buf_printf(&canon, "e %s %s\n", k, h);
			menv = jv_object_set(menv, jv_copy(v), jv_string(h));
		}
		jv_free(val);
		jv_free(v);
	}
	if (jv_get_kind(secrets) == JV_KIND_ARRAY)
		jv_array_foreach(secrets, i, s) {
			const char *k = jv_string_value(s), *val = getenv(k);

			if (val == NULL) {
				hl_err_set(e, HL_E_LAB, "stack %s needs the secret "
				    "%s from the environment: it is not set",
				    stack, k);
				jv_free(s);
				goto out;
			}
			hl_buf_printf(&dotenv, "%s=%s\n", k, val);
			HMAC(EVP_sha256(), key, 32, (const unsigned char *)val,
			    strlen(val), mac, &mlen);
			hex(mac, mlen, h);
			hl_buf_printf(&canon, "s %s %s\n", k, h);
			menv = jv_object_set(menv, jv_copy(s), jv_string(h));
			jv_free(s);
		}
	sha256(canon.s ? canon.s : "", canon.len, h);
	snprintf(rel->digest, sizeof(rel->digest), "%.20s", h);
	rel->probes = probes(hl_json_get(jv_copy(def), "health"));
	rel->timeout = jv_number_value(hl_json_get(jv_copy(def), "timeout"));
	if (rel->timeout <= 0)
		rel->timeout = 60;
	rel->compose = strdup(hl_json_get_str(def, "compose") ?
	    hl_json_get_str(def, "compose") : "compose.yaml");
	man = jv_object_set(jv_object(), jv_string("digest"),
	    jv_string(rel->digest));
	man = jv_object_set(man, jv_string("stack"), jv_string(stack));
	man = jv_object_set(man, jv_string("compose"), jv_string(rel->compose));
	man = jv_object_set(man, jv_string("probes"), jv_copy(rel->probes));
	man = jv_object_set(man, jv_string("timeout"), jv_number(rel->timeout));
	man = jv_object_set(man, jv_string("files"), mfiles);
	man = jv_object_set(man, jv_string("env"), menv);
	mfiles = menv = jv_null();
	rel->manifest = jv_copy(man);
	man = jv_dump_string(man, JV_PRINT_SORTED);
	hl_buf_adds(&mtext, jv_string_value(man));
	jv_free(man);
	if (hl_tar_file(&rel->tar, ".env", dotenv.s ? dotenv.s : "",
	    dotenv.len, 0600) < 0 || hl_tar_file(&rel->tar, ".hl-release.json",
	    mtext.s, mtext.len, 0644) < 0 || hl_tar_end(&rel->tar) < 0) {
		hl_err_set(e, HL_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	/* the .env held secrets: nothing of it stays in memory */
	if (dotenv.s)
		memset(dotenv.s, 0, dotenv.len);
	hl_buf_free(&dotenv);
	hl_buf_free(&canon);
	hl_buf_free(&mtext);
	memset(key, 0, sizeof(key));
	jv_free(mfiles);
	jv_free(menv);
	jv_free(files);
	jv_free(vars);
	jv_free(secrets);
	jv_free(env);
	jv_free(def);
	if (rc < 0)
		dp_release_free(rel);
	return rc;
}

void
dp_release_free(struct dp_release *rel)
{
	/* the tar holds the .env, and so the secrets */
	if (rel->tar.s)
		memset(rel->tar.s, 0, rel->tar.len);
	hl_buf_free(&rel->tar);
	jv_free(rel->manifest);
	jv_free(rel->probes);
	free(rel->compose);
	memset(rel, 0, sizeof(*rel));
	rel->manifest = jv_null();
	rel->probes = jv_null();
}
