/* test_holdtag - tag header round trip, parsing of hostile values, IDs */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail/holdtag.h"
#include "mail/qid.h"
#include "tap.h"

static const struct {
	const char *qid;
	int	ok;
} qids[] = {
	{ "695DCA72210", 1 },	/* Postfix short */
	{ "4Xz1nN0Qb2zN4Vk", 1 },	/* Postfix long */
	{ "6AN5tWjV014046", 1 },	/* Sendmail */
	{ "ALL", 0 }, { "-", 0 }, { "", 0 }, { "ABCD", 0 },
	{ "695DCA72210;id", 0 }, { "../../etc", 0 }, { "-d ALL", 0 },
	{ "695DCA72210\n", 0 },
	{ "0123456789abcdef0123456789abcdefX", 0 },	/* 33 */
};

static const char *const bad_tags[] = {
	"",
	"dialup.test",					/* no token */
	"dialup.test; token=xyz",			/* not hex */
	"dialup.test; token=0123456789abcdef0123456789ABCDEF", /* upper */
	"bad domain; token=0123456789abcdef0123456789abcdef",
	"dialup.test; token=0123456789abcdef0123456789abcdef; arrived=x",
	"dialup.test; token=0123456789abcdef0123456789abcdef0",
	"dialup.test; junk",
};

#define SIGNED	"dialup.test; host=mx.lab.test; token=0123456789abcdef" \
	"0123456789abcdef;\n\tarrived=1790000000; expires=1790432000; " \
	"size=1234;\n\tmac="
#define SIGNED_V1 "dialup.test; host=mx.lab.test; token=0123456789abcdef" \
	"0123456789abcdef;\n\tarrived=1790000000; expires=1790432000;\n\tmac="
#define KEY	"0123456789abcdef0123456789abcdef-test"
#define KEY2	"0123456789abcdef0123456789abcdef-other"

/* Each field of the signed tag changed in turn (its MAC follows). */
static const char *const altered[] = {
	"dialup2.test; host=mx.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000; size=1234",
	"dialup.test; host=mx2.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000; size=1234",
	"dialup.test; host=mx.lab.test; token=1123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000; size=1234",
	"dialup.test; host=mx.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000001; expires=1790432000; size=1234",
	"dialup.test; host=mx.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1799432000; size=1234",
	"dialup.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000; size=1234",
	"dialup.test; host=mx.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000; size=1",
	"dialup.test; host=mx.lab.test; token=0123456789abcdef0123456789"
	    "abcdef; arrived=1790000000; expires=1790432000",	/* no size */
};

/* key_file - write dir/key, len octets, with mode; its path */
static const char *
key_file(const char *dir, char *path, size_t size, size_t len, mode_t mode)
{
	char	data[64];
	int	fd;

	memset(data, 'k', sizeof(data));
	snprintf(path, size, "%s/key", dir);
	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0 ||
	    close(fd) < 0)
		CHECK(0, "cannot write %s", path);
	return path;
}

/* test_key_file - hold_secret_file's checks */
static void
test_key_file(void)
{
	static const struct {
		size_t	len;
		mode_t	mode;
		int	ok;
		const char *why;
	} cases[] = {
		{ 32, 0640, 0, "0640, 32 octets" },
		{ 64, 0600, 0, "0600, 64 octets" },
		{ 31, 0640, -1, "too short" },
		{ 0, 0640, -1, "empty" },
		{ 32, 0660, -1, "group-writable" },
		{ 32, 0642, -1, "world-writable" },
		{ 32, 0644, -1, "world-readable" },
	};
	char	path[128], dir[] = "/tmp/test_holdtag.XXXXXX";
	struct buf err = BUF_INIT;
	size_t	i;
	int	st;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&err);
		key_file(dir, path, sizeof(path), cases[i].len, cases[i].mode);
		st = holdtag_key_load(path, &err);
		CHECK(st == cases[i].ok, "%s: got %d, want %d (%s)",
		    cases[i].why, st, cases[i].ok, err.s ? err.s : "");
		(void)unlink(path);
	}
	buf_reset(&err);
	CHECK(holdtag_key_load(path, &err) < 0 && err.s != NULL &&
	    strstr(err.s, "No such file") != NULL, "missing: %s",
	    err.s ? err.s : "");
	if (geteuid() == 0) {
		/* Root reads nothing in a directory others can write. */
		(void)chmod(dir, 0777);
		key_file(dir, path, sizeof(path), 32, 0640);
		buf_reset(&err);
		CHECK(holdtag_key_load(path, &err) < 0 && err.s != NULL &&
		    strstr(err.s, "writable") != NULL, "world-writable "
		    "directory: %s", err.s ? err.s : "");
		(void)unlink(path);
	}
	(void)rmdir(dir);
	buf_free(&err);
	holdtag_key_set(KEY, sizeof(KEY) - 1);
}

/*
 * test_queued_as - the queue ID in the reply to end of data (smtpd,
 * Sendmail, others)
 */
static void
test_queued_as(void)
{
	static const struct {
		const char *reply, *id;	/* NULL: none found */
	} r[] = {
		{ "250 2.0.0 Ok: queued as 4XyZ1k2QvXz7", "4XyZ1k2QvXz7" },
		{ "250 2.0.0 Ok: queued as ABC123; id=x", "ABC123" },
		{ "250 2.0.0 Ok: queued as ABC123/more", "ABC123" },
		{ "250 2.0.0 5B7Hm1Rj012345 Message accepted for delivery",
		    "5B7Hm1Rj012345" },
		{ "250 2.0.0 a b Message accepted for delivery", NULL },
		{ "250 2.0.0 Ok", NULL },
		{ "250 2.0.0 Ok: queued as ", NULL },
		{ "250 2.0.0 Ok: queued as "
		    "0123456789012345678901234567890123456789", NULL },
		{ NULL, NULL },
	};
	char	id[33];
	const char *got;
	size_t	i;

	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		got = qid_queued_as(r[i].reply, id, sizeof(id));
		CHECK(r[i].id == NULL ? got == NULL : got != NULL &&
		    strcmp(got, r[i].id) == 0, "qid_queued_as('%s'): %s",
		    r[i].reply ? r[i].reply : "(null)", got ? got : "none");
	}
}

int
main(void)
{
	struct holdtag t, u;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	char	tok[33], tok2[33], mac[HOLDTAG_MAC_LEN + 1], line[512];
	char	d1[33], d2[33];
	int	st;
	size_t	i;

	for (i = 0; i < sizeof(qids) / sizeof(qids[0]); i++)
		CHECK(qid_valid(qids[i].qid) == qids[i].ok,
		    "qid_valid('%s'): got %d, want %d", qids[i].qid,
		    qid_valid(qids[i].qid), qids[i].ok);
	CHECK(holdtag_token_new(tok, sizeof(tok)) == 0 && strlen(tok) == 32,
	    "token");
	CHECK(holdtag_token_new(tok2, sizeof(tok2)) == 0 &&
	    strcmp(tok, tok2) != 0, "tokens differ");
	CHECK(holdtag_token_new(tok, 10) < 0, "short buffer refused");

	memset(&t, 0, sizeof(t));
	strcpy(t.domain, "dialup.test");
	strcpy(t.host, "mx.lab.test");
	strcpy(t.token, "0123456789abcdef0123456789abcdef");
	t.arrived = 1790000000;
	t.expires = 1790432000;
	t.size = 1234;

	/* No key: nothing verifies. */
	holdtag_format(&b, &t);
	CHECK(holdtag_parse(b.s, &u) == HOLDTAG_FORGED, "no key: forged");

	holdtag_key_set(KEY, sizeof(KEY) - 1);
	holdtag_format(&b, &t);
	CHECK(strncmp(b.s, SIGNED, strlen(SIGNED)) == 0 && strlen(b.s) ==
	    strlen(SIGNED) + 64 && strspn(b.s + strlen(SIGNED),
	    "0123456789abcdef") == 64, "format: '%s'", b.s);
	CHECK_INT(holdtag_parse(b.s, &u), HOLDTAG_OK, "parse own format");
	CHECK_STR(u.domain, t.domain, "domain");
	CHECK_STR(u.host, t.host, "host");
	CHECK_STR(u.token, t.token, "token");
	CHECK_INT(u.arrived, t.arrived, "arrived");
	CHECK_INT(u.expires, t.expires, "expires");
	CHECK_INT(u.size, t.size, "size");
	snprintf(mac, sizeof(mac), "%s", u.mac);

	/* As Postfix shows it after folding with CRLF. */
	snprintf(line, sizeof(line), " dialup.test; host=mx.lab.test;\r\n\t"
	    "token=0123456789abcdef0123456789abcdef; future=1; "
	    "arrived=1790000000;\r\n\texpires=1790432000; size=1234; mac=%s",
	    mac);
	CHECK_INT(holdtag_parse(line, &u), HOLDTAG_OK,
	    "folded with CRLF, unknown field ignored");

	/* Each field altered: the MAC no longer verifies. */
	for (i = 0; i < sizeof(altered) / sizeof(altered[0]); i++) {
		snprintf(line, sizeof(line), "%s; mac=%s", altered[i], mac);
		st = holdtag_parse(line, &u);
		CHECK(st == HOLDTAG_FORGED, "altered %zu '%s': got %d, want "
		    "%d", i, line, st, HOLDTAG_FORGED);
	}
	/* The same tag under another installation's secret. */
	holdtag_key_set(KEY2, sizeof(KEY2) - 1);
	CHECK_INT(holdtag_parse(b.s, &u), HOLDTAG_FORGED, "wrong secret");
	holdtag_format(&b2, &t);
	CHECK(strcmp(b.s, b2.s) != 0, "another secret, another MAC");
	holdtag_key_set(KEY, sizeof(KEY) - 1);
	CHECK_INT(holdtag_parse(b.s, &u), HOLDTAG_OK, "right secret again");

	/* A signed tag of the version before size=: it still verifies,
	 * size -1; size= added to it makes it forged. */
	t.size = -1;
	holdtag_format(&b2, &t);
	CHECK(strncmp(b2.s, SIGNED_V1, strlen(SIGNED_V1)) == 0, "format "
	    "without size: '%s'", b2.s);
	CHECK_INT(holdtag_parse(b2.s, &u), HOLDTAG_OK, "tag without size");
	CHECK_INT(u.size, -1, "no size: -1");
	snprintf(line, sizeof(line), "%s; size=1234", b2.s);
	CHECK_INT(holdtag_parse(line, &u), HOLDTAG_FORGED, "size= added");
	t.size = 1234;

	/* A tag of the version before signing: parsed, not trusted. */
	CHECK_INT(holdtag_parse("dialup.test; host=mx.lab.test; "
	    "token=0123456789abcdef0123456789abcdef;\n\tarrived=1790000000; "
	    "expires=1790432000", &u), HOLDTAG_UNSIGNED, "unsigned old tag");
	CHECK_STR(u.token, t.token, "unsigned tag's token");
	CHECK_INT(u.expires, t.expires, "unsigned tag's expires");

	/* A MAC that is no MAC. */
	CHECK_INT(holdtag_parse("dialup.test; token=0123456789abcdef0123456789"
	    "abcdef; mac=xyz", &u), HOLDTAG_BAD, "mac not hex");

	/* Derived names: keyed, the token not in them. */
	holdtag_derive("expired", t.token, d1, sizeof(d1));
	holdtag_derive("delayed", t.token, d2, sizeof(d2));
	CHECK(strlen(d1) == 32 && strstr(d1, "0123456789") == NULL &&
	    strcmp(d1, d2) != 0, "derived '%s' '%s'", d1, d2);
	holdtag_key_set(KEY2, sizeof(KEY2) - 1);
	holdtag_derive("expired", t.token, d2, sizeof(d2));
	CHECK(strcmp(d1, d2) != 0, "derived with another secret");
	holdtag_key_set(KEY, sizeof(KEY) - 1);

	test_key_file();
	test_queued_as();
	for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++)
		CHECK(holdtag_parse(bad_tags[i], &u) < 0,
		    "bad tag %zu '%s' accepted", i, bad_tags[i]);
	buf_free(&b);
	buf_free(&b2);
	return TAP_DONE();
}
