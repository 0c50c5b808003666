/*
 * NAME
 *	conf - configuration files: one "name = value" per line
 * SUMMARY
 *	conf_defaults(defs, base, err); conf_load(defs, base, path, err);
 *	conf_free(defs, base); conf_check(defs, name, value, &n, err);
 *	line = conf_origin(path, name).
 * DESCRIPTION
 *	A program describes its settings in a conf_def table (name, type,
 *	default, offset into its settings struct, bounds).  conf_load()
 *	applies the defaults, then the file.  Blank lines and lines whose
 *	first non-blank character is '#' are ignored.  Values run to the end
 *	of the line, without surrounding blanks.
 *
 *	The caller loads into a fresh struct and swaps it in only when the
 *	whole file is valid, so a bad reload leaves the running settings.
 *
 *	conf_check() holds a value kept elsewhere to an entry's syntax and
 *	bounds; conf_origin() finds the line that set a name, so that a
 *	check made after loading can point at it.
 * DIAGNOSTICS
 *	Unknown names, duplicate names, missing '=', and values that do not
 *	parse or are out of bounds are errors.  The message in *err names
 *	the file and line: "FILE:LINE: unknown setting \"foo\"".
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/conf.h"
#include "util/xalloc.h"

#define CONF_MAX_LINE	4096

/* conf_field - address of a setting inside the settings struct */
static void *
conf_field(const struct conf_def *d, void *base)
{
	return (char *)base + d->off;
}

/* conf_lookup - table entry by name */
static const struct conf_def *
conf_lookup(const struct conf_def *defs, const char *name)
{
	for (; defs->name; defs++)
		if (strcmp(defs->name, name) == 0)
			return defs;
	return NULL;
}

/* conf_unit - multiplier for a unit suffix, 0 if not valid for type */
static long long
conf_unit(const char *u, enum conf_type type)
{
	static const struct {
		const char *suffix;
		enum conf_type type;
		long long mult;
	} units[] = {
		{ "", CONF_TIME, 1 },	   { "s", CONF_TIME, 1 },
		{ "m", CONF_TIME, 60 },    { "h", CONF_TIME, 3600 },
		{ "d", CONF_TIME, 86400 }, { "w", CONF_TIME, 604800 },
		{ "ms", CONF_MSEC, 1 },    { "", CONF_MSEC, 1000 },
		{ "s", CONF_MSEC, 1000 },  { "m", CONF_MSEC, 60000 },
		{ "h", CONF_MSEC, 3600000 },
		{ "", CONF_SIZE, 1 },	   { "k", CONF_SIZE, 1024 },
		{ "m", CONF_SIZE, 1048576 }, { "g", CONF_SIZE, 1073741824 },
		{ "", CONF_INT, 1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].type == type &&
		    strcasecmp(u, units[i].suffix) == 0)
			return units[i].mult;
	return 0;
}

/* conf_parse_number - parse a number with its type's unit suffix */
int
conf_parse_number(const char *s, enum conf_type type, long long *out)
{
	char	*end;
	long long v, mult;

	if (!isdigit((unsigned char)*s) && !(type == CONF_INT && *s == '-'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, type == CONF_MODE ? 8 : 10);
	if (errno != 0 || end == s)
		return -1;
	if (type == CONF_MODE)
		return *end == '\0' && v >= 0 && v <= 07777 ?
		    (*out = v, 0) : -1;
	if ((mult = conf_unit(end, type)) == 0)
		return -1;
	if (v > LLONG_MAX / mult || v < LLONG_MIN / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* conf_parse_bool - yes/no and friends */
static int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	int	i;

	for (i = 0; yes[i]; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
	for (i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* conf_expect - describe what a type's values look like */
static const char *
conf_expect(enum conf_type type)
{
	switch (type) {
	case CONF_INT:
		return "a whole number";
	case CONF_BOOL:
		return "yes or no";
	case CONF_TIME:
		return "a time such as 30s, 10m, 4h, 5d, 1w";
	case CONF_MSEC:
		return "a time such as 500ms, 2s, 1m";
	case CONF_SIZE:
		return "a size such as 512, 64k, 10m, 1g";
	case CONF_MODE:
		return "an octal mode such as 0660";
	default:
		return "a valid value";
	}
}

/* conf_number - a numeric value within its entry's bounds */
static int
conf_number(const struct conf_def *d, const char *value, long long *out,
    struct buf *err)
{
	long long v;

	if (conf_parse_number(value, d->type, &v) < 0) {
		buf_printf(err, "bad value for %s: \"%s\" (expected %s)",
		    d->name, value, conf_expect(d->type));
		return -1;
	}
	if ((d->min || d->max) && (v < d->min || v > d->max)) {
		buf_printf(err, "value for %s out of range: \"%s\" (allowed "
		    "%lld to %lld%s)", d->name, value, d->min, d->max,
		    d->type == CONF_TIME ? " seconds" :
		    d->type == CONF_MSEC ? " ms" :
		    d->type == CONF_SIZE ? " bytes" : "");
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * conf_check - a numeric value checked against the entry of the table
 * named name, as a file line would be, without storing it: values kept
 * elsewhere (per-domain settings in Redis) obey the same bounds
 */
int
conf_check(const struct conf_def *defs, const char *name, const char *value,
    long long *out, struct buf *err)
{
	const struct conf_def *d;

	if ((d = conf_lookup(defs, name)) == NULL || d->type == CONF_STR ||
	    d->type == CONF_BOOL || d->type == CONF_ENUM) {
		buf_printf(err, "%s: not a numeric setting", name);
		return -1;
	}
	return conf_number(d, value, out, err);
}

/* conf_set - parse one value into its field; 0 or -1 with *err set */
int
conf_set(const struct conf_def *defs, void *base, const char *name,
    const char *value, struct buf *err)
{
	const struct conf_def *d;
	long long v;
	int	i;

	if ((d = conf_lookup(defs, name)) == NULL) {
		buf_printf(err, "unknown setting \"%s\"", name);
		return -1;
	}
	switch (d->type) {
	case CONF_STR:
		free(*(char **)conf_field(d, base));
		*(char **)conf_field(d, base) = xstrdup(value);
		return 0;
	case CONF_BOOL:
		if (conf_parse_bool(value, &i) < 0)
			break;
		*(int *)conf_field(d, base) = i;
		return 0;
	case CONF_ENUM:
		for (i = 0; d->choices[i]; i++)
			if (strcasecmp(value, d->choices[i]) == 0) {
				*(int *)conf_field(d, base) = i;
				return 0;
			}
		buf_printf(err, "bad value for %s: \"%s\" (expected", name,
		    value);
		for (i = 0; d->choices[i]; i++)
			buf_printf(err, "%s %s", i ? "," : "", d->choices[i]);
		buf_cat(err, ")");
		return -1;
	default:
		if (conf_number(d, value, &v, err) < 0)
			return -1;
		*(long long *)conf_field(d, base) = v;
		return 0;
	}
	buf_printf(err, "bad value for %s: \"%s\" (expected %s)", name, value,
	    conf_expect(d->type));
	return -1;
}

/* conf_defaults - apply every default */
int
conf_defaults(const struct conf_def *defs, void *base, struct buf *err)
{
	const struct conf_def *d;

	for (d = defs; d->name; d++)
		if (conf_set(defs, base, d->name, d->def, err) < 0)
			return -1;
	return 0;
}

/* conf_trim - strip leading and trailing blanks in place */
static char *
conf_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* conf_line - one line of input; 0 or -1 with *err set */
static int
conf_line(const struct conf_def *defs, void *base, char *line,
    unsigned char *seen, struct buf *err)
{
	const struct conf_def *d;
	char	*eq, *name, *value;

	name = conf_trim(line);
	if (*name == '\0' || *name == '#')
		return 0;
	if ((eq = strchr(name, '=')) == NULL) {
		buf_printf(err, "missing '=' in \"%s\"", name);
		return -1;
	}
	*eq = '\0';
	name = conf_trim(name);
	value = conf_trim(eq + 1);
	if (*name == '\0') {
		buf_cat(err, "missing setting name before '='");
		return -1;
	}
	if ((d = conf_lookup(defs, name)) != NULL) {
		if (seen[d - defs]) {
			buf_printf(err, "duplicate setting \"%s\"", name);
			return -1;
		}
		seen[d - defs] = 1;
	}
	return conf_set(defs, base, name, value, err);
}

/* conf_load_string - defaults, then settings from text (named origin) */
int
conf_load_string(const struct conf_def *defs, void *base, const char *origin,
    const char *text, struct buf *err)
{
	const struct conf_def *d;
	unsigned char *seen;
	const char *p, *nl;
	struct buf line = BUF_INIT;
	struct buf why = BUF_INIT;
	int	lineno = 0, rc = 0;

	if (conf_defaults(defs, base, err) < 0)
		return -1;
	for (d = defs; d->name; d++)
		;
	seen = xcalloc((size_t)(d - defs) + 1, 1);
	for (p = text; *p && rc == 0; p = nl ? nl + 1 : p + strlen(p)) {
		lineno++;
		nl = strchr(p, '\n');
		buf_reset(&line);
		buf_add(&line, p, nl ? (size_t)(nl - p) : strlen(p));
		if (line.len > CONF_MAX_LINE) {
			buf_printf(err, "%s:%d: line too long (over %d bytes)",
			    origin, lineno, CONF_MAX_LINE);
			rc = -1;
		} else if (conf_line(defs, base, (char *)buf_terminate(&line),
		    seen, &why) < 0) {
			buf_printf(err, "%s:%d: %s", origin, lineno,
			    buf_terminate(&why));
			rc = -1;
		}
		if (nl == NULL)
			break;
	}
	free(seen);
	buf_free(&line);
	buf_free(&why);
	return rc;
}

/* conf_load - defaults, then the file at path */
int
conf_load(const struct conf_def *defs, void *base, const char *path,
    struct buf *err)
{
	struct buf text = BUF_INIT;
	char	chunk[8192];
	size_t	n;
	FILE	*fp;
	int	rc;

	if ((fp = fopen(path, "r")) == NULL) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&text, chunk, n);
	if (ferror(fp)) {
		buf_printf(err, "%s: read error: %s", path, strerror(errno));
		fclose(fp);
		buf_free(&text);
		return -1;
	}
	fclose(fp);
	if (memchr(buf_terminate(&text), '\0', text.len) != NULL) {
		buf_printf(err, "%s: file contains a NUL byte", path);
		buf_free(&text);
		return -1;
	}
	rc = conf_load_string(defs, base, path, text.s, err);
	buf_free(&text);
	return rc;
}

/* conf_free - release string settings */
void
conf_free(const struct conf_def *defs, void *base)
{
	for (; defs->name; defs++)
		if (defs->type == CONF_STR) {
			free(*(char **)conf_field(defs, base));
			*(char **)conf_field(defs, base) = NULL;
		}
}

/*
 * conf_origin - the line of path that sets name, 0 when none does (the
 * default applies) or the file cannot be read: lets a check made after
 * loading point at the line to change
 */
int
conf_origin(const char *path, const char *name)
{
	char	line[CONF_MAX_LINE + 2], *p, *eq;
	int	lineno = 0, found = 0;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		p = conf_trim(line);
		if (*p == '#' || (eq = strchr(p, '=')) == NULL)
			continue;
		*eq = '\0';
		found = strcmp(conf_trim(p), name) == 0;
	}
	fclose(fp);
	return found ? lineno : 0;
}
