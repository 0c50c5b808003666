/*
 * NAME
 *	spawn - run a command with a fixed argv, capture its output
 * SUMMARY
 *	spawn_run(argv, in, inlen, out, err, timeout_s, &result)
 * DESCRIPTION
 *	fork() + execv() of argv[0] (an absolute path), with in written to
 *	the child's stdin and its stdout/stderr collected into out/err
 *	(either may be NULL to discard).  The child gets a clean signal
 *	mask and default dispositions.  The call is bounded: after
 *	timeout_s the child is killed with SIGKILL and timed_out is set.
 *	Output beyond SPAWN_MAX_OUTPUT is an error, never silently cut.
 *	On Linux the child is killed when its caller dies.
 * SECURITY
 *	No shell is involved; callers validate every argument (queue IDs,
 *	domains) before building argv.
 * DIAGNOSTICS
 *	-1 when the child could not be run or its output was too large;
 *	otherwise 0 and the result describes how the child ended.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/spawn.h"

/* spawn_child - in the child: wire fds, reset signals, exec */
static void
spawn_child(const char *const *argv, int in, int out, int err, pid_t parent)
{
	struct iovec iov[4];
	sigset_t mask;
	ssize_t	n;
	char	*e;
	int	sig;

#ifdef HAVE_SYS_PRCTL_H
	/*
	 * Die with the caller: a command whose caller was killed (etrnd
	 * stopped with SIGKILL) must not finish a job the caller will not
	 * record, e.g. submit a DSN that is then submitted again.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
#else
	(void)parent;
#endif
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	execv(argv[0], (char *const *)argv);
	/* The caller logs err: say why (missing, not executable).  Only
	 * write(2) here: the parent may have threads. */
	e = strerror(errno);
	iov[0].iov_base = (void *)"cannot execute ";
	iov[0].iov_len = 15;
	iov[1].iov_base = (void *)argv[0];
	iov[1].iov_len = strlen(argv[0]);
	iov[2].iov_base = (void *)": ";
	iov[2].iov_len = 2;
	iov[3].iov_base = e;
	iov[3].iov_len = strlen(e);
	n = writev(2, iov, 4);
	(void)n;
	_exit(127);
}

/* spawn_now_ms - monotonic clock */
static long long
spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spawn_read - drain one pipe into a buffer; 0 at EOF */
static int
spawn_read(int fd, struct buf *b, int *too_big)
{
	char	chunk[8192];
	ssize_t	n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	if (b != NULL) {
		if (b->len + (size_t)n > SPAWN_MAX_OUTPUT)
			*too_big = 1;
		else
			buf_add(b, chunk, (size_t)n);
	}
	return 1;
}

/* spawn_pipes - three pipes, parent ends non-blocking */
static int
spawn_pipes(int p[3][2])
{
	int	i;

	for (i = 0; i < 3; i++)
		p[i][0] = p[i][1] = -1;
	for (i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			return -1;
	fcntl(p[0][1], F_SETFL, O_NONBLOCK);
	fcntl(p[1][0], F_SETFL, O_NONBLOCK);
	fcntl(p[2][0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* spawn_close - close what is open */
static void
spawn_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* spawn_run - run argv to completion (see above) */
int
spawn_run(const char *const *argv, const char *in, size_t inlen,
    struct buf *out, struct buf *err, int timeout_s, struct spawn_result *res)
{
	int	p[3][2], too_big = 0, st, i;
	long long deadline = spawn_now_ms() + (long long)timeout_s * 1000;
	size_t	sent = 0;
	pid_t	pid, parent;

	memset(res, 0, sizeof(*res));
	if (argv[0] == NULL || argv[0][0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if (spawn_pipes(p) < 0) {
		for (i = 0; i < 3; i++) {
			spawn_close(&p[i][0]);
			spawn_close(&p[i][1]);
		}
		return -1;
	}
	parent = getpid();
	if ((pid = fork()) < 0) {
		for (i = 0; i < 3; i++) {
			spawn_close(&p[i][0]);
			spawn_close(&p[i][1]);
		}
		return -1;
	}
	if (pid == 0)
		spawn_child(argv, p[0][0], p[1][1], p[2][1], parent);
	spawn_close(&p[0][0]);
	spawn_close(&p[1][1]);
	spawn_close(&p[2][1]);
	if (inlen == 0)
		spawn_close(&p[0][1]);
	while (p[1][0] >= 0 || p[2][0] >= 0 || p[0][1] >= 0) {
		struct pollfd pfd[3] = {
			{ p[0][1], POLLOUT, 0 },
			{ p[1][0], POLLIN, 0 },
			{ p[2][0], POLLIN, 0 },
		};
		long long left = deadline - spawn_now_ms();

		if (left <= 0) {
			res->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 3, (int)(left > 1000 ? 1000 : left)) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(p[0][1], in + sent, inlen - sent);

			if (n > 0)
				sent += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    sent == inlen)
				spawn_close(&p[0][1]);
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !spawn_read(p[1][0], out, &too_big))
			spawn_close(&p[1][0]);
		if ((pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !spawn_read(p[2][0], err, &too_big))
			spawn_close(&p[2][0]);
	}
	for (i = 0; i < 3; i++) {
		spawn_close(&p[i][0]);
		spawn_close(&p[i][1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st)) {
		res->exited = 1;
		res->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st))
		res->signal = WTERMSIG(st);
	if (too_big) {
		errno = EFBIG;
		return -1;
	}
	return 0;
}
