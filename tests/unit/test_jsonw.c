/*
 * Unit tests for the stats socket's JSON writer (proxy/jsonw.c): every
 * byte a client can put in a user name comes out as valid JSON, with
 * invalid UTF-8 replaced; Prometheus label values are escaped; long
 * documents grow the buffer without losing a byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"

static void
check_str(const char *in, const char *want)
{
	struct jsonw	j;

	jsonw_init(&j);
	jsonw_str(&j, in);
	assert_false(j.failed);
	assert_string_equal(j.buf, want);
	assert_int_equal(j.len, strlen(want));
	jsonw_free(&j);
}

static void
test_strings(void **state)
{
	(void)state;
	check_str(NULL, "null");
	check_str("", "\"\"");
	check_str("alice@example.org", "\"alice@example.org\"");
	check_str("a\"b\\c", "\"a\\\"b\\\\c\"");
	check_str("tab\there\nnl\x01\x7f", "\"tab\\u0009here\\u000anl\\u0001"
	    "\\u007f\"");
	/* Valid UTF-8 passes: 2, 3 and 4 byte sequences. */
	check_str("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80",
	    "\"J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	check_str("\xff", "\"\\ufffd\"");
	check_str("a\xc3", "\"a\\ufffd\"");			/* cut short */
	check_str("\xc0\xaf", "\"\\ufffd\\ufffd\"");		/* overlong */
	check_str("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");	/* overlong */
	check_str("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */
	check_str("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_str("\xc3\x28", "\"\\ufffd(\"");			/* bad follower */
}

/* Every single byte and every pair of bytes gives printable ASCII or UTF-8. */
static void
test_every_byte_pair(void **state)
{
	struct jsonw	j;
	char		in[3];
	unsigned int	a, b;
	size_t		i;

	(void)state;
	in[2] = '\0';
	for (a = 1; a < 256; a++)
		for (b = 1; b < 256; b++) {
			in[0] = (char)a;
			in[1] = (char)b;
			jsonw_init(&j);
			jsonw_str(&j, in);
			assert_false(j.failed);
			assert_true(j.buf[0] == '"' && j.buf[j.len - 1] == '"');
			for (i = 0; i < j.len; i++)
				assert_true((unsigned char)j.buf[i] >= 0x20);
			jsonw_free(&j);
		}
}

static void
test_label(void **state)
{
	struct jsonw	j;

	(void)state;
	jsonw_init(&j);
	jsonw_label(&j, "/etc/a.acl:3: deny user \"x\\y\"\n");
	assert_string_equal(j.buf,
	    "\"/etc/a.acl:3: deny user \\\"x\\\\y\\\"\\n\"");
	jsonw_free(&j);
}

static void
test_growth(void **state)
{
	struct jsonw	j;
	char		want[32];
	size_t		i, off = 0;

	(void)state;
	jsonw_init(&j);
	for (i = 0; i < 100000; i++)
		jsonw_raw(&j, "%zu,", i);
	assert_false(j.failed);
	for (i = 0; i < 100000; i++) {
		snprintf(want, sizeof(want), "%zu,", i);
		assert_memory_equal(j.buf + off, want, strlen(want));
		off += strlen(want);
	}
	assert_int_equal(off, j.len);
	assert_int_equal(j.buf[j.len], '\0');
	jsonw_free(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_every_byte_pair),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
