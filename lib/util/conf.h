/* conf.h - "name = value" configuration files over a declarative table */
#ifndef OE_CONF_H
#define OE_CONF_H

#include <stddef.h>

#include "util/buf.h"

enum conf_type {
	CONF_STR,	/* char *, xstrdup'ed */
	CONF_INT,	/* long long, bounded */
	CONF_BOOL,	/* int: yes/no true/false on/off 1/0 */
	CONF_TIME,	/* long long seconds: N[smhdw] (bare N = seconds) */
	CONF_MSEC,	/* long long milliseconds: Nms or N[smh] */
	CONF_SIZE,	/* long long bytes: N[kmg] */
	CONF_MODE,	/* long long: octal file mode */
	CONF_ENUM,	/* int: index into choices[] */
};

struct conf_def {
	const char *name;
	enum conf_type type;
	const char *def;	/* default, parsed like file input */
	size_t	off;		/* offset of the field in the settings */
	long long min, max;	/* bounds for numeric types (0,0: none) */
	const char *const *choices; /* CONF_ENUM, NULL-terminated */
};

int	conf_set(const struct conf_def *, void *, const char *, const char *,
	    struct buf *);
int	conf_defaults(const struct conf_def *, void *, struct buf *);
int	conf_load(const struct conf_def *, void *, const char *, struct buf *);
int	conf_load_string(const struct conf_def *, void *, const char *,
	    const char *, struct buf *);
void	conf_free(const struct conf_def *, void *);
int	conf_parse_number(const char *, enum conf_type, long long *);
int	conf_check(const struct conf_def *, const char *, const char *,
	    long long *, struct buf *);
int	conf_origin(const char *, const char *);

#endif
