/*
 * restic and the guard's marker on a host, over ssh (capture_impl.h).
 * Every remote command is an argv hl_ssh_run_io quotes; the password is
 * only ever restic's stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture_impl.h"
#include "core/json.h"
#include "spec/spec.h"
#include "ssh/ssh.h"

#define OUT_MAX (16u << 20)

char **
cp_argv(const char *interp, const char *script, const char *arg0, jv args)
{
	int n = jv_get_kind(args) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(args)) : 0;
	char **argv = calloc((size_t)n + 7, sizeof(*argv));

	if (argv == NULL)
		return NULL;
	argv[0] = "sudo";
	argv[1] = "-n";
	argv[2] = (char *)interp;
	argv[3] = "-c";
	argv[4] = (char *)script;
	argv[5] = (char *)arg0;
	/* args (borrowed) holds the strings argv points into */
	for (int i = 0; i < n; i++) {
		jv a = jv_array_get(jv_copy(args), i);

		argv[6 + i] = (char *)(hl_json_str(a) ? hl_json_str(a) : "");
		jv_free(a);
	}
	return argv;
}

int
cp_sh(struct cp_host *h, const char *script, jv args,
    const struct hl_buf *in, struct hl_buf *out, struct hl_err *e)
{
	return cp_sh_within(h, script, args, in, out, CP_SH_TIMEOUT, e);
}

int
cp_sh_within(struct cp_host *h, const char *script, jv args,
    const struct hl_buf *in, struct hl_buf *out, double timeout,
    struct hl_err *e)
{
	char **argv = cp_argv("sh", script, "sh", args);
	struct hl_buf err = { 0 };
	struct hl_ssh_io io = { .in = in, .out = out, .out_cap = OUT_MAX,
		.err = &err };
	int rc;

	if (argv == NULL)
		return hl_err_set(e, HL_E_INTERNAL, "out of memory");
	rc = hl_ssh_run_io(&h->reach.ssh, argv, &io, timeout, e);
	if (rc > 0 && err.len) {
		char why[300];

		hl_err_set(e, HL_E_FAILED, "%s: %s", h->name, cp_why(&err, why,
		    sizeof(why)));
	}
	hl_buf_free(&err);
	free(argv);
	return rc;
}

int
cp_no_repository(const struct hl_buf *err)
{
	const char *s = hl_buf_str(err);

	return strstr(s, "Is there a repository at the following location?") ||
	    strstr(s, "unable to open config file") ||
	    strstr(s, "repository does not exist");
}

const char *
cp_why(const struct hl_buf *err, char *buf, size_t len)
{
	const char *s = hl_buf_str(err), *fatal = NULL, *p;
	size_t n;

	if (cp_no_repository(err)) {
		snprintf(buf, len, "its repository is not there yet: nothing "
		    "was captured from it (hl-capture data or init makes it)");
		return buf;
	}

	for (p = s; (p = strstr(p, "Fatal: ")) != NULL; p++)
		fatal = p;
	if (fatal == NULL) {
		/* the last non-empty line */
		const char *end = s + strlen(s);

		while (end > s && strchr("\r\n ", end[-1]))
			end--;
		for (fatal = end; fatal > s && fatal[-1] != '\n'; fatal--)
			;
		n = (size_t)(end - fatal);
	} else
		n = strcspn(fatal, "\r\n");
	snprintf(buf, len, "%.*s", (int)n, fatal);
	return buf[0] ? buf : "no message";
}

static int
restic_once(struct cp_host *h, char *const args[], struct hl_buf *out,
    struct hl_buf *err, double timeout, struct hl_err *e)
{
	char *argv[64];
	struct hl_buf in = { 0 };
	struct hl_ssh_io io = { .in = &in, .out = out, .out_cap = OUT_MAX,
		.err = err };
	int n = 0, rc;

	argv[n++] = "sudo";
	argv[n++] = "-n";
	argv[n++] = "restic";
	argv[n++] = "--no-cache";
	argv[n++] = "-r";
	argv[n++] = h->restic.repository;
	argv[n++] = "--password-file";
	argv[n++] = "/dev/stdin";
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	hl_buf_printf(&in, "%s\n", h->password);
	rc = hl_ssh_run_io(&h->reach.ssh, argv, &io, timeout, e);
	memset(in.s, 0, in.len);
	hl_buf_free(&in);
	return rc;
}

int
cp_restic(struct cp_host *h, char *const args[], int init_ok,
    struct hl_buf *out, struct hl_buf *err, double timeout, struct hl_err *e)
{
	struct hl_buf mine = { 0 };
	int rc, tries;

	if (err == NULL)
		err = &mine;
	for (tries = 0; tries < 3; tries++) {
		char *init[] = { "init", NULL }, *unlock[] = { "unlock", NULL };
		struct hl_buf ierr = { 0 };

		hl_buf_truncate(err, 0);
		if (out)
			hl_buf_truncate(out, 0);
		rc = restic_once(h, args, out, err, timeout, e);
		if (rc <= 0)
			break;
		if (init_ok && cp_no_repository(err)) {
			rc = restic_once(h, init, NULL, &ierr, 120, e);
			if (rc != 0) {
				hl_buf_truncate(err, 0);
				hl_buf_add(err, ierr.s, ierr.len);
				hl_buf_free(&ierr);
				break;
			}
			hl_buf_free(&ierr);
			init_ok = 0;
			continue;
		}
		if (strstr(hl_buf_str(err), "repository is already locked")) {
			/* only locks whose process is gone go */
			if (restic_once(h, unlock, NULL, &ierr, 120, e) != 0) {
				hl_buf_free(&ierr);
				break;
			}
			hl_buf_free(&ierr);
			continue;
		}
		break;
	}
	hl_buf_free(&mine);
	return rc;
}

int
cp_marker_write(struct cp_host *h, jv marker, struct hl_err *e)
{
	struct hl_buf in = { 0 };
	jv text = jv_dump_string(marker, JV_PRINT_SORTED);
	int rc;

	hl_buf_printf(&in, "%s\n", jv_string_value(text));
	jv_free(text);
	rc = cp_sh(h, "umask 077 && mkdir -p /var/lib/hl && "
	    "cat > " CP_MARKER ".new && mv -f " CP_MARKER ".new " CP_MARKER,
	    jv_null(), &in, NULL, e);
	hl_buf_free(&in);
	if (rc > 0 && e->code == 0)
		hl_err_set(e, HL_E_FAILED, "%s: cannot write %s", h->name,
		    CP_MARKER);
	return rc == 0 ? 0 : -1;
}

int
cp_look(struct cp_host *h, jv paths, jv *marker, jv *states,
    struct hl_err *e)
{
	struct hl_buf out = { 0 };
	char *line, *save = NULL;
	int rc = cp_sh(h, "[ ! -f " CP_MARKER " ] || "
	    "{ printf 'marker '; tr -d '\\n' < " CP_MARKER "; echo; }; "
	    "for p; do "
	    "if [ -d \"$p\" ] && [ -n \"$(ls -A \"$p\")\" ]; then echo \"data $p\"; "
	    "elif [ -e \"$p\" ]; then echo \"empty $p\"; "
	    "else echo \"missing $p\"; fi; done", paths, NULL, &out, e);

	*states = jv_object();
	if (marker)
		*marker = jv_null();
	if (rc != 0) {
		hl_buf_free(&out);
		if (rc > 0 && e->code == 0)
			hl_err_set(e, HL_E_FAILED, "%s: cannot look at its data "
			    "paths and %s", h->name, CP_MARKER);
		return -1;
	}
	for (line = strtok_r(out.s ? out.s : (char []){ "" }, "\n", &save);
	    line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			continue;
		*sp = '\0';
		if (strcmp(line, "marker") != 0)
			*states = jv_object_set(*states, jv_string(sp + 1),
			    jv_string(line));
		else if (marker) {
			jv_free(*marker);
			*marker = jv_parse(sp + 1);
			if (jv_get_kind(*marker) != JV_KIND_OBJECT) {
				jv_free(*marker);
				*marker = jv_null();
				rc = hl_err_set(e, HL_E_FAILED, "%s: %s is not "
				    "hl's marker (remove it, then hl-capture "
				    "init or restore)", h->name, CP_MARKER);
			}
		}
	}
	hl_buf_free(&out);
	return rc;
}

int
cp_snapshots(struct cp_host *h, const char *only, jv *list, struct hl_err *e)
{
	struct hl_buf out = { 0 }, err = { 0 };
	char *args[] = { "--json", "snapshots", (char *)only, NULL }, why[300];
	int rc = cp_restic(h, args, 0, &out, &err, 300, e);

	*list = jv_null();
	if (rc == 0) {
		*list = jv_parse(hl_buf_str(&out));
		if (jv_get_kind(*list) == JV_KIND_NULL) {
			jv_free(*list);
			*list = jv_array();
		}
		if (jv_get_kind(*list) != JV_KIND_ARRAY)
			rc = hl_err_set(e, HL_E_FAILED, "%s: restic snapshots "
			    "gave no JSON list", h->name);
	} else if (rc > 0 && cp_no_repository(&err)) {
		/* the first capture makes it: until then there is none */
		*list = jv_array();
		rc = 0;
	} else if (rc > 0)
		rc = hl_err_set(e, HL_E_FAILED, "%s: restic snapshots failed "
		    "(exit %d): %s", h->name, rc, cp_why(&err, why,
		    sizeof(why)));
	if (rc < 0) {
		jv_free(*list);
		*list = jv_null();
	}
	hl_buf_free(&out);
	hl_buf_free(&err);
	return rc;
}

jv
cp_json_lines(const char *text)
{
	char *copy = strdup(text), *line, *save = NULL;
	jv out = jv_array();

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		jv j = jv_parse(line);

		if (jv_get_kind(j) == JV_KIND_OBJECT)
			out = jv_array_append(out, j);
		else
			jv_free(j);
	}
	free(copy);
	return out;
}

int
cp_hook(struct cp_host *h, const char *stack, jv hook, struct hl_err *e)
{
	jv t = hl_json_get(jv_copy(hook), "timeout");
	int secs = jv_get_kind(t) == JV_KIND_NUMBER ? (int)jv_number_value(t) :
	    HL_HOOK_TIMEOUT, rc;
	jv args = JV_ARRAY(jv_string(stack), hl_json_get(jv_copy(hook),
	    "service"), jv_string_fmt("%d", secs)),
	    cmd = hl_json_get(jv_copy(hook), "command");

	jv_free(t);
	args = jv_array_concat(args, jv_get_kind(cmd) == JV_KIND_ARRAY ? cmd :
	    (jv_free(cmd), jv_array()));
	/* the host's timeout ends the wait (124) and says so; ssh's own,
	 * later, only a host that stopped answering */
	rc = cp_sh_within(h, "p=$1 s=$2 t=$3; shift 3; "
	    "c=$(docker ps -q --filter \"label=com.docker.compose.project=$p\" "
	    "--filter \"label=com.docker.compose.service=$s\" | head -n 1); "
	    "[ -n \"$c\" ] || exit 90; "
	    "timeout -k 5 \"$t\" docker exec \"$c\" \"$@\"; rc=$?; "
	    "[ $rc -ne 124 ] || echo \"did not finish within $t s\" >&2; "
	    "exit $rc", args, NULL, NULL, secs + 30, e);
	if (rc == CP_HOOK_NO_CONTAINER)
		;	/* the script's own code, nothing written: not a failure */
	else if (rc > 0 && e->code == 0)
		hl_err_set(e, HL_E_FAILED, "exit %d", rc);
	else if (rc > 0) {
		/* cp_sh named the host: the caller does */
		char msg[sizeof(e->msg) + 32];
		size_t l = strlen(h->name);

		snprintf(msg, sizeof(msg), "%s (exit %d)",
		    strncmp(e->msg, h->name, l) == 0 && e->msg[l] == ':' ?
		    e->msg + l + 2 : e->msg, rc);
		hl_err_set(e, HL_E_FAILED, "%s", msg);
	}
	jv_free(args);
	return rc;
}
