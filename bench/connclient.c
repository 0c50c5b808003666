/*
 * NAME
 *	connclient - many concurrent ETRN dialogues, for bench/connscale
 * SYNOPSIS
 *	connclient [-a first_source] [-d domain] [-g greet_timeout]
 *	    [-H helo] [-n count] [-s sources] [-t timeout] [-w window]
 *	    host port
 * DESCRIPTION
 *	Phase 1 (connect): opens count connections to host:port (IPv4 or
 *	IPv6 literal), never more than window (100) of them waiting for
 *	their greeting, reads each 220 greeting and holds the connection
 *	open, silent, until every connection is open or has failed; one not
 *	greeted within greet_timeout seconds (10) is closed as
 *	error_timeout_greet (a server whose accept queue overflowed may
 *	drop a connection the client thinks open).  Phase 2 (dialogue): every
 *	held connection sends "EHLO helo" at once, then, each at its own
 *	pace, "ETRN domain" after the EHLO reply and QUIT after the ETRN
 *	reply; after the 221 it waits for the server to close (at most a
 *	second once all are at that point), so that TIME_WAIT stays on the
 *	server's side.
 *
 *	With -s N (N > 0, IPv4 only) connection i is bound to the source
 *	address first_source + i % N (default 127.1.0.1), for servers that
 *	limit connections per client address.  One thread, nonblocking
 *	sockets, level-triggered epoll; the soft descriptor limit is raised
 *	to what count needs, within the hard limit.
 *
 *	Prints key=value lines: count, window, sources; opened, held
 *	(greeted), open_at_dialogue (greeted and still open when phase 2
 *	began: all open at once), peak_open;
 *	completed (dialogues that got their 221); the epoch times t_start,
 *	t_connected (the last greeting), t_end (the last 221); connect_s,
 *	dialogue_s (phase 2 to the last 221), total_s; the reply counts
 *	greeting_CODE, ehlo_CODE, etrn_CODE, quit_CODE; error_WHAT_STATE
 *	counts; server_not_closed; and in milliseconds the latency from
 *	connect() to the greeting (greet_p50, greet_p99, greet_max) and
 *	from sending ETRN to its reply (etrn_p50, etrn_p99, etrn_max).
 * DIAGNOSTICS
 *	Exit 0 when it ran, whatever the server answered (the counts tell),
 *	1 when it could not run (descriptor limit, epoll, memory), 2 on a
 *	usage error.  Connections unfinished after timeout seconds (60)
 *	are closed and counted as error_timeout_STATE.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define CONN_BUF	512	/* longest reply line we take */
#define MAX_EVENTS	1024
#define MAX_COUNTERS	64
#define CLOSE_GRACE	1.0	/* s to wait for the server's close */

enum cstate {
	C_NEW,		/* not opened yet */
	C_CONNECT,	/* connect() in progress */
	C_GREET,	/* waiting for the greeting */
	C_HELD,		/* greeted, silent until phase 2 */
	C_EHLO,		/* EHLO sent */
	C_ETRN,		/* ETRN sent */
	C_QUIT,		/* QUIT sent */
	C_CLOSING,	/* 221 read, waiting for the server's close */
	C_GONE		/* closed */
};

static const char *const state_names[] = {
	"new", "connect", "greet", "held", "ehlo", "etrn", "quit",
	"closing", "gone"
};

struct conn {
	int	fd;
	enum cstate state;
	size_t	len;		/* bytes of a partial line in buf */
	double	t_sent;		/* connect() or ETRN sent */
	char	buf[CONN_BUF];
};

struct counter {
	char	name[48];
	long	n;
};

static struct {
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct in_addr src0;	/* first source address (-s) */
	long	count, window, sources;
	double	timeout, greet_timeout;
	const char *domain, *helo;
	int	ep;
	struct conn *c;
	long	opened, pending, open, peak_open, held, completed, closing;
	long	open_at_dialogue;	/* held and still open at phase 2 */
	int	phase;		/* 1 connect, 2 dialogue */
	double	t_start, t_connected, t_dialogue, t_end, t_all_closing;
	double	*greet_lat, *etrn_lat;
	long	ngreet, netrn;
	struct counter counters[MAX_COUNTERS];
	int	ncounters;
} cl;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* epoch - the epoch time of monotonic time t */
static double
epoch(double t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9 - (now() - t);
}

/* die - print a message and exit 1 */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("connclient: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* count - add one to counter "prefix_what" */
static void
count(const char *prefix, const char *what)
{
	char	name[sizeof(cl.counters[0].name)];
	int	i;

	snprintf(name, sizeof(name), "%s_%s", prefix, what);
	for (i = 0; i < cl.ncounters; i++) {
		if (strcmp(cl.counters[i].name, name) == 0) {
			cl.counters[i].n++;
			return;
		}
	}
	if (cl.ncounters == MAX_COUNTERS)
		return;
	memcpy(cl.counters[i].name, name, sizeof(name));
	cl.counters[i].n = 1;
	cl.ncounters++;
}

/* count_errno - count error "what_STATE_ERRNONAME" of connection c */
static void
count_errno(const struct conn *c, const char *what, int err)
{
	char	buf[40];

	snprintf(buf, sizeof(buf), "%s_%s", state_names[c->state],
	    err == ECONNRESET ? "reset" : err == ECONNREFUSED ? "refused" :
	    err == ETIMEDOUT ? "timedout" : err == EPIPE ? "pipe" :
	    err == EADDRNOTAVAIL ? "addrnotavail" : err == EMFILE ? "emfile" :
	    "other");
	count(what, buf);
}

/* conn_close - close connection c; a held or pending one is no more */
static void
conn_close(struct conn *c)
{
	if (c->state == C_CONNECT || c->state == C_GREET)
		cl.pending--;
	if (c->state == C_CLOSING)
		cl.closing--;
	close(c->fd);	/* also removes it from the epoll set */
	c->fd = -1;
	c->state = C_GONE;
	cl.open--;
}

/* conn_send - send command s; close on failure */
static int
conn_send(struct conn *c, const char *s)
{
	size_t	len = strlen(s);
	ssize_t	n;

	/* One short command at a time: it always fits the send buffer. */
	if ((n = send(c->fd, s, len, MSG_NOSIGNAL)) != (ssize_t)len) {
		count_errno(c, "error_send", n < 0 ? errno : EPIPE);
		conn_close(c);
		return -1;
	}
	return 0;
}

/* conn_bind - bind socket fd of connection i to its source address */
static int
conn_bind(int fd, long i)
{
	struct sockaddr_in sin;
	int	one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(ntohl(cl.src0.s_addr) +
	    (uint32_t)(i % cl.sources));
	/* Pick the port at connect(), per destination, not at bind(). */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

/* conn_open - start connection i */
static void
conn_open(long i)
{
	struct conn *c = &cl.c[i];
	struct epoll_event ev;

	cl.opened++;
	c->t_sent = now();
	c->fd = socket(cl.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		count_errno(c, "error_socket", errno);
		c->state = C_GONE;
		return;
	}
	c->state = C_CONNECT;
	cl.open++;
	cl.pending++;
	if (cl.open > cl.peak_open)
		cl.peak_open = cl.open;
	if ((cl.sources > 0 && conn_bind(c->fd, i) < 0) ||
	    (connect(c->fd, (struct sockaddr *)&cl.dst, cl.dstlen) < 0 &&
	    errno != EINPROGRESS)) {
		count_errno(c, "error_connect", errno);
		conn_close(c);
		return;
	}
	ev.events = EPOLLOUT;
	ev.data.u64 = (uint64_t)i;
	if (epoll_ctl(cl.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* conn_connected - connect() finished (or failed) */
static void
conn_connected(struct conn *c, long i)
{
	struct epoll_event ev;
	int	err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		count_errno(c, "error_connect", err);
		conn_close(c);
		return;
	}
	c->state = C_GREET;
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)i;
	if (epoll_ctl(cl.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* conn_reply - the last line of a reply with code code came in */
static void
conn_reply(struct conn *c, const char *code)
{
	char	cmd[300];
	double	t = now();

	switch (c->state) {
	case C_GREET:
		count("greeting", code);
		if (strcmp(code, "220") != 0) {
			conn_close(c);
			return;
		}
		cl.pending--;
		cl.greet_lat[cl.ngreet++] = t - c->t_sent;
		cl.held++;
		cl.t_connected = t;
		c->state = C_HELD;
		break;
	case C_EHLO:
		count("ehlo", code);
		snprintf(cmd, sizeof(cmd), "ETRN %s\r\n", cl.domain);
		c->t_sent = now();
		if (conn_send(c, cmd) == 0)
			c->state = C_ETRN;
		break;
	case C_ETRN:
		cl.etrn_lat[cl.netrn++] = t - c->t_sent;
		count("etrn", code);
		if (conn_send(c, "QUIT\r\n") == 0)
			c->state = C_QUIT;
		break;
	case C_QUIT:
		count("quit", code);
		cl.completed++;
		cl.t_end = t;
		c->state = C_CLOSING;
		cl.closing++;
		break;
	default:	/* unasked for: a 421 while held, say */
		count("unexpected", state_names[c->state]);
		conn_close(c);
	}
}

/* conn_lines - handle the complete lines in c->buf */
static void
conn_lines(struct conn *c)
{
	char	code[4], *nl, *line = c->buf;
	size_t	left = c->len;

	while (c->state != C_GONE &&
	    (nl = memchr(line, '\n', left)) != NULL) {
		size_t	n = (size_t)(nl - line) + 1;

		if (n < 4) {
			count("error_short_line", state_names[c->state]);
			conn_close(c);
			return;
		}
		if (line[3] != '-') {
			memcpy(code, line, 3);
			code[3] = '\0';
			conn_reply(c, code);
		}
		line += n;
		left -= n;
	}
	if (c->state == C_GONE)
		return;
	memmove(c->buf, line, left);
	c->len = left;
}

/* conn_read - the socket of c is readable (or has an error) */
static void
conn_read(struct conn *c)
{
	ssize_t	n;

	if (c->len == sizeof(c->buf)) {
		count("error_long_line", state_names[c->state]);
		conn_close(c);
		return;
	}
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->state != C_CLOSING) {
			if (n == 0)
				count("error_eof", state_names[c->state]);
			else
				count_errno(c, "error_recv", errno);
		}
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	conn_lines(c);
}

/* start_dialogue - phase 2: every held connection sends EHLO */
static void
start_dialogue(void)
{
	char	cmd[300];
	long	i;

	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", cl.helo);
	cl.phase = 2;
	cl.t_dialogue = now();
	for (i = 0; i < cl.count; i++) {
		if (cl.c[i].state != C_HELD)
			continue;
		cl.open_at_dialogue++;
		if (conn_send(&cl.c[i], cmd) == 0)
			cl.c[i].state = C_EHLO;
	}
}

/* close_all - close what is left: timed out, or not closed by the server */
static void
close_all(void)
{
	long	i;

	for (i = 0; i < cl.count; i++) {
		struct conn *c = &cl.c[i];

		if (c->state == C_GONE || c->state == C_NEW)
			continue;
		if (c->state == C_CLOSING)
			count("server", "not_closed");
		else
			count("error_timeout", state_names[c->state]);
		conn_close(c);
	}
}

/* expire_greet - close the connections waiting too long for a greeting */
static void
expire_greet(double t)
{
	long	i;

	for (i = 0; i < cl.count; i++) {
		struct conn *c = &cl.c[i];

		if ((c->state == C_CONNECT || c->state == C_GREET) &&
		    t - c->t_sent > cl.greet_timeout) {
			count("error_timeout", state_names[c->state]);
			conn_close(c);
		}
	}
}

/* run - the event loop of both phases */
static void
run(void)
{
	struct epoll_event ev[MAX_EVENTS];
	long	next = 0;
	int	i, n;
	double	t, t_scan;

	cl.phase = 1;
	cl.t_start = t_scan = now();
	for (;;) {
		while (next < cl.count && cl.pending < cl.window)
			conn_open(next++);
		if (cl.phase == 1 && next == cl.count && cl.pending == 0)
			start_dialogue();
		t = now();
		if (cl.phase == 2 && cl.open == cl.closing) {
			if (cl.open == 0)
				break;
			if (cl.t_all_closing == 0)
				cl.t_all_closing = t;
			if (t - cl.t_all_closing > CLOSE_GRACE)
				break;
		}
		if (t - cl.t_start > cl.timeout)
			break;
		if (cl.phase == 1 && t - t_scan > 0.1) {
			expire_greet(t);
			t_scan = t;
			continue;
		}
		if ((n = epoll_wait(cl.ep, ev, MAX_EVENTS, 100)) < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			long	k = (long)ev[i].data.u64;
			struct conn *c = &cl.c[k];

			if (c->state == C_CONNECT)
				conn_connected(c, k);
			else if (c->state != C_GONE)
				conn_read(c);
		}
	}
	close_all();
}

/* cmp_double - qsort order of doubles */
static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* print_lat - "NAME_p50= NAME_p99= NAME_max=" in ms (nearest rank) */
static void
print_lat(const char *name, double *v, long n)
{
	long	k50, k99;

	if (n == 0) {
		printf("%s_p50=- %s_p99=- %s_max=-\n", name, name, name);
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	k50 = (n * 50 + 99) / 100 - 1;
	k99 = (n * 99 + 99) / 100 - 1;
	printf("%s_p50=%.3f %s_p99=%.3f %s_max=%.3f\n", name, v[k50] * 1e3,
	    name, v[k99] * 1e3, name, v[n - 1] * 1e3);
}

/* report - print the results */
static void
report(void)
{
	int	i;

	printf("count=%ld\nwindow=%ld\nsources=%ld\n", cl.count, cl.window,
	    cl.sources);
	printf("opened=%ld\nheld=%ld\nopen_at_dialogue=%ld\npeak_open=%ld\n"
	    "completed=%ld\n", cl.opened, cl.held, cl.open_at_dialogue,
	    cl.peak_open, cl.completed);
	printf("t_start=%.3f\nt_connected=%.3f\nt_dialogue=%.3f\n"
	    "t_end=%.3f\n", epoch(cl.t_start),
	    cl.t_connected ? epoch(cl.t_connected) : 0,
	    cl.t_dialogue ? epoch(cl.t_dialogue) : 0,
	    cl.t_end ? epoch(cl.t_end) : 0);
	printf("connect_s=%.3f\ndialogue_s=%.3f\ntotal_s=%.3f\n",
	    cl.t_connected ? cl.t_connected - cl.t_start : 0,
	    cl.t_end ? cl.t_end - cl.t_dialogue : 0,
	    cl.t_end ? cl.t_end - cl.t_start : 0);
	for (i = 0; i < cl.ncounters; i++)
		printf("%s=%ld\n", cl.counters[i].name, cl.counters[i].n);
	print_lat("greet", cl.greet_lat, cl.ngreet);
	print_lat("etrn", cl.etrn_lat, cl.netrn);
}

/* raise_nofile - make room for count descriptors and a few more */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t	need = (rlim_t)cl.count + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			die("the descriptor limit (hard %llu) is too low for "
			    "%ld connections: raise ulimit -n",
			    (unsigned long long)rl.rlim_max, cl.count);
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit: %s", strerror(errno));
	}
}

/* usage - print usage and exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: connclient [-a first_source] [-d domain] "
	    "[-g greet_timeout]\n"
	    "           [-H helo] [-n count] [-s sources] [-t timeout] "
	    "[-w window]\n"
	    "           host port\n");
	exit(2);
}

/* number - parse a positive number or 0 for option o */
static long
number(const char *s, int o)
{
	char	*end;
	long	v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 10000000) {
		fprintf(stderr, "connclient: bad -%c \"%s\"\n", o, s);
		usage();
	}
	return v;
}

/* set_dst - the destination address host:port */
static void
set_dst(const char *host, const char *port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&cl.dst;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cl.dst;
	long	p = number(port, 'p');

	if (p < 1 || p > 65535)
		usage();
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		cl.dstlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		cl.dstlen = sizeof(*sin6);
	} else {
		fprintf(stderr, "connclient: not an address: %s\n", host);
		usage();
	}
}

/* options - parse the command line into cl */
static void
options(int argc, char **argv)
{
	const char *src = "127.1.0.1";
	int	ch;

	cl.count = 10000;
	cl.window = 100;
	cl.timeout = 60;
	cl.greet_timeout = 10;
	cl.domain = "dialup.test";
	cl.helo = "x";
	while ((ch = getopt(argc, argv, "a:d:g:H:n:s:t:w:")) != -1) {
		switch (ch) {
		case 'a':
			src = optarg;
			break;
		case 'd':
			cl.domain = optarg;
			break;
		case 'g':
			cl.greet_timeout = (double)number(optarg, ch);
			break;
		case 'H':
			cl.helo = optarg;
			break;
		case 'n':
			cl.count = number(optarg, ch);
			break;
		case 's':
			cl.sources = number(optarg, ch);
			break;
		case 't':
			cl.timeout = (double)number(optarg, ch);
			break;
		case 'w':
			cl.window = number(optarg, ch);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || cl.count < 1 || cl.window < 1 ||
	    strlen(cl.domain) > 255 || strlen(cl.helo) > 255)
		usage();
	set_dst(argv[optind], argv[optind + 1]);
	if (inet_pton(AF_INET, src, &cl.src0) != 1 ||
	    (cl.sources > 0 && cl.dst.ss_family != AF_INET))
		usage();
}

int
main(int argc, char **argv)
{
	options(argc, argv);
	raise_nofile();
	cl.c = calloc((size_t)cl.count, sizeof(*cl.c));
	cl.greet_lat = calloc((size_t)cl.count, sizeof(double));
	cl.etrn_lat = calloc((size_t)cl.count, sizeof(double));
	if (cl.c == NULL || cl.greet_lat == NULL || cl.etrn_lat == NULL)
		die("out of memory");
	if ((cl.ep = epoll_create1(0)) < 0)
		die("epoll_create1: %s", strerror(errno));
	run();
	report();
	return 0;
}
