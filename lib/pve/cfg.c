/* The client's settings: lab.yaml's pve section, the environment, the token. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "pve/pve.h"
#include "spec/spec.h"
#include "core/proc.h"
#include "spec/envfile.h"
#include "spec/lab.h"

#define TOKEN_MAX 4096

/* The lab's pve.a (or pve.a.b) when a string, else NULL. */
static char *
lab_value(jv pve, const char *a, const char *b)
{
	jv x = jv_object_get(jv_copy(pve), jv_string(a));
	char *out = NULL;

	if (b && jv_get_kind(x) == JV_KIND_OBJECT)
		x = jv_object_get(x, jv_string(b));
	if (jv_get_kind(x) == JV_KIND_STRING)
		out = strdup(jv_string_value(x));
	jv_free(x);
	return out;
}

/* The lab's nodes' pinned certificates, "NODE=FP NODE=FP", or NULL when
 * it pins none (a lab identified by its cluster's name). */
static char *
lab_pins(const struct hl_lab *lab)
{
	jv nodes = jv_object_get(jv_copy(lab->spec), jv_string("nodes"));
	struct hl_buf b = { 0 };

	if (jv_get_kind(nodes) == JV_KIND_OBJECT) {
		jv_object_foreach(nodes, k, v) {
			const char *fp = hl_json_get_str(v, "fingerprint");

			if (fp)
				hl_buf_printf(&b, "%s%s=%s", b.len ? " " : "",
				    jv_string_value(k), fp);
			jv_free(k);
			jv_free(v);
		}
	}
	jv_free(nodes);
	if (b.len)
		return b.s;
	hl_buf_free(&b);
	return NULL;
}

/* env when set and not empty, else the lab's value (may be NULL). */
static char *
setting(const char *env, jv pve, const char *a, const char *b)
{
	const char *v = getenv(env);

	return v && *v ? strdup(v) : lab_value(pve, a, b);
}

/* The token in a file only its owner may read: its first line. */
static int
token_file(const char *path, char **token, struct hl_err *e)
{
	struct stat st;
	char buf[TOKEN_MAX + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return hl_err_set(e, HL_E_AUTH, "the token file '%s': %s",
		    path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hl_err_set(e, HL_E_AUTH, "the token file '%s' is "
		    "not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return hl_err_set(e, HL_E_AUTH, "the token file '%s' may "
		    "be read by others (mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n > TOKEN_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return hl_err_set(e, HL_E_AUTH, "the token file '%s' "
		    "cannot be read or is too long", path);
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*token = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* "USER@REALM!ID=SECRET": checked for shape, never printed. */
static int
token_ok(const char *t)
{
	const char *at = strchr(t, '@'), *bang = strchr(t, '!'),
	    *eq = strrchr(t, '=');

	for (const char *c = t; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return 0;
	return at && bang && eq && at < bang && bang < eq && eq[1];
}

/* When the endpoint is the one the simulator wrote to .hl/sim.env, an
 * unreachable endpoint is most likely a stopped simulator: say so. */
static const char *
sim_hint(const struct hl_lab *lab, const char *endpoint)
{
	char *path = hl_lab_path(lab->root, ".hl/sim.env"), *val = NULL;
	struct hl_err e;
	const char *hint = NULL;

	if (path && hl_envfile_get(path, "HL_PVE_ENDPOINT", &val, &e) == 0 &&
	    strcmp(val, endpoint) == 0)
		hint = "is the simulator running? just lab-up";
	free(val);
	free(path);
	return hint;
}

int
hl_pve_cfg_load(struct hl_pve_cfg *c, const struct hl_lab *lab,
    struct hl_err *e)
{
	jv pve = jv_object_get(jv_copy(lab->spec), jv_string("pve"));
	const char *var, *file;
	char *env, *labfile;

	memset(c, 0, sizeof(*c));
	if (jv_get_kind(pve) != JV_KIND_OBJECT) {
		jv_free(pve);
		pve = jv_object();
	}
	c->endpoint = setting("HL_PVE_ENDPOINT", pve, "endpoint", NULL);
	c->cafile = setting("HL_PVE_CAFILE", pve, "tls", "ca_file");
	c->fingerprint = setting("HL_PVE_FINGERPRINT", pve, "tls",
	    "fingerprint");
	c->cluster = lab_value(pve, "cluster", NULL);
	c->pins = lab_pins(lab);
	env = lab_value(pve, "token_env", NULL);
	labfile = lab_value(pve, "token_file", NULL);
	jv_free(pve);
	if (c->cafile) {
		char *abs = hl_lab_path(lab->root, c->cafile);

		if (abs) {
			free(c->cafile);
			c->cafile = abs;
		}
	}
	if (c->endpoint == NULL) {
		hl_err_set(e, HL_E_LAB, "no Proxmox endpoint: lab.yaml "
		    "pve.endpoint is unset (is the simulator running?) and "
		    "HL_PVE_ENDPOINT is empty");
		goto fail;
	}
	c->hint = sim_hint(lab, c->endpoint);
	var = env ? env : "HL_PVE_TOKEN";
	hl_child_env_drop(var);
	file = getenv("HL_PVE_TOKEN_FILE");
	if (getenv(var) && *getenv(var)) {
		c->token = strdup(getenv(var));
	} else if ((file && *file) || labfile) {
		/* HL_PVE_TOKEN_FILE, else lab.yaml's pve.token_file (below
		 * .hl/, as the simulator writes it) */
		char *path = file && *file ? strdup(file) :
		    hl_lab_path(lab->root, labfile);
		int rc = path ? token_file(path, &c->token, e) :
		    hl_err_set(e, HL_E_INTERNAL, "out of memory");

		free(path);
		if (rc < 0)
			goto fail;
	} else {
		hl_err_set(e, HL_E_AUTH, "no API token: set %s or "
		    "HL_PVE_TOKEN_FILE, or name a file in lab.yaml's "
		    "pve.token_file", var);
		goto fail;
	}
	if (c->token == NULL || !token_ok(c->token)) {
		hl_err_set(e, HL_E_AUTH, "the API token is not of the form "
		    "USER@REALM!TOKENID=SECRET");
		goto fail;
	}
	free(env);
	free(labfile);
	return 0;
fail:
	free(env);
	free(labfile);
	hl_pve_cfg_free(c);
	return -1;
}

void
hl_pve_cfg_free(struct hl_pve_cfg *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->endpoint);
	free(c->cafile);
	free(c->fingerprint);
	free(c->cluster);
	free(c->pins);
	memset(c, 0, sizeof(*c));
}

int
hl_pve_connect(struct hl_pve **p, const struct hl_lab *lab, int insecure,
    const struct hl_progress *progress, struct hl_err *e)
{
	struct hl_pve_cfg cfg;
	int rc;

	*p = NULL;
	if (hl_pve_cfg_load(&cfg, lab, e) < 0)
		return -1;
	cfg.insecure = insecure;
	cfg.progress = progress;
	rc = hl_pve_open(p, &cfg, e);	/* the client keeps its own copy */
	hl_pve_cfg_free(&cfg);
	return rc;
}
