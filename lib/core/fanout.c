/* Jobs in forked processes, results back as JSON (fanout.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/exit.h"
#include "core/fanout.h"

struct slot {
	pid_t pid;
	int fd;
	size_t job;
	struct hl_buf out;
};

/* The child: do the job, write its result, leave without atexit work. */
static void
child(int fd, size_t i, jv (*work)(size_t, int, void *), void *arg)
{
	jv res = work(i, 1, arg);
	jv text = jv_dump_string(res, 0);
	const char *s = jv_string_value(text);
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	_exit(0);
}

static jv
reap(struct slot *s)
{
	int st = 0;
	jv res;
	char how[64];

	close(s->fd);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	res = s->out.len ? jv_parse(hl_buf_str(&s->out)) : jv_invalid();
	hl_buf_free(&s->out);
	if (jv_is_valid(res) && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return res;
	jv_free(res);
	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exited %d without a result",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return jv_object_set(jv_object(), jv_string("died"), jv_string(how));
}

jv
hl_fanout(size_t n, int parallel, jv (*work)(size_t, int, void *), void *arg)
{
	jv *res;
	jv out = jv_array();
	struct slot *slots;
	struct pollfd *pf;
	size_t next = 0, running = 0, i;
	pid_t self = getpid();

	if (parallel <= 1 || n <= 1) {
		for (i = 0; i < n; i++)
			out = jv_array_append(out, work(i, 0, arg));
		return out;
	}
	if ((size_t)parallel > n)
		parallel = (int)n;
	res = calloc(n, sizeof(*res));
	slots = calloc((size_t)parallel, sizeof(*slots));
	pf = calloc((size_t)parallel, sizeof(*pf));
	if (res == NULL || slots == NULL || pf == NULL) {
		free(res);
		free(slots);
		free(pf);
		for (i = 0; i < n; i++)
			out = jv_array_append(out, work(i, 0, arg));
		return out;
	}
	for (i = 0; i < n; i++)
		res[i] = jv_invalid();
	fflush(NULL);
	while (next < n || running > 0) {
		int k;

		/* fill the free slots */
		for (k = 0; k < parallel && next < n; k++) {
			int p[2];

			if (slots[k].pid)
				continue;
			if (pipe(p) < 0)
				break;
			slots[k].job = next;
			slots[k].pid = fork();
			if (slots[k].pid == 0) {
				/* a job dies with its run: a killed run leaves
				 * no worker on, and .hl/lock is free again */
				if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
				    getppid() != self)
					_exit(1);
				close(p[0]);
				child(p[1], next, work, arg);
			}
			close(p[1]);
			if (slots[k].pid < 0) {
				close(p[0]);
				slots[k].pid = 0;
				/* no process to spare: this one does it */
				res[next] = work(next, 0, arg);
				next++;
				continue;
			}
			slots[k].fd = p[0];
			running++;
			next++;
		}
		if (running == 0)
			continue;
		for (k = 0; k < parallel; k++) {
			pf[k].fd = slots[k].pid ? slots[k].fd : -1;
			pf[k].events = POLLIN;
			pf[k].revents = 0;
		}
		if (poll(pf, (nfds_t)parallel, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (k = 0; k < parallel; k++) {
			char buf[8192];
			ssize_t r;

			if (!slots[k].pid || !(pf[k].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(slots[k].fd, buf, sizeof(buf));
			if (r > 0) {
				hl_buf_add(&slots[k].out, buf, (size_t)r);
			} else if (r == 0 || errno != EINTR) {
				res[slots[k].job] = reap(&slots[k]);
				slots[k].pid = 0;
				running--;
			}
		}
	}
	for (i = 0; i < n; i++)
		out = jv_array_append(out, jv_is_valid(res[i]) ? res[i] :
		    jv_object_set(jv_object(), jv_string("died"),
		    jv_string("never ran")));
	free(res);
	free(slots);
	free(pf);
	return out;
}

jv
hl_fanout_collect(jv results, int *code,
    jv (*died)(size_t i, const char *how, void *arg), void *arg)
{
	jv out = jv_array();

	*code = HL_EXIT_OK;
	jv_array_foreach(results, i, r) {
		jv c;

		if (jv_object_has(jv_copy(r), jv_string("died"))) {
			jv how = jv_object_get(jv_copy(r), jv_string("died"));

			jv_free(r);
			r = died((size_t)i, jv_get_kind(how) == JV_KIND_STRING ?
			    jv_string_value(how) : "died", arg);
			jv_free(how);
		}
		c = jv_object_get(jv_copy(r), jv_string("code"));
		*code = hl_exit_worse(*code, jv_get_kind(c) == JV_KIND_NUMBER ?
		    (int)jv_number_value(c) : HL_EXIT_INTERNAL);
		jv_free(c);
		out = jv_array_append(out, jv_object_delete(r,
		    jv_string("code")));
	}
	jv_free(results);
	return out;
}
