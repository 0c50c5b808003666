/*
 * NAME
 *	test_smtpc - send many messages with smtpc, check and time them
 * SUMMARY
 *	test_smtpc [-lnqv] [-c count] [-e sent|temp|perm] [-m plain|mixed]
 *	    [-R rcpts] [-t secs] server
 * DESCRIPTION
 *	Sends count messages (default 1000) to server ("inet:host:port")
 *	with smtpc_send() over one session, pipelined when the server
 *	offers PIPELINING; -l forces lock-step, -n opens a new session for
 *	each message (as dsnsend does: connect, EHLO, MAIL, RCPT, DATA,
 *	text, QUIT).  -m mixed varies the messages so that a Postfix smtpd
 *	set up by tests/lab/pflab.sh refuses some at RCPT, DATA or after
 *	the text, and checks each outcome.  Prints one summary line:
 *	"sent=N temp=N perm=N io=N wrong=N pipelining=0|1 secs=S rate=R".
 *	-e names the outcome plain messages should have (default sent);
 *	-R sends each plain message to that many recipients (each to be
 *	accepted with 250 when the message is sent);
 *	-q ends with QUIT; -v prints "i status reply" for each message.
 * DIAGNOSTICS
 *	Exit 0 when every message met its expectation (-m plain: sent),
 *	1 otherwise, 2 on usage errors; an I/O error stops the run.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/smtpc.h"

/* The outcome each kind of mixed message should have. */
struct kind {
	const char *from;
	const char *rcpt[2];
	size_t	nrcpt;
	const char *subject;
	enum smtpc_status want;
	int	want_rcpt[2];
};

static const struct kind kinds[] = {
	{ "dsn@lab.test", { "ok@dialup.test" }, 1, "plain", SMTPC_SENT,
	    { 250 } },
	{ "dsn@lab.test", { "rej@dialup.test" }, 1, "plain", SMTPC_PERM,
	    { 554 } },
	{ "dsn@lab.test", { "ok@dialup.test", "rej@dialup.test" }, 2,
	    "plain", SMTPC_SENT, { 250, 554 } },
	{ "dsn@lab.test", { "tmp@dialup.test" }, 1, "plain", SMTPC_TEMP,
	    { 450 } },
	{ "nodata@lab.test", { "ok@dialup.test" }, 1, "plain", SMTPC_PERM,
	    { 250 } },
	{ "dsn@lab.test", { "ok@dialup.test" }, 1, "reject-me", SMTPC_PERM,
	    { 250 } },
};

static struct kind plain = { "", { "ok@dialup.test" }, 1, "plain",
	SMTPC_SENT, { 250 } };

/* Plain messages' recipients with -R, and their reply codes. */
static const char **many;
static int *many_rc;
static size_t nmany;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* usage - print the synopsis and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: test_smtpc [-lnqv] [-c count] "
	    "[-e sent|temp|perm] [-m plain|mixed] [-R rcpts] [-t secs] "
	    "server\n");
	exit(2);
}

/* check - compare one message's outcome with its kind's; 0 if right */
static int
check(long i, const struct kind *k, enum smtpc_status st, const int *rc,
    const struct smtpc *s)
{
	size_t	j;

	if (st != k->want) {
		fprintf(stderr, "message %ld: got status %d, want %d (%s)\n",
		    i, (int)st, (int)k->want, s->last.s ? s->last.s : "");
		return 1;
	}
	for (j = 0; j < k->nrcpt && k->want_rcpt[j] != 0; j++)
		if (rc[j] != k->want_rcpt[j]) {
			fprintf(stderr, "message %ld rcpt %zu: got %d, "
			    "want %d\n", i, j, rc[j], k->want_rcpt[j]);
			return 1;
		}
	return 0;
}

/* send_one - message i of kind k; its status, counted in n */
static enum smtpc_status
send_one(struct smtpc *s, long i, const struct kind *k, int verbose,
    long *n)
{
	struct buf text = BUF_INIT;
	enum smtpc_status st;
	int	rc[2];
	size_t	j;
	int	bad;

	buf_printf(&text, "From: <dsn@lab.test>\nTo: <%s>\n"
	    "Subject: %s\nMessage-ID: <%ld.drive@lab.test>\n\n"
	    "message %ld\n.leading dot\n", k->rcpt[0], k->subject, i, i);
	if (k == &plain && nmany > 0) {
		st = smtpc_send(s, &(struct smtpc_msg){ .from = k->from,
		    .rcpts = many, .nrcpt = nmany, .text = text.s,
		    .len = text.len, .rcpt_code = many_rc });
		for (j = 0, bad = st != k->want; j < nmany; j++)
			bad |= st == SMTPC_SENT && many_rc[j] != 250;
		if (bad)
			fprintf(stderr, "message %ld: status %d (%s)\n", i,
			    (int)st, s->last.s ? s->last.s : "");
	} else {
		st = smtpc_send(s, &(struct smtpc_msg){ .from = k->from,
		    .rcpts = k->rcpt, .nrcpt = k->nrcpt, .text = text.s,
		    .len = text.len, .rcpt_code = rc });
		bad = check(i, k, st, rc, s);
	}
	n[st]++;
	n[4] += bad;
	if (verbose)
		printf("%ld %d %s\n", i, (int)st,
		    s->last.s != NULL ? s->last.s : "");
	buf_free(&text);
	return st;
}

/* set_many - -R: count recipients for plain messages */
static void
set_many(const char *arg)
{
	size_t	j;
	char	name[64];

	nmany = (size_t)atol(arg);
	many = calloc(nmany + 1, sizeof(*many));
	many_rc = calloc(nmany + 1, sizeof(*many_rc));
	if (many == NULL || many_rc == NULL)
		exit(2);
	for (j = 0; j < nmany; j++) {
		snprintf(name, sizeof(name), "ok%zu@dialup.test", j);
		many[j] = strdup(name);
	}
}

int
main(int argc, char **argv)
{
	struct smtpc s;
	struct buf err = BUF_INIT;
	long	count = 1000, i, n[5] = { 0 };
	int	ch, lock = 0, fresh = 0, mixed = 0, quit = 0, tmo = 10;
	int	verbose = 0, pipe = 0, open = 0;
	double	t0, secs;

	while ((ch = getopt(argc, argv, "c:e:lm:nqR:t:v")) != -1) {
		switch (ch) {
		case 'c':
			count = atol(optarg);
			break;
		case 'e':
			plain.want = optarg[0] == 't' ? SMTPC_TEMP :
			    optarg[0] == 'p' ? SMTPC_PERM : SMTPC_SENT;
			plain.want_rcpt[0] = 0;
			break;
		case 'l':
			lock = 1;
			break;
		case 'm':
			mixed = strcmp(optarg, "mixed") == 0;
			break;
		case 'n':
			fresh = 1;
			break;
		case 'q':
			quit = 1;
			break;
		case 'R':
			set_many(optarg);
			break;
		case 't':
			tmo = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	t0 = now();
	for (i = 0; i < count; i++) {
		if (!open) {
			if (smtpc_open(&s, argv[optind], tmo * 1000, "server",
			    "client.lab.test", &err) < 0) {
				fprintf(stderr, "message %ld: %s\n", i,
				    buf_terminate(&err));
				n[SMTPC_IO]++;
				break;
			}
			open = 1;
			pipe = s.pipelining;
			if (lock)
				s.pipelining = 0;
		}
		if (send_one(&s, i, mixed ? &kinds[i % (sizeof(kinds) /
		    sizeof(kinds[0]))] : &plain, verbose, n) == SMTPC_IO) {
			fprintf(stderr, "message %ld: %s\n", i,
			    buf_terminate(&err));
			break;
		}
		if (fresh || i == count - 1) {
			if (fresh || quit)
				(void)smtpc_cmd(&s, 2, "QUIT");
			smtpc_close(&s);
			open = 0;
		}
	}
	if (open)
		smtpc_close(&s);
	secs = now() - t0;
	printf("sent=%ld temp=%ld perm=%ld io=%ld wrong=%ld pipelining=%d "
	    "secs=%.3f rate=%.0f\n", n[SMTPC_SENT], n[SMTPC_TEMP],
	    n[SMTPC_PERM], n[SMTPC_IO], n[4], pipe && !lock, secs,
	    secs > 0 ? (double)(n[0] + n[1] + n[2]) / secs : 0.0);
	buf_free(&err);
	return n[4] || n[SMTPC_IO] || i < count ? 1 : 0;
}
