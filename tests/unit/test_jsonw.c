/* test_jsonw - JSON string escaping and the writer's commas */
#include "config.h"

#include "util/buf.h"
#include "util/jsonw.h"
#include "tap.h"

static const struct {
	const char *in, *want;
} quotes[] = {
	{ "", "\"\"" },
	{ "plain", "\"plain\"" },
	{ "q\"b\\", "\"q\\\"b\\\\\"" },
	{ "a\nb\tc\rd", "\"a\\nb\\tc\\rd\"" },
	{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
	{ "/", "\"/\"" },
	{ "b\xc3\xbc" "cher", "\"b\xc3\xbc" "cher\"" },
	{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },
	{ "\xf0\x9f\x93\xa7", "\"\xf0\x9f\x93\xa7\"" },
	/* Not UTF-8: one U+FFFD per byte that starts no valid sequence. */
	{ "bad\xff", "\"bad\\ufffd\"" },
	{ "\xc3(", "\"\\ufffd(\"" },
	{ "\xc3", "\"\\ufffd\"" },
	{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },		/* overlong */
	{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },	/* overlong */
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* surrogate */
	{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\xe2\x82", "\"\\ufffd\\ufffd\"" },		/* cut short */
	{ "\x80x", "\"\\ufffdx\"" },
};

/* test_quote - every string comes out as one valid JSON string */
static void
test_quote(void)
{
	struct buf b = BUF_INIT;
	size_t	i;

	for (i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
		buf_reset(&b);
		jw_quote(&b, quotes[i].in);
		CHECK_STR(buf_terminate(&b), quotes[i].want, "jw_quote");
	}
	/* jw_quote appends. */
	buf_reset(&b);
	buf_cat(&b, "x=");
	jw_quote(&b, "y");
	CHECK_STR(buf_terminate(&b), "x=\"y\"", "jw_quote appends");
	buf_free(&b);
}

/* test_writer - commas, keys, nesting, the final newline */
static void
test_writer(void)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_open(&w, '{');
	jw_key(&w, "a");
	jw_int(&w, -3);
	jw_key(&w, "l");
	jw_open(&w, '[');
	jw_str(&w, "x");
	jw_null(&w);
	jw_open(&w, '{');
	jw_close(&w, '}');
	jw_bool(&w, 1);
	jw_bool(&w, 0);
	jw_close(&w, ']');
	jw_key(&w, "s");
	jw_str(&w, NULL);
	jw_key(&w, "k\"");
	jw_open(&w, '[');
	jw_close(&w, ']');
	jw_close(&w, '}');
	CHECK_STR(buf_terminate(&b),
	    "{\"a\":-3,\"l\":[\"x\",null,{},true,false],\"s\":null,"
	    "\"k\\\"\":[]}\n", "writer");

	/* Two documents in one buffer: one per line. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_open(&w, '[');
	jw_int(&w, 1);
	jw_close(&w, ']');
	jw_open(&w, '[');
	jw_int(&w, 2);
	jw_close(&w, ']');
	CHECK_STR(buf_terminate(&b), "[1]\n[2]\n", "two documents");

	/* Nesting down to JW_DEPTH keeps its commas. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_open(&w, '[');
	jw_int(&w, 1);
	jw_int(&w, 2);
	jw_close(&w, ']');
	jw_int(&w, 3);
	jw_close(&w, ']');
	jw_close(&w, ']');
	jw_close(&w, ']');
	jw_close(&w, ']');
	jw_close(&w, ']');
	jw_close(&w, ']');
	jw_close(&w, ']');
	CHECK_STR(buf_terminate(&b), "[[[[[[[[1,2],3]]]]]]]\n", "depth 8");
	buf_free(&b);
}

int
main(void)
{
	test_quote();
	test_writer();
	return TAP_DONE();
}
