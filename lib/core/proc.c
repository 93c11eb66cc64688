/* Child processes (proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/proc.h"

extern char **environ;

static char **dropped;
static size_t ndropped;

void
hl_child_env_drop(const char *name)
{
	char **grown, *copy;

	for (size_t i = 0; i < ndropped; i++)
		if (strcmp(dropped[i], name) == 0)
			return;
	copy = strdup(name);
	grown = copy ? realloc(dropped, (ndropped + 1) * sizeof(*dropped)) :
	    NULL;
	if (grown == NULL) {
		free(copy);
		return;
	}
	dropped = grown;
	dropped[ndropped++] = copy;
}

static int
is_dropped(const char *entry)
{
	size_t n;

	if (strncmp(entry, "HL_PVE_", 7) == 0)
		return 1;
	for (size_t i = 0; i < ndropped; i++) {
		n = strlen(dropped[i]);
		if (strncmp(entry, dropped[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

/* Whether entry's name is the name of one of set's "NAME=VALUE". */
static int
is_set(const char *entry, char *const *set)
{
	size_t n = strcspn(entry, "=");

	for (; set && *set; set++)
		if (strncmp(*set, entry, n) == 0 && (*set)[n] == '=')
			return 1;
	return 0;
}

/* This process's environment less what is dropped, plus set. */
static char **
child_env(char *const *set, const char *prefix)
{
	size_t i, n = 0, all = 0, nset = 0;
	char **env;

	while (environ[all])
		all++;
	while (set && set[nset])
		nset++;
	env = malloc((all + nset + 1) * sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0; i < all; i++)
		if (!is_dropped(environ[i]) && !is_set(environ[i], set) &&
		    !(prefix && strncmp(environ[i], prefix,
		    strlen(prefix)) == 0))
			env[n++] = environ[i];
	for (i = 0; i < nset; i++)
		env[n++] = set[i];
	env[n] = NULL;
	return env;
}

char **
hl_child_env(void)
{
	return child_env(NULL, NULL);
}

/* The whole lines of pending to ps->line; what follows the last stays. */
static void
lines(const struct hl_proc_spec *ps, struct hl_buf *pending, int all)
{
	size_t at = 0;
	char *nl;

	if (pending->len == 0)
		return;
	while (at < pending->len && (nl = memchr(pending->s + at, '\n',
	    pending->len - at)) != NULL) {
		*nl = '\0';
		ps->line(ps->ctx, pending->s + at,
		    (size_t)(nl - (pending->s + at)));
		at = (size_t)(nl - pending->s) + 1;
	}
	if (all && at < pending->len) {
		ps->line(ps->ctx, pending->s + at, pending->len - at);
		at = pending->len;
	}
	memmove(pending->s, pending->s + at, pending->len - at);
	hl_buf_truncate(pending, pending->len - at);
}

/* Read what fd has into b (up to cap); 0 at its end. */
static int
drain(int fd, struct hl_buf *b, size_t cap)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n > 0 && b && b->len < cap)
		hl_buf_add(b, chunk, (size_t)n > cap - b->len ?
		    cap - b->len : (size_t)n);
	return n > 0;
}

/* Kill the child's process group and reap the child. */
static void
kill_all(pid_t pid, int *st)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, st, 0) < 0 && errno == EINTR)
		;
}

int
hl_proc_run(char *const argv[], double timeout_s, struct hl_buf *out,
    struct hl_buf *err, struct hl_err *e)
{
	struct hl_proc_spec ps = { .argv = argv, .timeout_s = timeout_s,
		.out = out, .err = err };

	return hl_proc_spawn(&ps, e);
}

int
hl_proc_spawn(const struct hl_proc_spec *ps, struct hl_err *e)
{
	char *const *argv = ps->argv;
	double timeout_s = ps->timeout_s;
	struct hl_buf pending = { 0 }, *out = ps->line ? &pending : ps->out;
	size_t ocap = ps->line ? HL_PROC_LINE_MAX : ps->out_cap ? ps->out_cap :
	    HL_PROC_CAP, fed = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pi[2] = { -1, -1 };
	int st = 0, rc = -1, fail;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	int exited = 0;
	char **env = child_env(ps->set, ps->drop_prefix);
	double t0 = hl_clock(), grace = 0;
	pid_t pid = -1;
	struct pollfd fds[3];

	/* a child that stops reading its stdin is no reason to die of it */
	sigaction(SIGPIPE, &ign, &old_pipe);
	if (env == NULL || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    (ps->in && pipe2(pi, O_CLOEXEC | O_NONBLOCK) < 0)) {
		hl_err_set(e, HL_E_INTERNAL, "%s: %s", argv[0],
		    strerror(errno));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	if (ps->in)
		posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
		    0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* its own process group: a time-out kills what it started too */
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	fail = posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (pi[0] >= 0)
		close(pi[0]);
	pi[0] = -1;
	if (fail != 0) {
		pid = -1;
		hl_err_set(e, HL_E_FAILED, "cannot run %s: %s", argv[0],
		    strerror(fail));
		goto done;
	}
	fds[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = pi[1], .events = POLLOUT };
	if (ps->in && ps->in->len == 0) {
		close(pi[1]);
		pi[1] = fds[2].fd = -1;
	}
	for (;;) {
		double now = hl_clock();

		if (timeout_s > 0 && now - t0 >= timeout_s) {
			kill_all(pid, &st);
			hl_err_set(e, HL_E_TIMEOUT, "%s did not finish within "
			    "%.0f s", argv[0], timeout_s);
			goto done;
		}
		/* it exited: what it wrote is read, a descendant that keeps
		 * its output open is not waited for past a short grace */
		if (exited && (fds[0].fd < 0 && fds[1].fd < 0 ? 1 :
		    now >= grace))
			break;
		if (fds[0].fd >= 0 || fds[1].fd >= 0) {
			if (poll(fds, 3, 50) < 0 && errno != EINTR) {
				int saved = errno;

				kill_all(pid, &st);
				hl_err_set(e, HL_E_INTERNAL, "%s: poll: %s",
				    argv[0], strerror(saved));
				goto done;
			}
			for (int i = 0; i < 2; i++)
				if (fds[i].fd >= 0 && fds[i].revents &&
				    !drain(fds[i].fd, i == 0 ? out : ps->err,
				    i == 0 ? ocap : HL_PROC_CAP))
					fds[i].fd = -1;
			if (fds[2].fd >= 0 && fds[2].revents) {
				ssize_t w = write(pi[1], ps->in->s + fed,
				    ps->in->len - fed);

				if (w > 0)
					fed += (size_t)w;
				/* all of it, or a child that will take no
				 * more: its end of the pipe is closed */
				if (fed == ps->in->len || (w < 0 &&
				    errno != EAGAIN && errno != EINTR)) {
					close(pi[1]);
					pi[1] = fds[2].fd = -1;
				}
			}
			if (ps->line) {
				/* a line longer than the cap is cut there */
				lines(ps, &pending, pending.len >= ocap);
			}
		} else {
			hl_sleep(0.01);
		}
		if (!exited) {
			pid_t w = waitpid(pid, &st, WNOHANG);

			if (w == pid) {
				exited = 1;
				grace = hl_clock() + 0.2;
			} else if (w < 0 && errno != EINTR) {
				hl_err_set(e, HL_E_INTERNAL, "%s: waitpid: %s",
				    argv[0], strerror(errno));
				goto done;
			}
		}
	}
	if (ps->line)
		lines(ps, &pending, 1);
	if (WIFEXITED(st))
		rc = WEXITSTATUS(st);
	else
		hl_err_set(e, HL_E_FAILED, "%s died of signal %d", argv[0],
		    WTERMSIG(st));
done:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
		if (pi[i] >= 0)
			close(pi[i]);
	}
	sigaction(SIGPIPE, &old_pipe, NULL);
	free(env);
	hl_buf_free(&pending);
	return rc;
}
