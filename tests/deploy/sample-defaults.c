/*
 * NAME
 *	sample-defaults - the sample openetrn.conf shows every default, truly
 * SUMMARY
 *	sample-defaults [sample]
 * DESCRIPTION
 *	contrib/etc/openetrn.conf.sample says that it shows every setting,
 *	commented out, with its default.  This reads its "#name = value"
 *	lines and checks against the settings table that each setting is
 *	there once, that each such line names a setting, and that its
 *	value, parsed as the file would be, equals the built-in default.
 *	Values are compared after parsing, so "64k" and "65536" agree.
 *	The sample is written for the package (/etc/openetrn); "make
 *	install" puts $(sysconfdir) in its place, and so does this check.
 * DIAGNOSTICS
 *	One line per mismatch with the sample's line number; exit 1.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/settings.h"
#include "util/buf.h"
#include "util/conf.h"
#include "../unit/tap.h"

#define PKG_CONFDIR	"/etc/openetrn/"

/* field - the address of a setting's field */
static void *
field(const struct conf_def *d, struct oe_settings *s)
{
	return (char *)s + d->off;
}

/* same_value - does the setting hold the same value in a and b? */
static int
same_value(const struct conf_def *d, struct oe_settings *a,
    struct oe_settings *b)
{
	switch (d->type) {
	case CONF_STR:
		return strcmp(*(char **)field(d, a),
		    *(char **)field(d, b)) == 0;
	case CONF_BOOL:
	case CONF_ENUM:
		return *(int *)field(d, a) == *(int *)field(d, b);
	default:
		return *(long long *)field(d, a) == *(long long *)field(d, b);
	}
}

/* installed_value - the value as "make install" writes it */
static void
installed_value(const char *value, struct buf *out)
{
	buf_reset(out);
	if (strncmp(value, PKG_CONFDIR, sizeof(PKG_CONFDIR) - 1) == 0)
		buf_printf(out, "%s/openetrn/%s", SYSCONFDIR,
		    value + sizeof(PKG_CONFDIR) - 1);
	else
		buf_printf(out, "%s", value);
}

/* check_line - one "#name = value" line against the defaults */
static void
check_line(const struct conf_def *defs, const char *name, const char *value,
    int lineno, struct oe_settings *defaults, int *seen)
{
	struct oe_settings s;
	struct buf err = BUF_INIT, v = BUF_INIT;
	const struct conf_def *d;

	for (d = defs; d->name && strcmp(d->name, name) != 0; d++)
		continue;
	CHECK(d->name != NULL, "line %d: \"%s\" is not a setting", lineno,
	    name);
	if (d->name == NULL)
		return;
	seen[d - defs]++;
	memset(&s, 0, sizeof(s));
	installed_value(value, &v);
	if (conf_defaults(defs, &s, &err) < 0 ||
	    conf_set(defs, &s, name, buf_terminate(&v), &err) < 0)
		CHECK(0, "line %d: %s = %s: %s", lineno, name, value,
		    buf_terminate(&err));
	else
		CHECK(same_value(d, &s, defaults), "line %d: %s: sample says "
		    "'%s', default is '%s'", lineno, name, buf_terminate(&v),
		    d->def);
	conf_free(defs, &s);
	buf_free(&err);
	buf_free(&v);
}

int
main(int argc, char **argv)
{
	const struct conf_def *defs = settings_table(), *d;
	struct oe_settings defaults;
	struct buf path = BUF_INIT, err = BUF_INIT;
	char	line[1024], *eq, *name, *value, *e;
	const char *top = getenv("top_srcdir");
	int	lineno = 0, *seen;
	size_t	n;
	FILE	*fp;

	if (argc > 1)
		buf_printf(&path, "%s", argv[1]);
	else
		buf_printf(&path, "%s/contrib/etc/openetrn.conf.sample",
		    top ? top : ".");
	if ((fp = fopen(buf_terminate(&path), "r")) == NULL) {
		perror(buf_terminate(&path));
		return 1;
	}
	for (n = 0; defs[n].name; n++)
		continue;
	seen = calloc(n, sizeof(*seen));
	memset(&defaults, 0, sizeof(defaults));
	if (seen == NULL || conf_defaults(defs, &defaults, &err) < 0) {
		fprintf(stderr, "defaults: %s\n", buf_terminate(&err));
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		/* "#name = value" or "#name =": prose never has '#' + name. */
		if (line[0] != '#' || !islower((unsigned char)line[1]) ||
		    (eq = strstr(line, " =")) == NULL)
			continue;
		*eq = '\0';
		name = line + 1;
		if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(name))
			continue;
		value = eq + 2;
		value += strspn(value, " \t");
		for (e = value + strlen(value); e > value && isspace(
		    (unsigned char)e[-1]); e--)
			continue;
		*e = '\0';
		check_line(defs, name, value, lineno, &defaults, seen);
	}
	fclose(fp);
	for (d = defs; d->name; d++)
		CHECK(seen[d - defs] == 1, "%s: shown %d times in the sample, "
		    "want once", d->name, seen[d - defs]);
	conf_free(defs, &defaults);
	free(seen);
	buf_free(&path);
	buf_free(&err);
	return TAP_DONE();
}
