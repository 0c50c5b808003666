/*
 * NAME
 *	log - one logging module for every openetrn program
 * SUMMARY
 *	log_init(progname, facility, to_stderr); log_info/debug/warn/warnx/
 *	err/fatal/fatalx/panic.
 * DESCRIPTION
 *	Each line goes to one place, chosen once at start (log_init, then
 *	log_set_target from the log_target setting):
 *	- in the foreground (to_stderr), with log_target = auto: to stderr
 *	  alone when stderr is the journal's stream (JOURNAL_STREAM names
 *	  its device and inode: journald also receives syslog, so a copy
 *	  there would be a second line), else to syslog and stderr; syslog,
 *	  stderr or both when log_target says so;
 *	- a daemon (no -f): syslog; until it has detached (log_detach),
 *	  warnings and errors also go to stderr, where the command that
 *	  started it shows why it failed (to stderr only, when that is the
 *	  journal's stream).  log_target does not apply: a detached daemon
 *	  has no stderr.
 *	On the journal's stream a line starts with "<N>" (sd-daemon(3)), N
 *	its syslog priority, so that the journal keeps it; elsewhere stderr
 *	lines start with the program name.
 *	Control characters other than tab are written as "?", so that no
 *	data can start a line of its own.
 *	log_warn and log_fatal append strerror(errno) and preserve
 *	errno.  log_debug prints only when log_verbose is set; the check is
 *	made here, never at call sites.  Callers write one line per decision:
 *	queue ID or session first, then key=value fields.
 *	The module is safe to call from several threads: syslog(3) and a
 *	single fprintf per line are.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "util/log.h"

int log_verbose;

static const char *log_prog = "openetrn";
static int log_facility = LOG_MAIL;
static int log_syslog = 1;	/* lines go to syslog */
static int log_stderr;		/* lines go to stderr */
static int log_early;		/* a daemon not detached yet: see above */
static int log_journal;		/* stderr is the journal's stream */

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

/* log_is_journal - JOURNAL_STREAM names stderr ("device:inode") */
static int
log_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char	end;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* log_open - (re)open syslog if lines go there */
static void
log_open(void)
{
	closelog();
	if (log_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, log_facility);
}

/* log_init - name the program, choose where lines go (see above) */
void
log_init(const char *prog, int facility, int to_stderr)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_facility = facility;
	log_journal = log_is_journal();
	log_stderr = to_stderr;
	log_early = !to_stderr;
	log_syslog = !(to_stderr && log_journal);
	log_open();
}

/* log_set_target - the log_target setting (LOG_TARGET_*); foreground */
void
log_set_target(int target)
{
	if (log_early || target == LOG_TARGET_AUTO)
		return;		/* a daemon: syslog, see above */
	log_syslog = target != LOG_TARGET_STDERR;
	log_stderr = target != LOG_TARGET_SYSLOG;
	log_open();
}

/* log_detach - a daemon's stderr goes away: syslog only from now on */
void
log_detach(void)
{
	log_early = 0;
	log_stderr = 0;
	if (!log_syslog) {
		log_syslog = 1;
		log_open();
	}
}

/* log_set_facility - reopen syslog with another facility */
void
log_set_facility(int facility)
{
	log_facility = facility;
	log_open();
}

static void log_vlog(int, const char *, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

/* log_vlog - write one line with an optional errno text */
static void
log_vlog(int pri, const char *label, int errnum, const char *fmt, va_list ap)
{
	char	msg[2048], *p;
	int	n, early;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(errnum));
	/* No control character (tab aside) reaches a log: a CR or LF
	 * from a client or from Redis would start a forged line. */
	for (p = msg; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			*p = '?';
	early = log_early && pri <= LOG_WARNING;
	if ((log_stderr || early) && log_journal)
		fprintf(stderr, "<%d>%s%s\n", pri, label, msg);
	else if (log_stderr || early)
		fprintf(stderr, "%s: %s%s\n", log_prog, label, msg);
	if (log_syslog && !(early && log_journal))
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
