/*
 * Unit tests for the error-message buffer (proxy/errbuf.c): messages
 * go in whole, "... more errors" comes exactly when the next message
 * and that line would not both fit, the count goes on after it, and no
 * byte past len is ever written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "errbuf.h"

#define MORE	"... more errors"

/* A message of n 'x's. */
static const char *
xs(size_t n)
{
	static char	s[256];

	assert_true(n < sizeof(s));
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static void
test_fits(void **state)
{
	struct errbuf	e;
	char		buf[64];

	(void)state;
	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(e.n, 0);
	errbuf_add(&e, "a.conf:1: bad");
	errbuf_addf(&e, "%s:%d: %s", "b.acl", 7, "worse");
	assert_string_equal(buf, "a.conf:1: bad\nb.acl:7: worse");
	assert_int_equal(e.used, strlen(buf));
	assert_int_equal(e.n, 2);
	assert_false(e.full);
}

/* A 64-byte buffer holds 63 characters, 16 of them kept for the marker. */
static void
test_boundary_first(void **state)
{
	struct errbuf	e;
	char		buf[65];

	(void)state;
	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 64);
	errbuf_add(&e, xs(47));
	assert_string_equal(buf, xs(47));
	assert_false(e.full);

	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 64);
	errbuf_add(&e, xs(48));
	assert_string_equal(buf, MORE);
	assert_true(e.full);
	assert_int_equal(e.used, strlen(MORE));
	assert_int_equal(buf[64], 'z');
}

/* The same with a newline before the message. */
static void
test_boundary_next(void **state)
{
	struct errbuf	e;
	char		buf[65], want[320];

	(void)state;
	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 64);
	errbuf_add(&e, "a");
	errbuf_add(&e, xs(45));
	(void)snprintf(want, sizeof(want), "a\n%s", xs(45));
	assert_string_equal(buf, want);
	assert_false(e.full);
	/* Exactly the room kept: the marker fills the buffer to the byte. */
	errbuf_add(&e, "y");
	(void)snprintf(want, sizeof(want), "a\n%s\n" MORE, xs(45));
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf), 63);
	assert_int_equal(e.used, 63);
	assert_true(e.full);
	assert_int_equal(buf[64], 'z');

	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 64);
	errbuf_add(&e, "a");
	errbuf_add(&e, xs(46));
	assert_string_equal(buf, "a\n" MORE);
	assert_int_equal(e.n, 2);
	assert_true(e.full);
}

/* Once full, messages are counted and the text stays as it is. */
static void
test_count_after_full(void **state)
{
	struct errbuf	e;
	char		buf[40];
	size_t		i;

	(void)state;
	errbuf_init(&e, buf, sizeof(buf));
	for (i = 0; i < 100; i++)
		errbuf_addf(&e, "x.map:%zu: bad", i + 1);
	assert_string_equal(buf, "x.map:1: bad\n" MORE);
	assert_int_equal(e.n, 100);
	assert_true(e.full);
	errbuf_add(&e, "x");
	assert_string_equal(buf, "x.map:1: bad\n" MORE);
	assert_int_equal(e.n, 101);
}

static void
test_null(void **state)
{
	struct errbuf	e;

	(void)state;
	errbuf_init(&e, NULL, 0);
	errbuf_add(&e, "a");
	errbuf_addf(&e, "%d", 2);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.used, 0);
	assert_false(e.full);
	errbuf_init(&e, NULL, 100);
	errbuf_add(&e, "a");
	assert_int_equal(e.n, 1);
	errbuf_appendf(NULL, 100, "%s", "a");
}

/* Tiny buffers: nothing past len, always a string, always counted. */
static void
test_small(void **state)
{
	struct errbuf	e;
	char		buf[32];
	size_t		len;

	(void)state;
	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 0);
	errbuf_add(&e, "a");
	assert_int_equal(buf[0], 'z');
	assert_int_equal(e.n, 1);

	memset(buf, 'z', sizeof(buf));
	errbuf_init(&e, buf, 1);
	assert_string_equal(buf, "");
	errbuf_add(&e, "a");
	errbuf_add(&e, "b");
	assert_string_equal(buf, "");
	assert_int_equal(buf[1], 'z');
	assert_int_equal(e.n, 2);
	assert_true(e.full);

	for (len = 2; len < 20; len++) {
		memset(buf, 'z', sizeof(buf));
		errbuf_init(&e, buf, len);
		errbuf_add(&e, "a");
		assert_true(strlen(buf) < len);
		assert_int_equal(e.used, strlen(buf));
		assert_int_equal(buf[len], 'z');
		/* What shows is "a", or the start of the marker. */
		assert_true(strcmp(buf, "a") == 0 ||
		    strncmp(buf, MORE, strlen(buf)) == 0);
	}
	errbuf_init(&e, buf, 17);
	errbuf_add(&e, "");
	assert_string_equal(buf, "");
	assert_false(e.full);
}

static void
test_appendf(void **state)
{
	char	buf[48];

	(void)state;
	buf[0] = '\0';
	errbuf_appendf(buf, sizeof(buf), "%s:%d: one", "r.conf", 1);
	assert_string_equal(buf, "r.conf:1: one");
	errbuf_appendf(buf, sizeof(buf), "two %s", "2");
	assert_string_equal(buf, "r.conf:1: one\ntwo 2");
	errbuf_appendf(buf, sizeof(buf), "%s", xs(20));
	assert_string_equal(buf, "r.conf:1: one\ntwo 2\n" MORE);
	errbuf_appendf(buf, sizeof(buf), "%s", "x");
	assert_string_equal(buf, "r.conf:1: one\ntwo 2\n" MORE);
}

/* A buffer that ends with the marker line takes nothing more. */
static void
test_appendf_after_more(void **state)
{
	char	buf[64];

	(void)state;
	(void)snprintf(buf, sizeof(buf), "a.acl:1: bad\n" MORE);
	errbuf_appendf(buf, sizeof(buf), "b");
	assert_string_equal(buf, "a.acl:1: bad\n" MORE);
	(void)snprintf(buf, sizeof(buf), MORE);
	errbuf_appendf(buf, sizeof(buf), "b");
	assert_string_equal(buf, MORE);
	/* Not the marker line: only the same words at the end of one. */
	(void)snprintf(buf, sizeof(buf), "x" MORE);
	errbuf_appendf(buf, sizeof(buf), "b");
	assert_string_equal(buf, "x" MORE "\nb");
	/* No NUL within len: not a string to append to. */
	memset(buf, 'z', sizeof(buf));
	errbuf_appendf(buf, 8, "b");
	assert_memory_equal(buf, "zzzzzzzz", 8);
	errbuf_appendf(buf, 0, "b");
}

/* A block that ends in its own marker gets no second one. */
static void
test_no_double_more(void **state)
{
	struct errbuf	e;
	char		buf[64];

	(void)state;
	errbuf_init(&e, buf, sizeof(buf));
	errbuf_add(&e, "a.acl:1: bad");
	errbuf_add(&e, MORE);
	errbuf_add(&e, xs(40));
	assert_string_equal(buf, "a.acl:1: bad\n" MORE);
	assert_true(e.full);
	assert_int_equal(e.used, strlen(buf));
	assert_int_equal(e.n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_boundary_first),
		cmocka_unit_test(test_boundary_next),
		cmocka_unit_test(test_count_after_full),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_appendf),
		cmocka_unit_test(test_appendf_after_more),
		cmocka_unit_test(test_no_double_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
