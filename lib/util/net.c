/*
 * NAME
 *	net - parse socket address strings, connect with a timeout
 * DESCRIPTION
 *	Address forms: "unix:/path", "inet:host:port", "inet:[v6addr]:port"
 *	and libmilter's "inet:port@host".  net_connect() connects a blocking
 *	TCP or unix stream socket within a time limit and sets the same
 *	limit on each later read and write (SO_RCVTIMEO/SO_SNDTIMEO).
 *
 *	net_listen() opens the listening sockets of a list of addresses
 *	(separated by commas or blanks): for "inet:host:port" one socket
 *	per address the host name resolves to (IPv6 ones V6ONLY, so
 *	"inet:localhost:N" listens on 127.0.0.1 and ::1), for "unix:/path"
 *	a socket made by net_unix_listen().  The daemons call it as root
 *	before they drop privileges.
 *
 *	net_unix_listen() is the one way a daemon makes a unix socket,
 *	whoever binds it (net.c itself, or libmilter for etrn-milter): bound
 *	at a temporary name beside the path, given its owner, group (the
 *	directory's when none is set) and mode, then renamed over the path.
 *	A stale socket (nobody accepts on it) is thus replaced in one step;
 *	one that accepts belongs to a running server: the start waits up to
 *	NET_WAIT_MS for it to go (a predecessor that is stopping; libmilter
 *	needs up to 5 s to close its socket), then fails saying so.  An inet
 *	address in use is waited for the same way.  The device and inode of
 *	each socket made are remembered: net_unix_remove() removes at exit
 *	only those still in place, never a successor's socket bound at the
 *	same path meanwhile.
 * SECURITY
 *	A unix socket is bound only in a directory that root alone can
 *	write (safepath_resolve; as root, anything else is refused), by its
 *	resolved path, with umask 0177: it is born root's and mode 0600, so
 *	nobody but root can connect until it is chowned and chmoded to the
 *	final owner and mode.  Those calls go by path, which is safe
 *	because no other user can rename, remove or replace an entry of
 *	that directory in between (fchown/fchmod on a socket descriptor
 *	would not reach the file on Linux).
 * DIAGNOSTICS
 *	-1 with errno set (EINVAL for a bad address, ETIMEDOUT).
 *	net_unix_listen(): -1 with the reason in *err.  net_unix_remove()
 *	is quiet when it may not remove a socket (a daemon running as
 *	`user` in root's directory: the next start replaces it).
 *	net_listen(): the number of sockets, or -1 with the reason in *err
 *	(sockets already opened are closed).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/net.h"
#include "util/safepath.h"

#define NET_WAIT_MS	10000	/* for a predecessor that is stopping */
#define NET_WAIT_STEP	100

/* The unix sockets this process made, to remove at exit. */
static struct net_made {
	char	path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t	dev;
	ino_t	ino;
} net_made[2 * NET_LISTEN_MAX];
static int net_nmade;

/* net_valid_port - 1..65535, digits only */
static int
net_valid_port(const char *p)
{
	long	v;
	char	*end;

	if (*p < '0' || *p > '9' || strlen(p) > 5)
		return 0;
	v = strtol(p, &end, 10);
	return *end == '\0' && v > 0 && v <= 65535;
}

/* net_copy - bounded copy that refuses to truncate */
static int
net_copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len == 0 || len >= size)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* net_parse - parse an address string */
int
net_parse(const char *s, struct net_addr *na)
{
	const char *p, *colon, *at;

	memset(na, 0, sizeof(*na));
	if (strncmp(s, "unix:", 5) == 0) {
		na->kind = NET_UNIX;
		p = s + 5;
		if (*p != '/')
			return -1;
		return net_copy(na->path, sizeof(na->path), p, strlen(p));
	}
	if (strncmp(s, "inet:", 5) != 0)
		return -1;
	p = s + 5;
	if ((at = strchr(p, '@')) != NULL) {
		na->kind = NET_INET_AT;
		if (net_copy(na->port, sizeof(na->port), p,
		    (size_t)(at - p)) < 0 ||
		    net_copy(na->host, sizeof(na->host), at + 1,
		    strlen(at + 1)) < 0)
			return -1;
		return net_valid_port(na->port) ? 0 : -1;
	}
	na->kind = NET_INET;
	if (*p == '[') {
		const char *rb = strchr(p, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		if (net_copy(na->host, sizeof(na->host), p + 1,
		    (size_t)(rb - p - 1)) < 0)
			return -1;
		colon = rb + 1;
	} else {
		if ((colon = strrchr(p, ':')) == NULL)
			return -1;
		if (net_copy(na->host, sizeof(na->host), p,
		    (size_t)(colon - p)) < 0)
			return -1;
	}
	if (net_copy(na->port, sizeof(na->port), colon + 1,
	    strlen(colon + 1)) < 0)
		return -1;
	return net_valid_port(na->port) ? 0 : -1;
}

/* net_set_timeout - per-operation read/write timeout in ms */
int
net_set_timeout(int fd, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

/* net_connect_fd - nonblocking connect bounded by ms, then blocking */
static int
net_connect_fd(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	struct pollfd pfd;
	int	flags, err = 0, n;
	socklen_t elen = sizeof(err);

	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while ((n = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
			;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
		    &elen) < 0)
			return -1;
		if (err != 0) {
			errno = err;
			return -1;
		}
	}
	if (fcntl(fd, F_SETFL, flags) < 0)
		return -1;
	return net_set_timeout(fd, ms);
}

/* net_connect - stream connection to a parsed address */
int
net_connect(const struct net_addr *na, int ms)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_un sun;
	int	fd = -1, saved, one = 1;

	if (na->kind == NET_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, na->path, strlen(na->path) + 1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return -1;
		if (net_connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun),
		    ms) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(na->host, na->port, &hints, &res) != 0) {
		errno = EINVAL;
		return -1;
	}
	errno = ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (net_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, ms) == 0) {
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			break;
		}
		saved = errno;
		close(fd);
		errno = saved;
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* net_bind_wait - bind; an address in use is waited for (see above) */
static int
net_bind_wait(int fd, const struct sockaddr *sa, socklen_t len)
{
	int	ms;

	for (ms = 0;; ms += NET_WAIT_STEP) {
		if (bind(fd, sa, len) == 0)
			return 0;
		if (errno != EADDRINUSE || ms >= NET_WAIT_MS)
			return -1;
		usleep(NET_WAIT_STEP * 1000);
	}
}

/* net_listen_inet - every address of host:port; sockets added, or -1 */
static int
net_listen_inet(const struct net_addr *na, const char *spec, int *fds,
    int *n, int max, struct buf *err)
{
	struct addrinfo hints, *res, *ai;
	int	fd, on = 1, got = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(na->host, na->port, &hints, &res) != 0) {
		buf_printf(err, "cannot resolve \"%s\"", spec);
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (*n >= max) {
			buf_printf(err, "%s: more than %d addresses", spec,
			    max);
			freeaddrinfo(res);
			return -1;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;	/* e.g. no IPv6 on this host */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (net_bind_wait(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 1024) < 0) {
			buf_printf(err, "cannot listen on %s: %s", spec,
			    strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		fds[(*n)++] = fd;
		got++;
	}
	freeaddrinfo(res);
	if (got == 0) {
		buf_printf(err, "cannot listen on %s: no usable address", spec);
		return -1;
	}
	return 0;
}

/* net_unix_live - a server accepts on the socket at sun */
static int
net_unix_live(const struct sockaddr_un *sun)
{
	int	fd, live;

	/* Nonblocking: a full backlog (EAGAIN) is a live server too. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return live;
}

/* net_unix_free - wait for a live socket at sun to go; -1 if it stays */
static int
net_unix_free(const struct sockaddr_un *sun, const char *shown,
    struct buf *err)
{
	struct stat st;
	int	ms;

	for (ms = 0;; ms += NET_WAIT_STEP) {
		if (lstat(sun->sun_path, &st) < 0)
			return 0;
		if (!S_ISSOCK(st.st_mode)) {
			buf_printf(err, "%s exists and is not a socket", shown);
			return -1;
		}
		if (!net_unix_live(sun))
			return 0;	/* stale: the rename replaces it */
		if (ms >= NET_WAIT_MS) {
			buf_printf(err, "%s is in use by a running server "
			    "(waited %d s for it to stop)", shown,
			    NET_WAIT_MS / 1000);
			return -1;
		}
		usleep(NET_WAIT_STEP * 1000);
	}
}

/* net_dir_group - the group of the directory of path */
static int
net_dir_group(const char *path, gid_t *gid)
{
	char	dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char	*slash;
	struct stat st;

	memcpy(dir, path, strlen(path) + 1);
	if ((slash = strrchr(dir, '/')) == NULL)
		return -1;
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) < 0)
		return -1;
	*gid = st.st_gid;
	return 0;
}

/*
 * net_unix_listen - a listening unix socket at path, bound by mk at a
 * temporary name, renamed over path; see above.  As root, in a directory
 * root alone can write (safepath_resolve).
 */
int
net_unix_listen(const char *path, const struct net_listen_opts *o,
    int (*mk)(const char *, void *), void *arg, struct buf *err)
{
	struct sockaddr_un sun;
	struct buf real = BUF_INIT, tmp = BUF_INIT;
	struct net_made *m;
	struct stat st;
	gid_t	gid = o->gid;
	mode_t	old;
	int	rc = -1, bound = 0;

	if (net_nmade >= (int)(sizeof(net_made) / sizeof(net_made[0]))) {
		buf_printf(err, "%s: too many sockets", path);
		return -1;
	}
	if (safepath_resolve(path, &real, err) < 0)
		return -1;
	buf_printf(&tmp, "%s.%ld", buf_terminate(&real), (long)getpid());
	if (tmp.len >= sizeof(sun.sun_path)) {
		buf_printf(err, "%s: path too long", real.s);
		goto out;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, real.s, real.len + 1);
	if (net_unix_free(&sun, path, err) < 0)
		goto out;
	if (gid == (gid_t)-1 && net_dir_group(real.s, &gid) < 0) {
		buf_printf(err, "%s: directory: %s", path, strerror(errno));
		goto out;
	}
	(void)unlink(tmp.s);	/* left by a start that died here */
	old = umask(0177);
	errno = 0;
	bound = mk(buf_terminate(&tmp), arg) == 0;
	umask(old);
	if (!bound) {
		buf_printf(err, "cannot listen on %s: %s", path,
		    errno ? strerror(errno) : "failed");
		goto out;
	}
	if (chown(tmp.s, o->uid, gid) < 0 || chmod(tmp.s, o->mode) < 0 ||
	    rename(tmp.s, real.s) < 0 || lstat(real.s, &st) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	m = &net_made[net_nmade++];
	memcpy(m->path, real.s, real.len + 1);
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	rc = 0;
out:
	if (rc < 0 && bound)
		(void)unlink(tmp.s);
	buf_free(&real);
	buf_free(&tmp);
	return rc;
}

/* net_unix_remove - at exit: the sockets made here still in place */
void
net_unix_remove(void)
{
	struct stat st;
	int	i;

	for (i = 0; i < net_nmade; i++) {
		if (lstat(net_made[i].path, &st) < 0 ||
		    st.st_dev != net_made[i].dev ||
		    st.st_ino != net_made[i].ino)
			continue;	/* gone, or a successor's */
		if (unlink(net_made[i].path) == 0 || errno == ENOENT)
			continue;
		if (errno == EACCES || errno == EPERM)
			log_debug("socket %s left for the next start",
			    net_made[i].path);
		else
			log_warn("cannot remove socket %s", net_made[i].path);
	}
	net_nmade = 0;
}

/* net_unix_bind - net_unix_listen's mk for our own sockets: *arg the fd */
static int
net_unix_bind(const char *path, void *arg)
{
	struct sockaddr_un sun;
	int	fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 1024) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	*(int *)arg = fd;
	return 0;
}

/* net_listen_unix - a unix socket with owner and mode; its fd or -1 */
static int
net_listen_unix(const struct net_addr *na, const struct net_listen_opts *o,
    struct buf *err)
{
	int	fd = -1;

	if (net_unix_listen(na->path, o, net_unix_bind, &fd, err) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* net_listen - listening sockets for a list of addresses; see above */
int
net_listen(const char *list, const struct net_listen_opts *o, int *fds,
    int max, struct buf *err)
{
	char	*copy = strdup(list), *p, *save = NULL;
	struct net_addr na;
	int	n = 0, rc = 0, i;

	if (copy == NULL) {
		buf_printf(err, "out of memory");
		return -1;
	}
	for (p = strtok_r(copy, ", \t", &save); p != NULL && rc == 0;
	    p = strtok_r(NULL, ", \t", &save)) {
		if (net_parse(p, &na) < 0 || na.kind == NET_INET_AT) {
			buf_printf(err, "bad address \"%s\" (expected "
			    "inet:host:port or unix:/path)", p);
			rc = -1;
		} else if (na.kind == NET_INET)
			rc = net_listen_inet(&na, p, fds, &n, max, err);
		else if (n >= max) {
			buf_printf(err, "more than %d addresses", max);
			rc = -1;
		} else if ((fds[n] = net_listen_unix(&na, o, err)) < 0)
			rc = -1;
		else
			n++;
	}
	free(copy);
	if (rc == 0 && n == 0) {
		buf_printf(err, "no address to listen on");
		rc = -1;
	}
	if (rc < 0) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		return -1;
	}
	return n;
}
