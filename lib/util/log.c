/*
 * NAME
 *	log - one logging module for every openetrn program
 * SUMMARY
 *	log_init(progname, facility, to_stderr); log_info/debug/warn/warnx/
 *	err/fatal/fatalx/panic.
 * DESCRIPTION
 *	Messages go to syslog (LOG_PID, the configured facility) and, when
 *	the program runs in the foreground, also to stderr with the program
 *	name.  log_warn and log_fatal append strerror(errno) and preserve
 *	errno.  log_debug prints only when log_verbose is set; the check is
 *	made here, never at call sites.  Callers write one line per decision:
 *	queue ID or session first, then key=value fields.
 *	The module is safe to call from several threads: syslog(3) and a
 *	single fprintf per line are.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "util/log.h"

int log_verbose;

static const char *log_prog = "openetrn";
static int log_stderr;

static const struct {
	const char *name;
	int	facility;
} log_facilities[] = {
	{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON },
	{ "user", LOG_USER },	  { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

/* log_facility_lookup - syslog facility by name, -1 if unknown */
int
log_facility_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]);
	    i++)
		if (strcasecmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].facility;
	return -1;
}

/* log_init - name the program, open syslog, choose stderr copy */
void
log_init(const char *prog, int facility, int to_stderr)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_stderr = to_stderr;
	openlog(log_prog, LOG_PID | LOG_NDELAY, facility);
}

/* log_set_facility - reopen syslog with another facility */
void
log_set_facility(int facility)
{
	closelog();
	openlog(log_prog, LOG_PID | LOG_NDELAY, facility);
}

/* log_vlog - write one line with an optional errno text */
static void log_vlog(int, const char *, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
log_vlog(int pri, const char *label, int errnum, const char *fmt, va_list ap)
{
	char	msg[2048];
	int	n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(errnum));
	if (log_stderr)
		fprintf(stderr, "%s: %s%s\n", log_prog, label, msg);
	syslog(pri, "%s%s", label, msg);
}

#define LOG_FN(fn, pri, label, with_errno)                 \
	void fn(const char *fmt, ...)                      \
	{                                                  \
		int	saved = errno;                     \
		va_list ap;                                \
		va_start(ap, fmt);                         \
		log_vlog(pri, label, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                                \
		errno = saved;                             \
	}

LOG_FN(log_info, LOG_INFO, "", 0)
LOG_FN(log_warn, LOG_WARNING, "warning: ", 1)
LOG_FN(log_warnx, LOG_WARNING, "warning: ", 0)
LOG_FN(log_err, LOG_ERR, "error: ", 0)

/* log_debug - verbose-only message */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, "", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* log_fatal - log with errno text and exit */
void
log_fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* log_fatalx - log and exit */
void
log_fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* log_panic - log a broken invariant and abort */
void
log_panic(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, "panic: ", 0, fmt, ap);
	va_end(ap);
	abort();
}
