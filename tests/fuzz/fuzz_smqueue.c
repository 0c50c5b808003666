/*
 * NAME
 *	fuzz_smqueue - libFuzzer target: Sendmail queue files and sendmail.cf
 * DESCRIPTION
 *	The input goes whole through smq_qf_parse() (with and without the
 *	header copy) and smq_cf_parse(); its first line through smq_time()
 *	and smq_qid_valid().  Checks:
 *	- a control file parses the same with or without headers asked
 *	  for, is accepted only with a V line and a closing "." line, and
 *	  a refusal says why;
 *	- every recipient has its NOTIFY (empty, NEVER, or a list of
 *	  SUCCESS, FAILURE, DELAY) and ORCPT slots; RET is "", FULL or
 *	  HDRS; the header copy is "Name: value" lines and continuations;
 *	- an accepted sendmail.cf names an absolute queue directory without
 *	  '*', and the lifetime is not negative;
 *	- a time value is -1 or not negative; a valid queue ID has the
 *	  full form.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mail/qid.h"
#include "mail/smqueue.h"

/* notify_ok - "", NEVER, or SUCCESS,FAILURE,DELAY in that order */
static int
notify_ok(const char *n)
{
	static const char *const ok[] = { "", "NEVER", "SUCCESS", "FAILURE",
		"DELAY", "SUCCESS,FAILURE", "SUCCESS,DELAY", "FAILURE,DELAY",
		"SUCCESS,FAILURE,DELAY", NULL };
	size_t	i;

	for (i = 0; ok[i]; i++)
		if (strcmp(n, ok[i]) == 0)
			return 1;
	return 0;
}

/* has_line - does the text hold the line s */
static int
has_line(const char *t, size_t len, const char *s)
{
	size_t	n = strlen(s), i;

	for (i = 0; i + n < len; i++)
		if ((i == 0 || t[i - 1] == '\n') && memcmp(t + i, s, n) == 0 &&
		    t[i + n] == '\n')
			return 1;
	return 0;
}

/* check_qf - a control file */
static void
check_qf(const char *t, size_t len)
{
	struct smq_qf qf, qf2;
	struct buf hdrs = BUF_INIT;
	const char *why, *why2, *p, *nl;
	size_t	i;
	int	rc;

	rc = smq_qf_parse(t, len, &qf, &hdrs, &why);
	FUZZ_CHECK(rc == smq_qf_parse(t, len, &qf2, NULL, &why2));
	if (rc < 0) {
		FUZZ_CHECK(why != NULL && why2 != NULL);
		smq_qf_free(&qf);
		smq_qf_free(&qf2);
		buf_free(&hdrs);
		return;
	}
	FUZZ_CHECK(why == NULL && has_line(t, len, "."));
	FUZZ_CHECK(qf.nrcpt == qf2.nrcpt && qf.ctime == qf2.ctime &&
	    qf.quarantined == qf2.quarantined);
	FUZZ_CHECK(strcmp(qf.ret, "") == 0 || strcmp(qf.ret, "FULL") == 0 ||
	    strcmp(qf.ret, "HDRS") == 0);
	FUZZ_CHECK(qf.ctime >= -1 && qf.lasttry >= -1 && qf.ntries >= -1);
	for (i = 0; i < qf.nrcpt; i++) {
		FUZZ_CHECK(qf.rcpt[i] != NULL && qf.orcpt[i] != NULL);
		FUZZ_CHECK(notify_ok(qf.notify[i]));
		FUZZ_CHECK(strcmp(qf.rcpt[i], qf2.rcpt[i]) == 0);
		FUZZ_CHECK(strchr(qf.rcpt[i], '\n') == NULL);
	}
	for (p = hdrs.s; p != NULL && p < hdrs.s + hdrs.len; p = nl + 1) {
		nl = memchr(p, '\n', hdrs.len - (size_t)(p - hdrs.s));
		FUZZ_CHECK(nl != NULL);
		FUZZ_CHECK(*p == ' ' || *p == '\t' ||
		    (memchr(p, ':', (size_t)(nl - p)) != NULL && *p != ':'));
	}
	smq_qf_free(&qf);
	smq_qf_free(&qf2);
	buf_free(&hdrs);
}

/* check_cf - a sendmail.cf */
static void
check_cf(const char *t, size_t len)
{
	struct buf qdir = BUF_INIT;
	const char *why;
	long long life;

	if (smq_cf_parse(t, len, &qdir, &life, &why) < 0)
		FUZZ_CHECK(why != NULL);
	else {
		FUZZ_CHECK(why == NULL && qdir.len > 0 && qdir.s[0] == '/' &&
		    strchr(qdir.s, '*') == NULL);
		FUZZ_CHECK(life >= 0);
	}
	buf_free(&qdir);
}

/* check_line - smq_time() and smq_qid_valid() on a short string */
static void
check_line(const char *t, size_t len)
{
	char	s[64];
	size_t	n, i;
	long long v;

	for (n = 0; n < len && n < sizeof(s) - 1 && t[n] != '\n' &&
	    t[n] != '\0'; n++)
		s[n] = t[n];
	s[n] = '\0';
	v = smq_time(s, 'd');
	FUZZ_CHECK(v >= -1);
	if (n > 0 && n < 9 && strspn(s, "0123456789") == n)
		FUZZ_CHECK(v == atoll(s) * 86400);
	if (smq_qid_valid(s)) {
		FUZZ_CHECK(n >= 14 && n <= 20 && qid_valid(s));
		for (i = 8; i < n; i++)
			FUZZ_CHECK(isdigit((unsigned char)s[i]));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*t;

	/* an exact-size copy: the parsers take a length, not a string */
	if ((t = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(t, data, size);
	check_qf(t, size);
	check_cf(t, size);
	check_line(t, size);
	free(t);
	return 0;
}
