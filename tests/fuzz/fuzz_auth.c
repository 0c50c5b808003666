/*
 * NAME
 *	fuzz_auth - libFuzzer target: an AUTH exchange (RFC 4954), Cyrus SASL
 * DESCRIPTION
 *	The input is lines: the argument of AUTH as the ODMR session hands
 *	it over ("MECHANISM [initial-response]"), then the client's
 *	responses.  Runs authline_parse(), authline_decode() and
 *	authline_response() (lib/mail/authline.c) and checks:
 *	- an accepted mechanism is the first word, 1 to 20 letters, digits,
 *	  "-" or "_"; the initial response is the rest after the blanks,
 *	  NULL when there is none; any other first word is refused;
 *	- decoding agrees with Cyrus SASL's sasl_decode64() on what is
 *	  base64 and on every octet ("=" aside: the empty initial
 *	  response), for outputs of 1, 4, 17 and 12288 octets; nothing is
 *	  written past the output (an exact-size allocation), the result is
 *	  NUL terminated and re-encodes to itself;
 *	- "*" is a cancel and nothing else is.
 *	Then the exchange runs against Cyrus SASL's server (started once,
 *	sasldb in a temporary directory with the one user "cust", password
 *	"custpw"; PLAIN, LOGIN and CRAM-MD5), at most ODMR_AUTH_STEPS
 *	challenges as the listener allows, and checks that a success names
 *	"cust" and, for PLAIN and LOGIN, came with the password.
 *	FUZZ_AUTH_NOSASL=1 skips the server part; FUZZ_AUTH_DUMP=1 prints
 *	each exchange's result.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "fuzz.h"
#include "mail/authline.h"

#define LINE_MAX_	12288	/* etrnd/odmr.h ODMR_LINE_MAX */
#define AUTH_STEPS	8	/* etrnd/odmr.h ODMR_AUTH_STEPS */

static char sasldir[] = "/tmp/fuzz-auth.XXXXXX";
static char sasldb[sizeof(sasldir) + 8];
static int sasl_state;		/* 0 not started, 1 up, -1 unavailable */

/* fa_getopt - Cyrus SASL's options: sasldb in the temporary directory */
static int
fa_getopt(void *ctx, const char *plugin, const char *opt, const char **res,
    unsigned *len)
{
	const char *v = NULL;

	(void)ctx;
	(void)plugin;
	if (strcmp(opt, "pwcheck_method") == 0)
		v = "auxprop";
	else if (strcmp(opt, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (strcmp(opt, "sasldb_path") == 0)
		v = sasldb;
	else if (strcmp(opt, "mech_list") == 0)
		v = "PLAIN LOGIN CRAM-MD5";
	if (v == NULL)
		return SASL_FAIL;
	*res = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

/* fa_log - Cyrus SASL's messages: dropped */
static int
fa_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
	return SASL_OK;
}

typedef int (*fa_cb)(void);

static const sasl_callback_t fa_cbs[] = {
	{ SASL_CB_GETOPT, (fa_cb)(void (*)(void))fa_getopt, NULL },
	{ SASL_CB_LOG, (fa_cb)(void (*)(void))fa_log, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* fa_cleanup - the temporary sasldb (and Berkeley DB's files) at exit */
static void
fa_cleanup(void)
{
	char	path[sizeof(sasldir) + 300];
	struct dirent *de;
	DIR	*d;

	sasl_server_done();
	if ((d = opendir(sasldir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sasldir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(sasldir);
}

/* fa_sasl_start - Cyrus SASL's server and its one user, once */
static int
fa_sasl_start(void)
{
	sasl_conn_t *c = NULL;
	const char *e = getenv("FUZZ_AUTH_NOSASL");

	if (sasl_state != 0)
		return sasl_state;
	sasl_state = -1;
	if ((e != NULL && *e == '1') || mkdtemp(sasldir) == NULL)
		return -1;
	snprintf(sasldb, sizeof(sasldb), "%s/sasldb", sasldir);
	atexit(fa_cleanup);
	if (sasl_server_init(fa_cbs, "openetrn-fuzz") != SASL_OK ||
	    sasl_server_new("smtp", "mx.lab.test", NULL, NULL, NULL, NULL, 0,
	    &c) != SASL_OK)
		return -1;
	if (sasl_setpass(c, "cust", "custpw", 6, NULL, 0, SASL_SET_CREATE) !=
	    SASL_OK) {
		fprintf(stderr, "fuzz_auth: no sasldb user: %s\n",
		    sasl_errdetail(c));
		sasl_dispose(&c);
		return -1;
	}
	sasl_dispose(&c);
	sasl_state = 1;
	return 1;
}

/* check_decode - authline_decode() against sasl_decode64() */
static void
check_decode(const char *in, int initial)
{
	static const size_t sizes[] = { 1, 4, 17, LINE_MAX_ };
	static char ref[LINE_MAX_ + 1], again[2 * LINE_MAX_];
	enum authline_status st;
	unsigned reflen = 0, alen;
	size_t	i, len = 0;
	char	*out;
	int	rc;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if ((out = malloc(sizes[i])) == NULL)
			return;
		st = initial ? authline_decode(in, out, sizes[i], &len) :
		    authline_response(in, out, sizes[i], &len);
		if (!initial && strcmp(in, "*") == 0) {
			FUZZ_CHECK(st == AUTHLINE_CANCEL);
			free(out);
			return;
		}
		FUZZ_CHECK(st == AUTHLINE_OK || st == AUTHLINE_B64);
		if (strcmp(in, "=") == 0) {
			FUZZ_CHECK(st == AUTHLINE_OK && len == 0);
			free(out);
			continue;
		}
		rc = sasl_decode64(in, (unsigned)strlen(in), ref,
		    (unsigned)sizes[i], &reflen);
		FUZZ_CHECK((st == AUTHLINE_OK) == (rc == SASL_OK));
		if (st == AUTHLINE_OK) {
			FUZZ_CHECK(len < sizes[i] && out[len] == '\0');
			FUZZ_CHECK(len == reflen && memcmp(out, ref, len) == 0);
			FUZZ_CHECK(sasl_encode64(out, (unsigned)len, again,
			    sizeof(again), &alen) == SASL_OK);
			FUZZ_CHECK(authline_decode(again, ref, len + 1,
			    &len) == AUTHLINE_OK);
			FUZZ_CHECK(len == reflen && memcmp(out, ref, len) == 0);
		}
		free(out);
	}
}

/* check_parse - authline_parse() against the grammar */
static void
check_parse(const char *arg, struct authline *a)
{
	enum authline_status st = authline_parse(arg, a);
	size_t	n = strcspn(arg, " \t"), i;
	int	ok = n >= 1 && n <= AUTHLINE_MECH_MAX;
	const char *rest = arg + n + strspn(arg + n, " \t");

	for (i = 0; ok && i < n; i++)
		ok = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", arg[i]) != NULL;
	FUZZ_CHECK(st == (ok ? AUTHLINE_OK : AUTHLINE_SYNTAX));
	if (!ok)
		return;
	FUZZ_CHECK(strlen(a->mech) == n && strncmp(a->mech, arg, n) == 0);
	FUZZ_CHECK(*rest ? a->initial == rest : a->initial == NULL);
}

/* fa_has - do len octets at p hold s */
static int
fa_has(const char *p, size_t len, const char *s)
{
	size_t	n = strlen(s), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

/* run_sasl - the exchange against Cyrus SASL's server */
static void
run_sasl(const struct authline *a, char **lines, size_t nlines)
{
	static char dec[LINE_MAX_];
	sasl_conn_t *c = NULL;
	const char *out = NULL;
	const void *user = NULL;
	unsigned outlen = 0;
	size_t	i, len = 0, steps = 0;
	int	rc, secret = 0;

	/* as the listener: at most AUTHLINE_RESPONSE_MAX octets */
	if (a->initial != NULL && authline_decode(a->initial, dec,
	    AUTHLINE_RESPONSE_MAX + 1, &len) != AUTHLINE_OK)
		return;
	if (fa_sasl_start() < 0 || sasl_server_new("smtp", "mx.lab.test",
	    NULL, NULL, NULL, NULL, 0, &c) != SASL_OK)
		return;
	secret = a->initial != NULL && fa_has(dec, len, "custpw");
	rc = sasl_server_start(c, a->mech, a->initial ? dec : NULL,
	    (unsigned)len, &out, &outlen);
	for (i = 0; rc == SASL_CONTINUE && i < nlines; i++) {
		if (++steps > AUTH_STEPS ||
		    authline_response(lines[i], dec, AUTHLINE_RESPONSE_MAX +
		    1, &len) != AUTHLINE_OK)
			break;
		secret |= fa_has(dec, len, "custpw");
		rc = sasl_server_step(c, dec, (unsigned)len, &out, &outlen);
	}
	if (getenv("FUZZ_AUTH_DUMP") != NULL)
		fprintf(stderr, "auth: %s: %s after %zu responses\n", a->mech,
		    sasl_errstring(rc, NULL, NULL), steps);
	if (rc == SASL_OK) {
		FUZZ_CHECK(sasl_getprop(c, SASL_USERNAME, &user) == SASL_OK);
		FUZZ_CHECK(user != NULL &&
		    strncmp((const char *)user, "cust", 4) == 0);
		if (strcasecmp(a->mech, "CRAM-MD5") != 0)
			FUZZ_CHECK(secret);
	}
	sasl_dispose(&c);
}

const char *__lsan_default_suppressions(void);

/*
 * Cyrus SASL's LOGIN mechanism leaks the name of an exchange disposed
 * of before its end (liblogin.so, found by this target); the listener's
 * process carries the same leak.
 */
/* __lsan_default_suppressions - the leaks LeakSanitizer does not report */
const char *
__lsan_default_suppressions(void)
{
	return "leak:liblogin.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authline a;
	char	*copy, *p, *lines[64];
	size_t	n = 0;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* lines as the listener passes them: no CR, no NUL, LF cut */
	for (p = copy; n < 64; n++) {
		lines[n] = p;
		p += strcspn(p, "\r\n");
		if (*p == '\0') {
			n++;
			break;
		}
		*p++ = '\0';
	}
	check_parse(lines[0], &a);
	if (a.initial != NULL)
		check_decode(a.initial, 1);
	for (size_t i = 1; i < n; i++)
		check_decode(lines[i], 0);
	if (authline_parse(lines[0], &a) == AUTHLINE_OK)
		run_sasl(&a, lines + 1, n - 1);
	free(copy);
	return 0;
}
