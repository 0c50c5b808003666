/*
 * NAME
 *	pfqfile - the header section of a Postfix queue file, read directly
 * SUMMARY
 *	st = pfqf_parse(read_fn, ctx, size, &out, &why);
 *	st = pfqf_parse_mem(bytes, len, &out, &why);
 *	rd = pfqf_reader_start(queue_dir, mail_owner, hash_queues, depth);
 *	st = pfqf_reader_headers(rd, "hold", queue_id, &out);
 *	pfqf_reader_stop(rd);
 * DESCRIPTION
 *	pfqf_parse() gives what `postcat -q -h ID` prints (Postfix 3.7): the
 *	header lines of the message content, with the headers a milter
 *	inserted or changed, each line ended by LF, without the blank line
 *	that ends the section and without envelope records.  A queue file is
 *	a sequence of records: a type octet, the data length in 7-bit groups
 *	(low group first, the high bit set on all but the last, at most
 *	four), the data.  The first record (C) gives the content's offset
 *	and size; the envelope runs from there to an empty M record that
 *	must end exactly at that offset; the content (N: a line, L: a part
 *	of a longer line, w: padding, p: a pointer) ends with an empty X
 *	record at offset + size.  Milters' headers live past the E record,
 *	reached through p records whose data is a decimal offset (0: go on
 *	with the next record).  As postcat does, the header section ends at
 *	the first line that starts neither with a header name and a colon
 *	nor with a blank or tab, or at the X record.
 *
 *	The file is read through a pread-like callback, in windows of
 *	PFQF_WIN octets, so a large body is never read.
 *
 *	The reader runs pfqf_parse() in a child process, started once for
 *	many messages, that has dropped root for Postfix's mail_owner: root
 *	never opens a file in a directory that user can write.  Requests and
 *	replies go over a socket pair, each framed by a 4-octet length, and
 *	both sides bound and check what they read.  Start it before any
 *	thread: the child allocates memory after fork().  A reader that
 *	breaks the protocol or takes more than PFQF_TIMEOUT_MS for a reply
 *	is killed, and answers PFQF_DOUBT until pfqf_reader_stop().
 *
 *	pfqf_queue_path() names the file as Postfix's mail_queue_dir()
 *	does: a queue of the hashed list (Postfix's hash_queue_names,
 *	default "deferred, defer") gets depth subdirectories, named by the
 *	first characters of a short queue ID, or, for a long ID, of its
 *	microseconds recoded as five upper-case hex digits.
 * DIAGNOSTICS
 *	PFQF_OK: out holds the header section.  PFQF_DOUBT, with a reason
 *	(pfqf_parse) or a log line (the reader), for anything unexpected: a
 *	short read, a record past the end of the file, a length over the
 *	bound, an unknown record type in the envelope or the content, a
 *	malformed or out-of-range pointer, a pointer target visited twice,
 *	more than PFQF_MAX_HOPS pointers, more than PFQF_MAX_OUT octets of
 *	headers, the content not where the C record says, NUL or LF inside a
 *	line; a file that is not a regular file of mail_owner, is not
 *	complete (no owner execute bit) or is larger than PFQF_MAX_FILE; a
 *	reader that died or timed out.  The caller must then fall back to
 *	postcat: PFQF_DOUBT never means "no such header".  PFQF_GONE: the
 *	file (or its hash directory) does not exist.
 * SECURITY
 *	The queue files are written by the mail system's own user, who may
 *	be compromised: the parser trusts no length or offset, and runs with
 *	that user's privileges only.  The child checks the queue name
 *	against a fixed list and the queue ID with qid_valid() before it
 *	builds a path, and opens every component with O_NOFOLLOW relative
 *	to the queue directory.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/pfqfile.h"
#include "mail/qid.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define PFQF_WIN	16384	/* octets read at a time */
#define PFQF_MAX_SIZEREC 256	/* C record data */
#define PFQF_MAX_PTRREC	32	/* p record data */
#define PFQF_MAX_WHY	256	/* reason sent back by the child */
#define PFQF_TIMEOUT_MS	10000	/* one reply from the child */
#define PFQF_MAX_GROUPS	64	/* mail_owner's groups */
#define PFQF_MAX_DEPTH	16	/* hash_queue_depth */

/* Record types (Postfix rec_type.h). */
#define REC_SIZE	'C'
#define REC_MESG	'M'
#define REC_NORM	'N'
#define REC_CONT	'L'
#define REC_DTXT	'w'
#define REC_PTR		'p'
#define REC_XTRA	'X'

/* The envelope's record types, besides C (once, first) and M (last). */
static const char pfqf_env_types[] = "TcFILSDRO/WVA>K<ionpdfmwPre";

/* Postfix's queue names a reader may open. */
static const char *const pfqf_queues[] = {
	"hold", "deferred", "active", "incoming", "maildrop", NULL
};

struct pfqf_in {
	pfqf_read_fn read;
	void	*ctx;
	off_t	size;
	unsigned char win[PFQF_WIN];
	off_t	win_off;
	size_t	win_len;
	const char *why;
};

struct pfqf_rec {
	int	type;
	off_t	off;		/* of the type octet */
	off_t	data;		/* of the data */
	size_t	len;		/* data length */
	off_t	next;		/* of the next record */
};

struct pfqf_reader {
	pid_t	pid;
	int	fd;
	int	dead;
};

/* pfqf_doubt - record the first reason, return PFQF_DOUBT */
static int
pfqf_doubt(struct pfqf_in *in, const char *why)
{
	if (in->why == NULL)
		in->why = why;
	return PFQF_DOUBT;
}

/* pfqf_get - len octets at off into p; -1 past the end or on error */
static int
pfqf_get(struct pfqf_in *in, off_t off, void *p, size_t len)
{
	ssize_t	got;
	size_t	want;

	if (off < 0 || off > in->size || (off_t)len > in->size - off)
		return -1;
	if (off >= in->win_off && off - in->win_off <= (off_t)in->win_len &&
	    len <= in->win_len - (size_t)(off - in->win_off)) {
		memcpy(p, in->win + (off - in->win_off), len);
		return 0;
	}
	if (len > PFQF_WIN) {
		got = in->read(in->ctx, p, len, off);
		return got == (ssize_t)len ? 0 : -1;
	}
	want = PFQF_WIN;
	if ((off_t)want > in->size - off)
		want = (size_t)(in->size - off);
	in->win_len = 0;
	got = in->read(in->ctx, in->win, want, off);
	if (got != (ssize_t)want)
		return -1;
	in->win_off = off;
	in->win_len = want;
	memcpy(p, in->win, len);
	return 0;
}

/* pfqf_rec_at - read the type and length of the record at off */
static int
pfqf_rec_at(struct pfqf_in *in, off_t off, struct pfqf_rec *r)
{
	unsigned char c;
	size_t	len = 0;
	unsigned shift;
	off_t	p = off;

	if (pfqf_get(in, p++, &c, 1) < 0)
		return pfqf_doubt(in, "truncated: no record type");
	r->type = c;
	r->off = off;
	for (shift = 0;; shift += 7) {
		if (shift > 21)
			return pfqf_doubt(in, "too many length octets");
		if (pfqf_get(in, p++, &c, 1) < 0)
			return pfqf_doubt(in, "truncated: record length");
		len |= (size_t)(c & 0177) << shift;
		if ((c & 0200) == 0)
			break;
	}
	if ((off_t)len > in->size - p)
		return pfqf_doubt(in, "truncated: record data");
	r->data = p;
	r->len = len;
	r->next = p + (off_t)len;
	return PFQF_OK;
}

/* pfqf_rec_data - the record's data into b (at most max octets) */
static int
pfqf_rec_data(struct pfqf_in *in, const struct pfqf_rec *r, size_t max,
    struct buf *b)
{
	if (r->len > max)
		return pfqf_doubt(in, "record longer than allowed");
	buf_reset(b);
	buf_grow(b, r->len + 1);
	if (pfqf_get(in, r->data, b->s, r->len) < 0)
		return pfqf_doubt(in, "read error");
	b->len = r->len;
	buf_terminate(b);
	return PFQF_OK;
}

/* pfqf_number - a decimal number after blanks; -1 when malformed */
static off_t
pfqf_number(const char **pp)
{
	const char *p = *pp;
	off_t	n = 0;
	int	digits = 0;

	while (*p == ' ')
		p++;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 15)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*pp = p;
	return digits ? n : -1;
}

/* pfqf_header_name - length of a header name before a colon, or 0 */
static size_t
pfqf_header_name(const unsigned char *p, size_t n)
{
	size_t	i, len = 0;
	int	state = 0;	/* 0: start, 1: name, 2: blanks after it */

	/* Postfix's is_header(): RFC 822 allows blanks before the colon. */
	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			return state ? len : 0;
		if (p[i] == ' ' || p[i] == '\t') {
			if (state == 0)
				return 0;
			state = 2;
			continue;
		}
		if (p[i] < 33 || p[i] > 126 || state == 2)
			return 0;
		state = 1;
		len++;
	}
	return 0;
}

/* pfqf_envelope - C record and envelope; sets the content's extent */
static int
pfqf_envelope(struct pfqf_in *in, struct buf *b, off_t *start, off_t *xtra)
{
	struct pfqf_rec r;
	const char *p;
	off_t	size, off;

	if (pfqf_rec_at(in, 0, &r) != PFQF_OK)
		return PFQF_DOUBT;
	if (r.type != REC_SIZE)
		return pfqf_doubt(in, "no size record first");
	if (pfqf_rec_data(in, &r, PFQF_MAX_SIZEREC, b) != PFQF_OK)
		return PFQF_DOUBT;
	p = b->s;
	if ((size = pfqf_number(&p)) <= 0 || *p != ' ' ||
	    (off = pfqf_number(&p)) <= 0 ||
	    (*p != ' ' && p != b->s + b->len))
		return pfqf_doubt(in, "malformed size record");
	if (off > in->size || size > in->size - off - 2)
		return pfqf_doubt(in, "size record out of range");
	*start = off;
	*xtra = off + size;
	/* The envelope is written in sequence up to M: walk it. */
	for (off = r.next; off < *start; off = r.next) {
		if (pfqf_rec_at(in, off, &r) != PFQF_OK)
			return PFQF_DOUBT;
		if (r.type == REC_MESG)
			break;
		if (r.type == 0 || strchr(pfqf_env_types, r.type) == NULL)
			return pfqf_doubt(in, "unknown envelope record");
	}
	if (off >= *start || r.len != 0 || r.next != *start)
		return pfqf_doubt(in, "content not where the size record says");
	if (pfqf_rec_at(in, *xtra, &r) != PFQF_OK || r.type != REC_XTRA ||
	    r.len != 0)
		return pfqf_doubt(in, "no extracted marker after the content");
	return PFQF_OK;
}

/* pfqf_pointer - follow a p record: next offset, or -1 */
static off_t
pfqf_pointer(struct pfqf_in *in, const struct pfqf_rec *r, struct buf *b,
    off_t start, off_t *seen, size_t *nseen)
{
	const char *p;
	off_t	to;
	size_t	i;

	if (pfqf_rec_data(in, r, PFQF_MAX_PTRREC, b) != PFQF_OK)
		return -1;
	p = b->s;
	if ((to = pfqf_number(&p)) < 0 || *p != '\0') {
		pfqf_doubt(in, "malformed pointer");
		return -1;
	}
	if (to == 0)
		return r->next;
	if (to < start || to >= in->size) {
		pfqf_doubt(in, "pointer out of range");
		return -1;
	}
	for (i = 0; i < *nseen; i++)
		if (seen[i] == to) {
			pfqf_doubt(in, "pointer loop");
			return -1;
		}
	if (*nseen >= PFQF_MAX_HOPS) {
		pfqf_doubt(in, "too many pointers");
		return -1;
	}
	seen[(*nseen)++] = to;
	return to;
}

/* pfqf_text - one N or L record; 1 at the end of the headers */
static int
pfqf_text(struct pfqf_in *in, const struct pfqf_rec *r, struct buf *b,
    int *cont, struct buf *out)
{
	if (r->len >= PFQF_MAX_OUT || out->len + r->len + 1 > PFQF_MAX_OUT)
		return pfqf_doubt(in, "header section over the bound");
	if (pfqf_rec_data(in, r, PFQF_MAX_OUT, b) != PFQF_OK)
		return PFQF_DOUBT;
	/* postcat's test: a line that is no header and no continuation. */
	if (!*cont && (b->len == 0 || (b->s[0] != ' ' && b->s[0] != '\t' &&
	    pfqf_header_name((unsigned char *)b->s, b->len) == 0)))
		return -1;
	if (memchr(b->s, '\0', b->len) != NULL ||
	    memchr(b->s, '\n', b->len) != NULL)
		return pfqf_doubt(in, "NUL or LF in a header line");
	buf_add(out, b->s, b->len);
	if (r->type == REC_NORM)
		buf_addch(out, '\n');
	*cont = r->type == REC_CONT;
	return PFQF_OK;
}

/* pfqf_content - walk the content from start until the headers end */
static int
pfqf_content(struct pfqf_in *in, off_t start, struct buf *b,
    struct buf *out)
{
	struct pfqf_rec r;
	off_t	*seen, off = start;
	size_t	nseen = 0;
	int	st, cont = 0;

	seen = xcalloc(PFQF_MAX_HOPS, sizeof(*seen));
	for (;;) {
		if ((st = pfqf_rec_at(in, off, &r)) != PFQF_OK)
			break;
		if (r.type == REC_NORM || r.type == REC_CONT) {
			if ((st = pfqf_text(in, &r, b, &cont, out)) != PFQF_OK)
				break;
			off = r.next;
		} else if (r.type == REC_DTXT) {
			off = r.next;
		} else if (r.type == REC_PTR) {
			off = pfqf_pointer(in, &r, b, start, seen, &nseen);
			if (off < 0) {
				st = PFQF_DOUBT;
				break;
			}
		} else if (r.type == REC_XTRA) {
			if (cont)
				buf_addch(out, '\n');
			break;
		} else {
			st = pfqf_doubt(in, "unexpected record in the content");
			break;
		}
	}
	free(seen);
	return st < 0 ? PFQF_OK : st;
}

/* pfqf_parse - the header section, read through rd (see above) */
int
pfqf_parse(pfqf_read_fn rd, void *ctx, off_t size, struct buf *out,
    const char **why)
{
	struct pfqf_in *in;
	struct buf b = BUF_INIT;
	off_t	start, xtra;
	int	st;

	buf_reset(out);
	in = xcalloc(1, sizeof(*in));
	in->read = rd;
	in->ctx = ctx;
	in->size = size;
	if (size < 0 || size > PFQF_MAX_FILE)
		st = pfqf_doubt(in, "file size out of range");
	else if ((st = pfqf_envelope(in, &b, &start, &xtra)) == PFQF_OK)
		st = pfqf_content(in, start, &b, out);
	if (st != PFQF_OK)
		buf_reset(out);
	if (why != NULL)
		*why = st == PFQF_OK ? NULL : in->why;
	free(in);
	buf_free(&b);
	return st;
}

struct pfqf_mem {
	const unsigned char *p;
	size_t	len;
};

/* pfqf_mem_read - pread on a memory buffer */
static ssize_t
pfqf_mem_read(void *ctx, void *p, size_t len, off_t off)
{
	struct pfqf_mem *m = ctx;

	if (off < 0 || (size_t)off > m->len)
		return -1;
	if (len > m->len - (size_t)off)
		len = m->len - (size_t)off;
	memcpy(p, m->p + off, len);
	return (ssize_t)len;
}

/* pfqf_parse_mem - pfqf_parse() on a queue file in memory */
int
pfqf_parse_mem(const void *p, size_t len, struct buf *out, const char **why)
{
	struct pfqf_mem m;

	m.p = p;
	m.len = len;
	if (len > (size_t)PFQF_MAX_FILE) {
		buf_reset(out);
		if (why != NULL)
			*why = "file size out of range";
		return PFQF_DOUBT;
	}
	return pfqf_parse(pfqf_mem_read, &m, (off_t)len, out, why);
}

/* pfqf_status_name - "ok", "doubt", "gone" */
const char *
pfqf_status_name(int st)
{
	switch (st) {
	case PFQF_OK:
		return "ok";
	case PFQF_GONE:
		return "gone";
	default:
		return "doubt";
	}
}

/* pfqf_queue_ok - one of the queues a reader may open */
static int
pfqf_queue_ok(const char *queue)
{
	const char *const *q;

	for (q = pfqf_queues; *q != NULL; q++)
		if (strcmp(*q, queue) == 0)
			return 1;
	return 0;
}

/* pfqf_hashed - queue is named in the list (commas and blanks) */
static int
pfqf_hashed(const char *list, const char *queue)
{
	size_t	n, qlen = strlen(queue);

	while (*list != '\0') {
		list += strspn(list, ", \t");
		n = strcspn(list, ", \t");
		if (n == qlen && strncasecmp(list, queue, n) == 0)
			return 1;
		list += n;
	}
	return 0;
}

/* pfqf_hash_name - what Postfix hashes a queue ID's directory on */
static void
pfqf_hash_name(const char *qid, char *name, size_t size)
{
	static const char safe[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	const char *z, *c;
	unsigned long usec = 0;
	int	i;

	/* A long ID: the 4 base-52 digits of microseconds before the z. */
	z = strrchr(qid, 'z');
	if (z == NULL || z - qid < 10) {
		snprintf(name, size, "%s", qid);
		return;
	}
	for (i = 4; i > 0; i--) {
		if ((c = strchr(safe, z[-i])) == NULL || *c == '\0') {
			usec = 0;
			break;
		}
		usec = usec * 52 + (unsigned long)(c - safe);
	}
	snprintf(name, size, "%05lX", usec);
}

/* pfqf_queue_path - queue/[hash/]ID relative to the queue directory */
int
pfqf_queue_path(struct buf *path, const char *queue, const char *qid,
    const char *hash_queues, int depth)
{
	char	name[40];
	int	i;

	buf_reset(path);
	if (!pfqf_queue_ok(queue) || !qid_valid(qid) || depth < 1 ||
	    depth > PFQF_MAX_DEPTH)
		return -1;
	buf_printf(path, "%s/", queue);
	if (pfqf_hashed(hash_queues != NULL ? hash_queues :
	    "deferred, defer", queue)) {
		pfqf_hash_name(qid, name, sizeof(name));
		for (i = 0; i < depth; i++)
			buf_printf(path, "%c/", i < (int)strlen(name) ?
			    name[i] : '_');
	}
	buf_cat(path, qid);
	buf_terminate(path);
	return 0;
}

/* pfqf_send - write all of p; -1 on error */
static int
pfqf_send(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, c, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* pfqf_recv - read exactly len octets, waiting at most ms per read */
static int
pfqf_recv(int fd, void *p, size_t len, int ms)
{
	struct pollfd pfd;
	char	*c = p;
	ssize_t	n;
	int	r;

	while (len > 0) {
		if (ms >= 0) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			if ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
		}
		if ((n = read(fd, c, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* pfqf_frame - a 4-octet big-endian length, then the data */
static int
pfqf_frame(int fd, int status, const void *p, size_t len)
{
	unsigned char h[5];
	int	n = 0;

	if (status >= 0)
		h[n++] = (unsigned char)status;
	h[n++] = (unsigned char)(len >> 24);
	h[n++] = (unsigned char)(len >> 16);
	h[n++] = (unsigned char)(len >> 8);
	h[n++] = (unsigned char)len;
	if (pfqf_send(fd, h, (size_t)n) < 0 || pfqf_send(fd, p, len) < 0)
		return -1;
	return 0;
}

/* pfqf_length - decode a 4-octet big-endian length */
static size_t
pfqf_length(const unsigned char *h)
{
	return (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 |
	    (size_t)h[3];
}

/* pfqf_fd_read - the pread callback on a file descriptor */
static ssize_t
pfqf_fd_read(void *ctx, void *p, size_t len, off_t off)
{
	int	fd = *(int *)ctx;
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		n = pread(fd, (char *)p + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* pfqf_open - open path below dirfd, no symlink anywhere; fd or -1 */
static int
pfqf_open(int dirfd, char *path)
{
	char	*slash, *name = path;
	int	fd = dirfd, nfd, e;

	while ((slash = strchr(name, '/')) != NULL) {
		*slash = '\0';
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e = errno;
		*slash = '/';
		if (fd != dirfd)
			close(fd);
		if (nfd < 0) {
			errno = e;
			return -1;
		}
		fd = nfd;
		name = slash + 1;
	}
	nfd = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	e = errno;
	if (fd != dirfd)
		close(fd);
	errno = e;
	return nfd;
}

struct pfqf_child {
	int	sock;
	int	dirfd;
	uid_t	uid;
	const char *hash_queues;
	int	depth;
};

/* pfqf_child_one - answer one request "queue SP qid" */
static int
pfqf_child_one(struct pfqf_child *c, char *req, struct buf *out)
{
	struct buf path = BUF_INIT;
	struct stat sb;
	const char *why = NULL;
	char	*qid;
	int	fd, st;

	buf_reset(out);
	if ((qid = strchr(req, ' ')) == NULL)
		why = "malformed request";
	else {
		*qid++ = '\0';
		if (pfqf_queue_path(&path, req, qid, c->hash_queues,
		    c->depth) < 0)
			why = "bad queue name or queue ID";
	}
	if (why != NULL) {
		buf_free(&path);
		return pfqf_frame(c->sock, PFQF_DOUBT, why, strlen(why));
	}
	if ((fd = pfqf_open(c->dirfd, path.s)) < 0) {
		st = errno == ENOENT ? PFQF_GONE : PFQF_DOUBT;
		why = errno == ENOENT ? "" : "cannot open the queue file";
	} else if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != c->uid || sb.st_size > PFQF_MAX_FILE ||
	    (sb.st_mode & S_IXUSR) == 0) {
		st = PFQF_DOUBT;
		why = "not a complete queue file of mail_owner";
	} else
		st = pfqf_parse(pfqf_fd_read, &fd, sb.st_size, out, &why);
	if (fd >= 0)
		close(fd);
	buf_free(&path);
	if (st == PFQF_OK)
		return pfqf_frame(c->sock, st, out->s, out->len);
	if (why == NULL)
		why = "?";
	return pfqf_frame(c->sock, st, why, strlen(why));
}

/* pfqf_child_loop - serve requests until the parent closes */
static void
pfqf_child_loop(struct pfqf_child *c)
{
	struct buf out = BUF_INIT;
	unsigned char h[4];
	char	req[PFQF_MAX_REQ + 1];
	size_t	len;

	for (;;) {
		if (pfqf_recv(c->sock, h, sizeof(h), -1) < 0)
			break;
		if ((len = pfqf_length(h)) == 0 || len > PFQF_MAX_REQ ||
		    pfqf_recv(c->sock, req, len, -1) < 0)
			break;
		req[len] = '\0';
		if (memchr(req, '\0', len) != NULL)
			break;
		if (pfqf_child_one(c, req, &out) < 0)
			break;
	}
	buf_free(&out);
}

/* pfqf_drop - become uid/gid with groups; 0 when root is gone for good */
static int
pfqf_drop(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	if (geteuid() != 0)
		return getuid() == geteuid() ? 0 : -1;
	if (setgroups((size_t)ngroups, groups) < 0 || setgid(gid) < 0 ||
	    setuid(uid) < 0)
		return -1;
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -1;
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || uid == 0)
		return -1;
	return 0;
}

/* pfqf_child_main - the reader process: drop root, open, serve */
static void
pfqf_child_main(int sock, const char *queue_dir, const struct passwd *pw,
    const gid_t *groups, int ngroups, const char *hash_queues, int depth)
{
	struct pfqf_child c;
	unsigned char ok;
	int	fd, max;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* Nothing of the parent's (Redis, listeners) stays open here. */
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != sock)
			close(fd);
	memset(&c, 0, sizeof(c));
	c.sock = sock;
	c.uid = pw->pw_uid;
	c.hash_queues = hash_queues;
	c.depth = depth;
	ok = pfqf_drop(pw->pw_uid, pw->pw_gid, groups, ngroups) == 0 &&
	    (c.dirfd = open(queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0;
	if (pfqf_send(sock, &ok, 1) < 0 || !ok)
		_exit(1);
	pfqf_child_loop(&c);
	_exit(0);
}

/* pfqf_reader_start - start the reader process; NULL on failure */
struct pfqf_reader *
pfqf_reader_start(const char *queue_dir, const char *mail_owner,
    const char *hash_queues, int depth)
{
	struct pfqf_reader *rd;
	struct passwd *pw;
	gid_t	groups[PFQF_MAX_GROUPS];
	int	ngroups = PFQF_MAX_GROUPS, sv[2];
	unsigned char ok = 0;
	pid_t	pid;

	if (depth < 1 || depth > PFQF_MAX_DEPTH) {
		log_warnx("pfqfile: hash_queue_depth %d out of range", depth);
		return NULL;
	}
	if ((pw = getpwnam(mail_owner)) == NULL || pw->pw_uid == 0) {
		log_warnx("pfqfile: mail_owner %s: unknown or root",
		    mail_owner);
		return NULL;
	}
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) < 0) {
		log_warnx("pfqfile: mail_owner %s: too many groups",
		    mail_owner);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("pfqfile: socketpair");
		return NULL;
	}
	if ((pid = fork()) < 0) {
		log_warn("pfqfile: fork");
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		pfqf_child_main(sv[1], queue_dir, pw, groups, ngroups,
		    hash_queues, depth);
	}
	close(sv[1]);
	rd = xcalloc(1, sizeof(*rd));
	rd->pid = pid;
	rd->fd = sv[0];
	if (pfqf_recv(rd->fd, &ok, 1, PFQF_TIMEOUT_MS) < 0 || ok != 1) {
		log_warnx("pfqfile: reader for %s as %s did not start",
		    queue_dir, mail_owner);
		pfqf_reader_stop(rd);
		return NULL;
	}
	return rd;
}

/* pfqf_reader_kill - end a reader that broke the protocol */
static int
pfqf_reader_kill(struct pfqf_reader *rd, const char *why)
{
	log_warnx("pfqfile: reader pid %ld: %s", (long)rd->pid, why);
	if (!rd->dead && rd->pid > 0)
		kill(rd->pid, SIGKILL);
	rd->dead = 1;
	return PFQF_DOUBT;
}

/* pfqf_reader_headers - the header section of queue/qid into out */
int
pfqf_reader_headers(struct pfqf_reader *rd, const char *queue,
    const char *qid, struct buf *out)
{
	unsigned char h[5];
	char	req[PFQF_MAX_REQ], why[PFQF_MAX_WHY + 1];
	size_t	len;
	int	n, st;

	buf_reset(out);
	if (rd == NULL || rd->dead)
		return PFQF_DOUBT;
	if (!pfqf_queue_ok(queue) || !qid_valid(qid))
		return PFQF_DOUBT;
	n = snprintf(req, sizeof(req), "%s %s", queue, qid);
	if (n < 0 || (size_t)n >= sizeof(req))
		return PFQF_DOUBT;
	if (pfqf_frame(rd->fd, -1, req, (size_t)n) < 0)
		return pfqf_reader_kill(rd, "cannot send a request");
	if (pfqf_recv(rd->fd, h, sizeof(h), PFQF_TIMEOUT_MS) < 0)
		return pfqf_reader_kill(rd, "no reply");
	st = h[0];
	len = pfqf_length(h + 1);
	if (st == PFQF_OK && len <= PFQF_MAX_OUT) {
		buf_grow(out, len + 1);
		if (pfqf_recv(rd->fd, out->s, len, PFQF_TIMEOUT_MS) < 0)
			return pfqf_reader_kill(rd, "short reply");
		out->len = len;
		buf_terminate(out);
		return PFQF_OK;
	}
	if ((st != PFQF_DOUBT && st != PFQF_GONE) || len > PFQF_MAX_WHY)
		return pfqf_reader_kill(rd, "malformed reply");
	if (pfqf_recv(rd->fd, why, len, PFQF_TIMEOUT_MS) < 0)
		return pfqf_reader_kill(rd, "short reply");
	why[len] = '\0';
	if (st == PFQF_DOUBT)
		log_warnx("%s: pfqfile: %s/%s: %s", qid, queue, qid, why);
	return st;
}

/* pfqf_reader_stop - close the channel, reap the reader */
void
pfqf_reader_stop(struct pfqf_reader *rd)
{
	int	i, status;

	if (rd == NULL)
		return;
	close(rd->fd);
	/* The reader exits on EOF; give it a second, then kill it. */
	for (i = 0; i < 100; i++) {
		if (waitpid(rd->pid, &status, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	if (i == 100) {
		kill(rd->pid, SIGKILL);
		waitpid(rd->pid, &status, 0);
	}
	free(rd);
}
