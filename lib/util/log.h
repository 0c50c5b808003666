/* log.h - logging to syslog or stderr, each line to one place */
#ifndef OE_LOG_H
#define OE_LOG_H

#include <stdarg.h>

extern int log_verbose;

/* log_target values, as the setting's choices are ordered */
#define LOG_TARGET_AUTO		0
#define LOG_TARGET_SYSLOG	1
#define LOG_TARGET_STDERR	2
#define LOG_TARGET_BOTH		3

void	log_init(const char *, int, int);
void	log_set_target(int);
void	log_detach(void);
void	log_set_facility(int);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
int	log_facility_lookup(const char *);

#endif
