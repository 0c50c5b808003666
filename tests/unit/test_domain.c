/* test_domain - normalisation, validation and dial-up list matching */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "mail/domain.h"
#include "tap.h"

static const struct {
	const char *in;
	const char *want;	/* NULL: must be refused */
} norm[] = {
	{ "example.net", "example.net" },
	{ "Example.NET.", "example.net" },
	{ "a-b.c0.example", "a-b.c0.example" },
	{ "localhost", "localhost" },
	{ "b\xc3\xbc" "cher.test", "xn--bcher-kva.test" },
	{ "B\xc3\x9c" "CHER.test", "xn--bcher-kva.test" },
	{ "xn--bcher-kva.test", "xn--bcher-kva.test" },
	{ "", NULL },
	{ ".", NULL },
	{ "example..net", NULL },
	{ "-example.net", NULL },
	{ "example-.net", NULL },
	{ "exa mple.net", NULL },
	{ "example.net;rm -rf /", NULL },
	{ "example.net\r\nQUIT", NULL },
	{ "etrn:*", NULL },
	{ "a$(id).net", NULL },
	{ "\xff\xfe.test", NULL },
	{ "[127.0.0.1]", NULL },
	/* A 64-octet label. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.net", NULL },
};

static const struct {
	const char *addr;
	const char *want;
} addrs[] = {
	{ "<user@Example.NET>", "example.net" },
	{ "user@example.net", "example.net" },
	{ "<\"odd@local\"@example.net>", "example.net" },
	{ "<@relay.test,@r2.test:user@dialup.test>", "dialup.test" },
	{ "<postmaster>", NULL },
	{ "<>", NULL },
	{ "<user@>", NULL },
	{ "<user@bad_domain>", NULL },
};

int
main(void)
{
	struct buf b = BUF_INIT;
	struct domlist dl;
	const struct dom_entry *e;
	const char *why;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
		why = NULL;
		rc = dom_normalize(norm[i].in, &b, &why);
		if (norm[i].want)
			CHECK(rc == 0 && strcmp(b.s, norm[i].want) == 0,
			    "normalize '%s': got '%s' (%s), want '%s'",
			    norm[i].in, rc == 0 ? b.s : "error",
			    why ? why : "", norm[i].want);
		else
			CHECK(rc < 0 && why != NULL,
			    "normalize '%s': got '%s', want refusal",
			    norm[i].in, rc == 0 ? b.s : "");
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		rc = dom_addr_domain(addrs[i].addr, &b, &why);
		if (addrs[i].want)
			CHECK(rc == 0 && strcmp(b.s, addrs[i].want) == 0,
			    "dom_addr_domain '%s': got '%s', want '%s'",
			    addrs[i].addr, rc == 0 ? b.s : "error",
			    addrs[i].want);
		else
			CHECK(rc < 0, "dom_addr_domain '%s': want refusal",
			    addrs[i].addr);
	}
	CHECK(dom_valid_literal("[127.0.0.1]"), "literal v4");
	CHECK(dom_valid_literal("[IPv6:::1]"), "literal v6");
	CHECK(!dom_valid_literal("[127.0.0.256]"), "bad literal");
	CHECK(!dom_valid_literal("127.0.0.1"), "literal without brackets");

	domlist_init(&dl);
	CHECK(domlist_add(&dl, "Dialup.TEST", 3600, -1, &why) == 0, "add");
	CHECK(domlist_add(&dl, ".parent.test", 0, 60, &why) == 0, "add .p");
	CHECK(domlist_add(&dl, "exact.parent.test", 7200, -1, &why) == 0,
	    "add exact under parent");
	for (i = 0; i < 40; i++)
		CHECK(domlist_add(&dl, "dialup.test", 1, 1, &why) == 0, "dup");
	CHECK(domlist_add(&dl, "bad domain", 0, 0, &why) < 0, "bad refused");
	domlist_sort(&dl);
	CHECK_INT(dl.n, 3, "duplicates dropped");
	e = domlist_match(&dl, "dialup.test");
	CHECK(e && e->hold_time == 3600, "exact match, first entry kept");
	CHECK(domlist_match(&dl, "sub.dialup.test") == NULL,
	    "exact entry does not cover subdomains");
	CHECK(domlist_match(&dl, "parent.test") == NULL,
	    "parent entry does not cover itself");
	e = domlist_match(&dl, "a.b.parent.test");
	CHECK(e && strcmp(e->name, ".parent.test") == 0, "deep subdomain");
	e = domlist_match(&dl, "exact.parent.test");
	CHECK(e && e->hold_time == 7200, "exact wins over parent");
	CHECK(domlist_match(&dl, "xparent.test") == NULL, "suffix not label");
	CHECK(domlist_match(&dl, "other.test") == NULL, "no match");
	domlist_free(&dl);

	/* The static domains_file: comments, blanks, both entry kinds. */
	{
		char	path[] = "/tmp/test_domain.XXXXXX";
		int	fd = mkstemp(path);
		FILE	*fp = fd >= 0 ? fdopen(fd, "w") : NULL;

		CHECK(fp != NULL, "temp file");
		if (fp == NULL)
			return TAP_DONE();
		fputs("# dial-up customers\n\n  Static.TEST.  \n"
		    "\t.sub.static.test\n", fp);
		fclose(fp);
		domlist_init(&dl);
		buf_reset(&b);
		CHECK(domlist_load_file(&dl, path, &b) == 0, "load: %s",
		    b.len ? b.s : "");
		domlist_sort(&dl);
		CHECK(domlist_match(&dl, "static.test") != NULL, "file exact");
		CHECK(domlist_match(&dl, "x.sub.static.test") != NULL,
		    "file parent");
		domlist_free(&dl);
		fp = fopen(path, "a");
		fputs("bad domain!\n", fp);
		fclose(fp);
		buf_reset(&b);
		domlist_init(&dl);
		CHECK(domlist_load_file(&dl, path, &b) < 0 &&
		    strstr(b.s, ":5: \"bad domain!\": invalid domain syntax") !=
		    NULL, "bad file line: got '%s'", b.len ? b.s : "");
		domlist_free(&dl);
		unlink(path);
	}
	buf_free(&b);
	return TAP_DONE();
}
