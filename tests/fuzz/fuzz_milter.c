/*
 * NAME
 *	fuzz_milter - libFuzzer target: etrn-milter's callbacks
 * DESCRIPTION
 *	Runs the real callbacks (milter/callbacks.c, hold.c, record.c,
 *	through milter_desc) against the recording libmilter of
 *	fakemilter.c.  The input is lines, one step each:
 *	  C<f><host>  connect; f: 4 (IPv4), 6 (IPv6), u (AF_UNIX), - (no
 *	              address); an empty host is NULL
 *	  D<name>     {daemon_name} ("Ddsn" is the DSN daemon)
 *	  I<qid>      {i} at end of message ("I" alone: unset)
 *	  F<args>     MAIL: sender and ESMTP parameters, blank-separated
 *	  R<args>     RCPT, the same
 *	  H<name>:<value>  a header; \n and \r in it are LF and CR
 *	  E  end of headers     B<text>  a body chunk
 *	  M  end of message     A  abort     X  close
 *	  S0/S1  the Redis write fails/succeeds   P0/P1 the copy's SMTP
 *	  U0/U1  dial-up list not loaded/loaded   Z0/Z1 MTA refuses edits
 *	  O0/O1  on_redis_error tempfail/accept (for new connections)
 *	The steps keep to the order an MTA follows: RCPT only after an
 *	accepted MAIL, up to FAKE_MAX_RCPT accepted recipients (a recipient
 *	limit), a new MAIL in a transaction after an abort (RSET), headers,
 *	body and end of message only with an accepted recipient (any of
 *	them before connect, to test the missing state); connect, abort
 *	and close may come anywhere.  At the end the connection is closed,
 *	as libmilter always does.
 *	What talks to the outside is replaced here: store_hold() (Redis),
 *	reinject_copy() (SMTP), domcache_lookup() (a fixed list instead of
 *	the Redis-fed cache), the configuration (two fixed ones instead of
 *	main.c's) and the log (a sink that formats every line).
 *	Checks, besides fakemilter.c's:
 *	- a refused command has a reply of its class (4xx tempfail, 5xx
 *	  reject);
 *	- with on_redis_error = tempfail, an accepted message leaves no
 *	  dial-up recipient unheld: each is deleted (copied by SMTP) or the
 *	  message is quarantined and tagged; a DSN connection's messages
 *	  are all quarantined;
 *	- the Redis write gets a valid queue ID, a dial-up domain, a token
 *	  and a deadline after the arrival;
 *	- close leaves no private data, no open spool file, and releases
 *	  its configuration.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fakemilter.h"
#include "fuzz.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "milter/milter.h"
#include "util/log.h"
#include "util/xalloc.h"

extern struct smfiDesc milter_desc;

static const char *const dialup[] = { "dialup.test", ".parent.test",
	"b\303\274cher.test", "other.test" };

static struct cfg cfgs[2];	/* on_redis_error tempfail, accept */
static struct domlist dl;
static int cfg_pick, store_ok = 1, copy_ok = 1, loaded = 1, last_dialup;
static int store_failed;

/* cfg_acquire - one of the fixed configurations */
struct cfg *
cfg_acquire(void)
{
	cfgs[cfg_pick].refs++;
	return &cfgs[cfg_pick];
}

/* cfg_release - drop a reference, never the last */
void
cfg_release(struct cfg *c)
{
	FUZZ_CHECK(c != NULL && c->refs > 1);
	c->refs--;
}

/* domcache_lookup - the fixed dial-up list, or not loaded */
enum dc_result
domcache_lookup(const char *domain, long long *hold, long long *warn)
{
	const struct dom_entry *e;

	if (!loaded)
		return DC_UNKNOWN;
	if ((e = domlist_match(&dl, domain)) == NULL)
		return DC_NO;
	*hold = e->hold_time;
	*warn = e->warn_time;
	last_dialup = 1;
	return DC_YES;
}

/* store_hold - check what Redis would get; fail on request */
int
store_hold(const struct cfg *c, const struct msg *m, const struct rgroup *g,
    const struct hold_info *h, struct buf *err)
{
	(void)c;
	FUZZ_CHECK(h->qid != NULL && qid_valid(h->qid));
	FUZZ_CHECK(g->n > 0 && domlist_match(&dl, g->domain) != NULL);
	FUZZ_CHECK(strcmp(h->domain, g->domain) == 0);
	FUZZ_CHECK(h->token != NULL && strlen(h->token) == 32);
	FUZZ_CHECK(h->expires > h->arrived && h->client != NULL);
	FUZZ_CHECK(m->sender != NULL);
	if (store_ok)
		return 0;
	store_failed = 1;
	buf_printf(err, "Redis write refused (fuzz)");
	return -1;
}

/* reinject_copy - no SMTP: succeed or fail on request */
int
reinject_copy(const struct cfg *c, struct msg *m, const struct rgroup *g,
    struct buf *queued, struct buf *err)
{
	(void)c;
	FUZZ_CHECK(g->n > 0 && g->domain != NULL);
	/* as the real one: without a copy, nothing to send */
	if (m->spool == NULL || m->spool_error) {
		buf_cat(err, "no spooled copy of the message");
		return -1;
	}
	if (copy_ok) {
		buf_printf(queued, "250 2.0.0 Ok: queued as FUZZ");
		return 0;
	}
	buf_printf(err, "451 4.3.0 copy refused (fuzz)");
	return -1;
}

/* reinject_probe - no SMTP */
int
reinject_probe(const struct cfg *c)
{
	(void)c;
	return 0;
}

/* The log: every line is formatted (its arguments must be valid). */
int log_verbose = 1;

static void sink(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* sink - format a log line and drop it */
static void
sink(const char *fmt, va_list ap)
{
	char	line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
}

#define SINK(name)							\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	sink(fmt, ap);							\
	va_end(ap);							\
}
SINK(log_info)
SINK(log_debug)
SINK(log_warn)
SINK(log_warnx)
SINK(log_err)

/* log_fatal - an exit is a crash here */
void
log_fatal(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

/* log_fatalx - the same */
void
log_fatalx(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

/* log_panic - the same */
void
log_panic(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

/* log_init - nothing to open */
void
log_init(const char *prog, int facility, int to_stderr)
{
	(void)prog;
	(void)facility;
	(void)to_stderr;
}

/* log_set_target - nothing to choose */
void
log_set_target(int target)
{
	(void)target;
}

/* log_detach - nothing to detach */
void
log_detach(void)
{
}

/* log_set_facility - nothing to set */
void
log_set_facility(int facility)
{
	(void)facility;
}

/* log_facility_lookup - any name is mail */
int
log_facility_lookup(const char *name)
{
	(void)name;
	return LOG_MAIL;
}

/* setup - the configurations and the dial-up list, once */
static void
setup(void)
{
	static int done;
	struct buf err = BUF_INIT;
	size_t	i;
	int	k;

	if (done)
		return;
	done = 1;
	for (k = 0; k < 2; k++) {
		FUZZ_CHECK(settings_load_string(&cfgs[k].s, k ?
		    "hostname = mx.test\ntmp_directory = /tmp\n"
		    "dsn_daemon_name = dsn\non_redis_error = accept\n" :
		    "hostname = mx.test\ntmp_directory = /tmp\n"
		    "dsn_daemon_name = dsn\nmax_header_bytes = 1k\n",
		    &err) == 0);
		cfgs[k].refs = 1;
	}
	domlist_init(&dl);
	for (i = 0; i < sizeof(dialup) / sizeof(dialup[0]); i++)
		FUZZ_CHECK(domlist_add(&dl, dialup[i], i == 3 ? 3600 : 0,
		    i == 3 ? 600 : -1, NULL) == 0);
	domlist_sort(&dl);
	buf_free(&err);
}

/* split - blank-separated words of s (modified), NULL-terminated */
static char **
split(char *s)
{
	char	**v = xcalloc(strlen(s) / 2 + 2, sizeof(char *));
	size_t	n = 0;
	char	*w;

	for (w = strtok(s, " "); w != NULL; w = strtok(NULL, " "))
		v[n++] = w;
	return v;
}

/* unescape - \n and \r become LF and CR, in place */
static void
unescape(char *s)
{
	char	*d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == 'n' || s[1] == 'r')) {
			*d++ = s[1] == 'n' ? '\n' : '\r';
			s++;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/* check_status - a refusal comes with a reply of its class */
static void
check_status(SMFICTX *ctx, sfsistat rc)
{
	if (ctx->nreply == 0)
		return;
	FUZZ_CHECK(rc == SMFIS_TEMPFAIL || rc == SMFIS_REJECT);
	FUZZ_CHECK(ctx->rcode[0] == (rc == SMFIS_TEMPFAIL ? '4' : '5'));
}

/* check_held - an accepted message leaves no dial-up recipient unheld */
static void
check_held(SMFICTX *ctx, int dsn, int accept_mode)
{
	int	i;

	if (dsn) {
		FUZZ_CHECK(ctx->quarantined);
		return;
	}
	FUZZ_CHECK(ctx->quarantined == (ctx->tagged > 0));
	if (accept_mode && store_failed)
		return;
	for (i = 0; i < ctx->nrcpt; i++)
		if (ctx->dialup[i] && !ctx->deleted[i])
			FUZZ_CHECK(ctx->quarantined);
}

/* do_connect - C<f><host> */
static sfsistat
do_connect(SMFICTX *ctx, char *arg)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr_un su;
	_SOCK_ADDR *sa = NULL;
	char	*host = *arg ? arg + 1 : arg;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	memset(&su, 0, sizeof(su));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(0xc0000207);
	s6.sin6_family = AF_INET6;
	s6.sin6_addr.s6_addr[15] = 1;
	su.sun_family = AF_UNIX;
	if (*arg == '4')
		sa = (_SOCK_ADDR *)&s4;
	else if (*arg == '6')
		sa = (_SOCK_ADDR *)&s6;
	else if (*arg == 'u')
		sa = (_SOCK_ADDR *)&su;
	return milter_desc.xxfi_connect(ctx, *host ? host : NULL, sa);
}

/* step - one line of the input */
static void
step(SMFICTX *ctx, char *line)
{
	struct conn *cn;
	char	**argv, *colon;
	sfsistat rc = SMFIS_CONTINUE;
	int	dsn, accept_mode;

	ctx->nreply = 0;
	/* DATA only in a transaction with a recipient (or no connection) */
	if (strchr("HEBM", line[0]) != NULL && line[0] != '\0' &&
	    ctx->priv != NULL && (!ctx->in_msg || ctx->nrcpt == 0))
		return;
	switch (line[0]) {
	case 'C':
		if (ctx->priv == NULL)	/* one connection per context */
			rc = do_connect(ctx, line + 1);
		break;
	case 'D':
		free((char *)ctx->daemon);
		ctx->daemon = xstrdup(line + 1);
		break;
	case 'I':
		free((char *)ctx->qid);
		ctx->qid = line[1] ? xstrdup(line + 1) : NULL;
		break;
	case 'F':
		argv = split(line + 1);
		if (argv[0] == NULL) {	/* MAIL always has an address */
			free(argv);
			break;
		}
		if (ctx->in_msg)	/* a new MAIL: RSET, then MAIL */
			(void)milter_desc.xxfi_abort(ctx);
		fake_msg_reset(ctx);
		rc = milter_desc.xxfi_envfrom(ctx, argv);
		ctx->in_msg = rc == SMFIS_CONTINUE;
		free(argv);
		break;
	case 'R':
		/* the MTA sends MAIL first, and has a recipient limit */
		if (!ctx->in_msg || ctx->nrcpt == FAKE_MAX_RCPT)
			break;
		argv = split(line + 1);
		last_dialup = 0;
		rc = milter_desc.xxfi_envrcpt(ctx, argv);
		if (rc == SMFIS_CONTINUE && argv[0] != NULL) {
			ctx->rcpt[ctx->nrcpt] = xstrdup(argv[0]);
			ctx->dialup[ctx->nrcpt] = last_dialup;
			ctx->deleted[ctx->nrcpt++] = 0;
		}
		free(argv);
		break;
	case 'H':
		unescape(line + 1);
		if ((colon = strchr(line + 1, ':')) == NULL)
			break;
		*colon = '\0';
		if (strcasecmp(line + 1, HOLDTAG_HEADER) == 0)
			ctx->nhold++;
		rc = milter_desc.xxfi_header(ctx, line + 1, colon + 1);
		break;
	case 'E':
		rc = milter_desc.xxfi_eoh(ctx);
		break;
	case 'B':
		rc = milter_desc.xxfi_body(ctx, (unsigned char *)line + 1,
		    strlen(line + 1));
		break;
	case 'M':
		cn = ctx->priv;
		dsn = cn != NULL && cn->dsn;
		accept_mode = cn != NULL &&
		    cn->cfg->s.on_redis_error == ON_ERROR_ACCEPT;
		store_failed = 0;
		ctx->in_eom = 1;
		rc = milter_desc.xxfi_eom(ctx);
		ctx->in_eom = 0;
		if (rc == SMFIS_CONTINUE && !ctx->refuse)
			check_held(ctx, dsn, accept_mode);
		fake_msg_reset(ctx);
		ctx->in_msg = 0;
		break;
	case 'A':
		rc = milter_desc.xxfi_abort(ctx);
		fake_msg_reset(ctx);
		ctx->in_msg = 0;
		break;
	case 'X':
		rc = milter_desc.xxfi_close(ctx);
		FUZZ_CHECK(ctx->priv == NULL);
		fake_msg_reset(ctx);
		ctx->in_msg = 0;
		break;
	case 'S':
		store_ok = line[1] != '0';
		break;
	case 'P':
		copy_ok = line[1] != '0';
		break;
	case 'U':
		loaded = line[1] != '0';
		break;
	case 'Z':
		ctx->refuse = line[1] == '1';
		break;
	case 'O':
		cfg_pick = line[1] == '1';
		break;
	}
	check_status(ctx, rc);
}

/* lowest_fd - the lowest free descriptor (spool files must be closed) */
static int
lowest_fd(void)
{
	int	fd = open("/dev/null", O_RDONLY);

	FUZZ_CHECK(fd >= 0);
	close(fd);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int first_fd = -1;
	struct smfi_str ctx;
	char	*text, *line, *next;

	setup();
	if (first_fd < 0)
		first_fd = lowest_fd();
	store_ok = copy_ok = loaded = 1;
	cfg_pick = 0;
	memset(&ctx, 0, sizeof(ctx));
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';	/* a NUL ends the input, as in a C string */
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		step(&ctx, line);
	}
	(void)milter_desc.xxfi_close(&ctx);
	FUZZ_CHECK(ctx.priv == NULL);
	FUZZ_CHECK(cfgs[0].refs == 1 && cfgs[1].refs == 1);
	FUZZ_CHECK(lowest_fd() == first_fd);
	fake_msg_reset(&ctx);
	free((char *)ctx.daemon);
	free((char *)ctx.qid);
	free(text);
	return 0;
}
