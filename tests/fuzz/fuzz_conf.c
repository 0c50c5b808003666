/*
 * NAME
 *	fuzz_conf - libFuzzer target: the configuration file parser
 * DESCRIPTION
 *	The input is the text of a configuration file.  It is loaded twice:
 *	into openetrn.conf's settings (settings_load_string(), or through a
 *	file with settings_load() when it holds a NUL byte, which only a
 *	file can), and into a small table with one setting of every type
 *	(conf_load_string()).  Checks:
 *	- a failure always comes with a message naming the origin, and a
 *	  line number within the text when it gives one;
 *	- loaded settings respect their bounds and the cross-field checks
 *	  (canonical host name, warn_time below hold_time, known MTA,
 *	  absolute Sendmail paths), and nothing leaks (ASan);
 *	- values written back in canonical form load to the same values.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "mail/domain.h"
#include "mail/settings.h"
#include "util/conf.h"

struct every {
	char	*s;
	long long i, u, t, ms, sz, mode;
	int	b, e;
};

static const char *const choices[] = { "one", "two", "three", NULL };

#define E(f) offsetof(struct every, f)

static const struct conf_def every_defs[] = {
	{ "s", CONF_STR, "x", E(s), 0, 0, NULL },
	{ "i", CONF_INT, "-5", E(i), -1000000, 1000000, NULL },
	{ "u", CONF_INT, "0", E(u), 0, 0, NULL },
	{ "t", CONF_TIME, "1h", E(t), 0, 366 * 86400, NULL },
	{ "ms", CONF_MSEC, "2s", E(ms), 10, 3600000, NULL },
	{ "sz", CONF_SIZE, "64k", E(sz), 0, 0, NULL },
	{ "mode", CONF_MODE, "0660", E(mode), 0, 0777, NULL },
	{ "b", CONF_BOOL, "no", E(b), 0, 0, NULL },
	{ "e", CONF_ENUM, "one", E(e), 0, 0, choices },
	{ NULL, CONF_STR, NULL, 0, 0, 0, NULL },
};

/* check_error - "ORIGIN..." and, if any, a line number in the text */
static void
check_error(const struct buf *err, const char *origin, const char *text)
{
	size_t	n = strlen(origin), lines = 1;
	const char *p;
	long	line;

	FUZZ_CHECK(err->len > n && strncmp(err->s, origin, n) == 0);
	FUZZ_CHECK(memchr(err->s, '\n', err->len) == NULL);
	if (err->s[n] != ':' || !isdigit((unsigned char)err->s[n + 1]))
		return;
	for (p = text; *p; p++)
		lines += *p == '\n';
	line = strtol(err->s + n + 1, NULL, 10);
	FUZZ_CHECK(line >= 1 && (size_t)line <= lines);
}

/* check_settings - bounds and cross-field checks of a loaded file */
static void
check_settings(const struct oe_settings *s)
{
	struct buf again = BUF_INIT;

	FUZZ_CHECK(dom_normalize(s->hostname, &again, NULL) == 0 &&
	    strcmp(again.s, s->hostname) == 0);
	FUZZ_CHECK(s->redis_db >= 0 && s->redis_db <= 1023);
	FUZZ_CHECK(s->redis_timeout >= 10 && s->redis_timeout <= 60000);
	FUZZ_CHECK(s->hold_time >= 1 && s->hold_time <= 366 * 86400);
	FUZZ_CHECK(s->warn_time >= 0 && (s->warn_time == 0 ||
	    s->warn_time < s->hold_time));
	FUZZ_CHECK(s->milter_socket_mode >= 0 &&
	    s->milter_socket_mode <= 0777);
	FUZZ_CHECK(s->policy_max_line >= 256 &&
	    s->policy_max_line <= 1048576);
	FUZZ_CHECK(s->max_bytes >= 0 && s->max_bytes <= (long long)1 << 50);
	FUZZ_CHECK(s->on_redis_error == ON_ERROR_TEMPFAIL ||
	    s->on_redis_error == ON_ERROR_ACCEPT);
	FUZZ_CHECK(strcmp(s->mta, "postfix") == 0 ||
	    strcmp(s->mta, "sendmail") == 0 || strcmp(s->mta, "null") == 0);
	FUZZ_CHECK(s->sendmail_command[0] == '/');
	FUZZ_CHECK(s->etrn_allow != NULL && s->redis_password != NULL &&
	    s->dsn_server != NULL && s->user != NULL);
	buf_free(&again);
}

/* load_settings - settings_load_string, or a file for NUL bytes */
static void
load_settings(const uint8_t *data, size_t size, const char *text)
{
	struct oe_settings s;
	struct buf err = BUF_INIT;
	char	path[] = "/tmp/fuzz_conf.XXXXXX", fdpath[64];
	int	fd;

	if (memchr(data, '\0', size) == NULL) {
		if (settings_load_string(&s, text, &err) == 0) {
			FUZZ_CHECK(err.len == 0);
			check_settings(&s);
		} else
			check_error(&err, "(string)", text);
		settings_free(&s);
		buf_free(&err);
		return;
	}
	/* an unlinked file, read back through its descriptor */
	if ((fd = mkstemp(path)) < 0)
		return;
	unlink(path);
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (write(fd, data, size) == (ssize_t)size &&
	    access(fdpath, R_OK) == 0) {
		FUZZ_CHECK(settings_load(&s, fdpath, &err) < 0);
		FUZZ_CHECK(strstr(err.s, "NUL byte") != NULL);
		settings_free(&s);
	}
	close(fd);
	buf_free(&err);
}

/* check_every - a table of every type, and the canonical round trip */
static void
check_every(const char *text)
{
	struct every a, b;
	struct buf err = BUF_INIT, canon = BUF_INIT;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (conf_load_string(every_defs, &a, "t", text, &err) < 0) {
		check_error(&err, "t", text);
		conf_free(every_defs, &a);
		buf_free(&err);
		return;
	}
	FUZZ_CHECK(err.len == 0 && a.s != NULL);
	FUZZ_CHECK(a.i >= -1000000 && a.i <= 1000000);
	FUZZ_CHECK(a.t >= 0 && a.t <= 366 * 86400);
	FUZZ_CHECK(a.ms >= 10 && a.ms <= 3600000);
	FUZZ_CHECK(a.sz >= 0 && a.mode >= 0 && a.mode <= 0777);
	FUZZ_CHECK((a.b == 0 || a.b == 1) && a.e >= 0 && a.e <= 2);
	buf_printf(&canon, "s = %s\ni = %lld\nu = %lld\nt = %lld\n"
	    "ms = %lldms\nsz = %lld\nmode = 0%llo\nb = %s\ne = %s\n",
	    a.s, a.i, a.u, a.t, a.ms, a.sz, a.mode, a.b ? "yes" : "no",
	    choices[a.e]);
	FUZZ_CHECK(conf_load_string(every_defs, &b, "canon",
	    buf_terminate(&canon), &err) == 0);
	FUZZ_CHECK(strcmp(a.s, b.s) == 0 && a.i == b.i && a.u == b.u &&
	    a.t == b.t && a.ms == b.ms && a.sz == b.sz && a.mode == b.mode &&
	    a.b == b.b && a.e == b.e);
	conf_free(every_defs, &a);
	conf_free(every_defs, &b);
	buf_free(&err);
	buf_free(&canon);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text;

	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	load_settings(data, size, text);
	check_every(text);
	free(text);
	return 0;
}
