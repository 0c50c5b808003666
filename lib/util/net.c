/*
 * NAME
 *	net - parse socket address strings, connect with a timeout
 * DESCRIPTION
 *	Address forms: "unix:/path", "inet:host:port", "inet:[v6addr]:port"
 *	and libmilter's "inet:port@host".  net_connect() connects a blocking
 *	TCP or unix stream socket within a time limit and sets the same
 *	limit on each later read and write (SO_RCVTIMEO/SO_SNDTIMEO).
 * DIAGNOSTICS
 *	-1 with errno set (EINVAL for a bad address, ETIMEDOUT).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/net.h"

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
