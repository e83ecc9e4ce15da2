/*
 * Unit tests for base64, SASL PLAIN and the XOAUTH2 and OAUTHBEARER
 * decoders (proxy/sasl.c).  Decoding goes
 * into heap buffers of exactly the announced size, so valgrind and ASan
 * see any write past what the caller allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sasl.h"

struct b64_case {
	const char	*b64;
	const char	*plain;	/* NULL: must be refused */
	size_t		 len;
};

#define B64_OK(b, p)	{ b, p, sizeof(p) - 1 }
#define B64_BAD(b)	{ b, NULL, 0 }

static const struct b64_case b64_cases[] = {
	/* RFC 4648 s.10 */
	B64_OK("", ""),
	B64_OK("Zg==", "f"),
	B64_OK("Zm8=", "fo"),
	B64_OK("Zm9v", "foo"),
	B64_OK("Zm9vYg==", "foob"),
	B64_OK("Zm9vYmE=", "fooba"),
	B64_OK("Zm9vYmFy", "foobar"),
	/* "=" alone is an empty response (RFC 9051 s.6.2.2). */
	B64_OK("=", ""),
	B64_OK("AAAA", "\0\0\0"),
	B64_OK("AA==", "\0"),
	B64_OK("+/+/", "\xfb\xff\xbf"),
	B64_BAD("Zg="),
	B64_BAD("Zg"),
	B64_BAD("Z"),
	B64_BAD("=="),
	B64_BAD("==="),
	B64_BAD("===="),
	B64_BAD("Z==="),
	B64_BAD("Zg=a"),
	B64_BAD("Z=g="),
	B64_BAD("Zm9v===="),
	B64_BAD("Zg==Zg=="),
	B64_BAD("Zm9v\n"),
	B64_BAD("Zm9v\r\n"),
	B64_BAD(" Zm9v"),
	B64_BAD("Zm 9v"),
	B64_BAD("Zm9\tv"),
	B64_BAD("Zm9-"),
	B64_BAD("Zm9_"),
	B64_BAD("Zm9*"),
	B64_BAD("Zm\xc3\xa9"),
};

static void
test_b64_decode(void **state)
{
	const struct b64_case	*c;
	size_t			 i, len;
	char			*out;
	int			 r;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		c = &b64_cases[i];
		len = strlen(c->b64);
		/* Room for the result and its NUL, and not a byte more. */
		out = malloc(c->len + 1);
		assert_non_null(out);
		r = sasl_b64_decode(c->b64, len, out, c->len + 1);
		if (c->plain == NULL) {
			if (r != -1)
				fail_msg("\"%s\" decoded", c->b64);
		} else {
			if (r != (int)c->len || memcmp(out, c->plain, c->len) !=
			    0 || out[c->len] != '\0')
				fail_msg("\"%s\" decodes wrong", c->b64);
		}
		free(out);
	}
}

static void
test_b64_decode_room(void **state)
{
	char	out[8];

	(void)state;
	assert_int_equal(sasl_b64_decode("Zm9v", 4, out, 4), 3);
	assert_int_equal(sasl_b64_decode("Zm9v", 4, out, 3), -1);
	assert_int_equal(sasl_b64_decode("Zg==", 4, out, 2), 1);
	assert_int_equal(sasl_b64_decode("Zg==", 4, out, 1), -1);
	assert_int_equal(sasl_b64_decode("=", 1, out, 1), 0);
	assert_int_equal(sasl_b64_decode("=", 1, out, 0), -1);
	/* A NUL inside the input is not base64. */
	assert_int_equal(sasl_b64_decode("Zm9\0", 4, out, sizeof(out)), -1);
}

static void
test_b64_encode(void **state)
{
	const struct b64_case	*c;
	size_t			 i, blen;
	char			*out;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		c = &b64_cases[i];
		if (c->plain == NULL || strcmp(c->b64, "=") == 0)
			continue;
		blen = strlen(c->b64);
		out = malloc(blen + 1);
		assert_non_null(out);
		assert_int_equal(sasl_b64_encode((const unsigned char *)
		    c->plain, c->len, out, blen + 1), (int)blen);
		assert_string_equal(out, c->b64);
		assert_int_equal(sasl_b64_encode((const unsigned char *)
		    c->plain, c->len, out, blen), -1);
		free(out);
	}
}

/* Every length and every byte value survives encode then decode. */
static void
test_b64_round_trip(void **state)
{
	unsigned char	in[300];
	char		b64[404], out[301];
	size_t		i, n;
	int		len;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (n = 0; n <= sizeof(in); n++) {
		len = sasl_b64_encode(in, n, b64, sizeof(b64));
		assert_int_equal(len, (int)((n + 2) / 3 * 4));
		assert_int_equal(sasl_b64_decode(b64, (size_t)len, out, n + 1),
		    (int)n);
		assert_memory_equal(out, in, n);
	}
}

struct plain_case {
	const char	*desc;
	const char	*b64;
	const char	*authzid, *user, *pass;	/* NULL: refused */
	const char	*err;
};

static const struct plain_case plain_cases[] = {
	/* RFC 4616 s.4 */
	{ "no authzid", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "", "tim",
	    "tanstaaftanstaaf", NULL },
	{ "authzid", "VXJzZWwAS3VydAB4aXBqM3BsbXE=", "Ursel", "Kurt",
	    "xipj3plmq", NULL },
	/* "\0bob\0p ss\r\n": passwords may hold anything but NUL. */
	{ "odd password", "AGJvYgBwIHNzDQo=", "", "bob", "p ss\r\n",
	    NULL },
	/* "\0bob\0" */
	{ "empty password", "AGJvYgA=", NULL, NULL, NULL,
	    "Empty password" },
	/* "\0\0pw" */
	{ "empty user", "AABwdw==", NULL, NULL, NULL, "Empty user name" },
	/* "bob\0pw" */
	{ "one NUL", "Ym9iAHB3", NULL, NULL, NULL,
	    "Malformed PLAIN response" },
	/* "\0bob\0p\0w" */
	{ "three NULs", "AGJvYgBwAHc=", NULL, NULL, NULL,
	    "Malformed PLAIN response" },
	/* "" */
	{ "empty", "=", NULL, NULL, NULL, "Malformed PLAIN response" },
	/* "\0b\rob\0pw" */
	{ "CR in user", "AGINb2IAcHc=", NULL, NULL, NULL,
	    "Invalid user name" },
	/* "\0b\nob\0pw" */
	{ "LF in user", "AGIKb2IAcHc=", NULL, NULL, NULL,
	    "Invalid user name" },
	/* "a\nz\0bob\0pw" */
	{ "LF in authzid", "YQp6AGJvYgBwdw==", NULL, NULL, NULL,
	    "Invalid user name" },
	{ "bad base64", "AGJvYgBwdw=", NULL, NULL, NULL, "Invalid base64" },
	{ "base64 with blank", "AGJvYgBw dw==", NULL, NULL, NULL,
	    "Invalid base64" },
};

static int
is_zero(const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
test_plain_decode(void **state)
{
	const struct plain_case	*c;
	struct sasl_creds	 creds;
	const char		*err;
	size_t			 i;
	int			 r;

	(void)state;
	for (i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		c = &plain_cases[i];
		err = NULL;
		memset(&creds, 'Q', sizeof(creds));
		r = sasl_plain_decode(c->b64, strlen(c->b64), &creds, &err);
		if (c->user == NULL) {
			if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
				fail_msg("%s: want \"%s\", got %d \"%s\"",
				    c->desc, c->err, r, err ? err : "");
			/* Nothing of a refused response is left behind. */
			assert_true(is_zero(&creds, sizeof(creds)));
			continue;
		}
		if (r != 0)
			fail_msg("%s: refused: %s", c->desc, err);
		assert_string_equal(creds.authzid, c->authzid);
		assert_string_equal(creds.user, c->user);
		assert_string_equal(creds.pass, c->pass);
	}
}

/* authzid, user and password at their limits and one past. */
static void
test_plain_limits(void **state)
{
	static const struct {
		size_t		 zlen, ulen, plen;
		const char	*err;
	} t[] = {
		{ AUTH_MAX_USER, AUTH_MAX_USER, AUTH_MAX_SECRET, NULL },
		{ AUTH_MAX_USER + 1, 1, 1, "User name too long" },
		{ 0, AUTH_MAX_USER + 1, 1, "User name too long" },
		{ 0, 1, AUTH_MAX_SECRET + 1, "Password too long" },
		{ 0, 1, 3 * AUTH_MAX_SECRET, "Response too long" },
	};
	struct sasl_creds	 creds;
	const char		*err;
	unsigned char		*raw;
	char			*b64;
	size_t			 i, n;
	int			 len;

	(void)state;
	raw = malloc(4 * AUTH_MAX_SECRET);
	b64 = malloc(6 * AUTH_MAX_SECRET);
	assert_non_null(raw);
	assert_non_null(b64);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(raw, 'z', t[i].zlen);
		raw[t[i].zlen] = '\0';
		memset(raw + t[i].zlen + 1, 'u', t[i].ulen);
		raw[t[i].zlen + 1 + t[i].ulen] = '\0';
		n = t[i].zlen + t[i].ulen + 2;
		memset(raw + n, 'p', t[i].plen);
		n += t[i].plen;
		len = sasl_b64_encode(raw, n, b64, 6 * AUTH_MAX_SECRET);
		assert_true(len > 0);
		err = NULL;
		if (t[i].err == NULL) {
			assert_int_equal(sasl_plain_decode(b64, (size_t)len,
			    &creds, &err), 0);
			assert_int_equal(strlen(creds.authzid), t[i].zlen);
			assert_int_equal(strlen(creds.user), t[i].ulen);
			assert_int_equal(strlen(creds.pass), t[i].plen);
		} else {
			assert_int_equal(sasl_plain_decode(b64, (size_t)len,
			    &creds, &err), -1);
			assert_string_equal(err, t[i].err);
		}
	}
	free(raw);
	free(b64);
}

static void
test_plain_encode(void **state)
{
	struct sasl_creds	 creds, back;
	const char		*err = NULL;
	const char		*want = "VXJzZWwAS3VydAB4aXBqM3BsbXE=";
	char			 out[64];
	size_t			 n = strlen(want);

	(void)state;
	memset(&creds, 0, sizeof(creds));
	memcpy(creds.authzid, "Ursel", 6);
	memcpy(creds.user, "Kurt", 5);
	memcpy(creds.pass, "xipj3plmq", 10);
	assert_int_equal(sasl_plain_encode(&creds, out, n + 1), (int)n);
	assert_string_equal(out, want);
	assert_int_equal(sasl_plain_encode(&creds, out, n), -1);

	assert_int_equal(sasl_plain_decode(out, n, &back, &err), 0);
	assert_string_equal(back.authzid, creds.authzid);
	assert_string_equal(back.user, creds.user);
	assert_string_equal(back.pass, creds.pass);

	creds.authzid[0] = '\0';
	assert_int_equal(sasl_plain_encode(&creds, out, sizeof(out)), 20);
	assert_string_equal(out, "AEt1cnQAeGlwajNwbG1x");
}

/* Fields that fill their arrays without a NUL still encode in bounds. */
static void
test_plain_encode_full(void **state)
{
	struct sasl_creds	*creds;
	char			*out;
	size_t			 n;

	(void)state;
	creds = malloc(sizeof(*creds));
	assert_non_null(creds);
	memset(creds, 'x', sizeof(*creds));
	n = (AUTH_MAX_USER * 2 + AUTH_MAX_SECRET + 2 + 2) / 3 * 4;
	out = malloc(n + 1);
	assert_non_null(out);
	assert_int_equal(sasl_plain_encode(creds, out, n + 1), (int)n);
	free(out);
	free(creds);
}

static void
test_b64_valid(void **state)
{
	static const char *const good[] = { "", "=", "AQ==", "Zm8=", "Zm9v",
	    "+/+/" };
	static const char *const bad[] = { "*", "Zm9", "Zm9v\r", "Zm 9v",
	    "==", "Zg=a", "AQ==AQ==" };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sasl_b64_valid(good[i], strlen(good[i])))
			fail_msg("\"%s\" refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sasl_b64_valid(bad[i], strlen(bad[i])))
			fail_msg("\"%s\" taken", bad[i]);
}

struct oauth_case {
	const char	*desc;
	enum sasl_mech	 mech;
	const char	*raw;	/* encoded by the test */
	size_t		 len;
	const char	*user;	/* NULL: refused with err */
	const char	*err;
};

/* kvsep: a macro, as "\x01auth" would read as one hex escape. */
#define KV	"\x01"
#define XO	SASL_MECH_XOAUTH2
#define OB	SASL_MECH_OAUTHBEARER
#define OA_OK(d, m, r, u)	{ d, m, r, sizeof(r) - 1, u, NULL }
#define OA_BAD(d, m, r, e)	{ d, m, r, sizeof(r) - 1, NULL, e }

static const struct oauth_case oauth_cases[] = {
	/* Google's XOAUTH2 format. */
	OA_OK("xoauth2", XO, "user=someuser@example.com" KV "auth=Bearer "
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg" KV KV,
	    "someuser@example.com"),
	OA_OK("xoauth2 auth first", XO, "auth=Bearer t0k" KV "user=bob" KV KV,
	    "bob"),
	OA_OK("xoauth2 other keys", XO, "user=bob" KV "host=x" KV
	    "auth=Bearer t" KV KV, "bob"),
	OA_BAD("xoauth2 no user", XO, "auth=Bearer t" KV KV,
	    "Missing user name"),
	/* Dovecot would take the last; the rules would see the first. */
	OA_BAD("xoauth2 two users", XO, "user=alice" KV "user=bob" KV
	    "auth=Bearer t" KV KV, "More than one user name"),
	OA_BAD("xoauth2 empty user", XO, "user=" KV "auth=Bearer t" KV KV,
	    "Empty user name"),
	OA_BAD("xoauth2 no token", XO, "user=bob" KV KV, "Missing token"),
	OA_BAD("xoauth2 empty auth", XO, "user=bob" KV "auth=" KV KV,
	    "Missing token"),
	OA_BAD("xoauth2 NUL", XO, "user=b\0ob" KV "auth=Bearer t" KV KV,
	    "Malformed response"),
	OA_BAD("xoauth2 CR in user", XO, "user=b\rob" KV "auth=Bearer t" KV KV,
	    "Invalid user name"),
	/* RFC 7628 s.4.1 */
	OA_OK("oauthbearer", OB, "n,a=user@example.com," KV
	    "host=server.example.com" KV "port=143" KV "auth=Bearer "
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==" KV KV,
	    "user@example.com"),
	/* RFC 7628 s.4.2: a= is optional. */
	OA_OK("oauthbearer no a=", OB, "n,," KV "auth=Bearer t" KV KV, ""),
	OA_OK("oauthbearer y", OB, "y,a=bob," KV "auth=Bearer t" KV KV,
	    "bob"),
	OA_OK("oauthbearer p=", OB, "p=tls-unique,a=bob," KV "auth=Bearer "
	    "t" KV KV, "bob"),
	OA_OK("oauthbearer escapes", OB, "n,a=b=2Co=3Db," KV "auth=Bearer "
	    "t" KV KV, "b,o=b"),
	OA_BAD("oauthbearer bad escape", OB, "n,a=b=2co," KV "auth=Bearer "
	    "t" KV KV, "Invalid user name"),
	OA_BAD("oauthbearer bare =", OB, "n,a=b=," KV "auth=Bearer t" KV KV,
	    "Invalid user name"),
	OA_BAD("oauthbearer a= unended", OB, "n,a=bob" KV "auth=Bearer "
	    "t" KV KV, "Invalid user name"),
	OA_BAD("oauthbearer empty a=", OB, "n,a=," KV "auth=Bearer t" KV KV,
	    "Empty user name"),
	OA_BAD("oauthbearer two a=", OB, "n,a=bob,a=eve," KV "auth=Bearer "
	    "t" KV KV, "Malformed gs2 header"),
	OA_BAD("oauthbearer flag", OB, "x,a=bob," KV "auth=Bearer t" KV KV,
	    "Malformed gs2 header"),
	OA_BAD("oauthbearer p= empty", OB, "p=,a=bob," KV "auth=Bearer "
	    "t" KV KV, "Malformed gs2 header"),
	OA_BAD("oauthbearer no kvsep", OB, "n,a=bob,auth=Bearer t" KV KV,
	    "Malformed gs2 header"),
	/* The answer to an error challenge is no initial response. */
	OA_BAD("oauthbearer kvsep", OB, KV, "Malformed gs2 header"),
	OA_BAD("oauthbearer no token", OB, "n,a=bob," KV "host=x" KV KV,
	    "Missing token"),
	OA_BAD("oauthbearer NUL", OB, "n,a=bob," KV "auth=Bearer \0" KV KV,
	    "Malformed response"),
	OA_BAD("empty", XO, "", "Empty response"),
	OA_BAD("password", SASL_MECH_PASSWORD, "user=bob" KV "auth=Bearer "
	    "t" KV KV, "Not an OAuth mechanism"),
};

static void
test_oauth_decode(void **state)
{
	const struct oauth_case	*c;
	struct sasl_creds	 creds;
	const char		*err;
	char			 b64[512];
	size_t			 i;
	int			 len, r;

	(void)state;
	for (i = 0; i < sizeof(oauth_cases) / sizeof(oauth_cases[0]); i++) {
		c = &oauth_cases[i];
		if (c->len == 0)
			len = snprintf(b64, sizeof(b64), "=");
		else
			len = sasl_b64_encode((const unsigned char *)c->raw,
			    c->len, b64, sizeof(b64));
		assert_true(len > 0);
		err = NULL;
		memset(&creds, 'Q', sizeof(creds));
		r = sasl_oauth_decode(c->mech, b64, (size_t)len, &creds, &err);
		if (c->user == NULL) {
			if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
				fail_msg("%s: want \"%s\", got %d \"%s\"",
				    c->desc, c->err, r, err ? err : "");
			assert_true(is_zero(&creds, sizeof(creds)));
			continue;
		}
		if (r != 0)
			fail_msg("%s: refused: %s", c->desc, err);
		assert_string_equal(creds.user, c->user);
		assert_string_equal(creds.authzid, "");
		/* What goes on to the back end is the response as it came. */
		assert_string_equal(creds.pass, b64);
	}
}

/* Bad base64, and the bounds of the user and of the whole response. */
static void
test_oauth_limits(void **state)
{
	struct sasl_creds	 creds;
	const char		*err = NULL;
	const char		*head = "user=bob" KV "auth=Bearer ";
	const char		*tail = "," KV "auth=Bearer t" KV KV;
	char			*raw, *b64;
	size_t			 n, hl = strlen(head), tl = strlen(tail);
	int			 len;

	(void)state;
	assert_int_equal(sasl_oauth_decode(XO, "dXNlcj1i=", 9, &creds,
	    &err), -1);
	assert_string_equal(err, "Invalid base64");
	assert_true(is_zero(&creds, sizeof(creds)));

	raw = malloc(AUTH_MAX_SECRET);
	b64 = malloc(2 * AUTH_MAX_SECRET);
	assert_non_null(raw);
	assert_non_null(b64);
	/* AUTH_MAX_SECRET base64 characters pass; 4 more do not. */
	for (n = AUTH_MAX_SECRET / 4 * 3; n <= AUTH_MAX_SECRET / 4 * 3 + 1;
	    n++) {
		memcpy(raw, head, hl);
		memset(raw + hl, 't', n - hl - 2);
		memcpy(raw + n - 2, KV KV, 2);
		len = sasl_b64_encode((unsigned char *)raw, n, b64,
		    2 * AUTH_MAX_SECRET);
		if (n == AUTH_MAX_SECRET / 4 * 3) {
			assert_int_equal(len, AUTH_MAX_SECRET);
			assert_int_equal(sasl_oauth_decode(XO, b64,
			    (size_t)len, &creds, &err), 0);
			assert_string_equal(creds.pass, b64);
		} else {
			assert_int_equal(sasl_oauth_decode(XO, b64,
			    (size_t)len, &creds, &err), -1);
			assert_string_equal(err, "Response too long");
		}
	}
	/* A user name of AUTH_MAX_USER passes; one more does not. */
	for (n = AUTH_MAX_USER; n <= AUTH_MAX_USER + 1; n++) {
		memcpy(raw, "n,a=", 4);
		memset(raw + 4, 'u', n);
		memcpy(raw + 4 + n, tail, tl);
		len = sasl_b64_encode((unsigned char *)raw, 4 + n + tl, b64,
		    2 * AUTH_MAX_SECRET);
		err = NULL;
		if (n == AUTH_MAX_USER) {
			assert_int_equal(sasl_oauth_decode(OB, b64,
			    (size_t)len, &creds, &err), 0);
			assert_int_equal(strlen(creds.user), n);
		} else {
			assert_int_equal(sasl_oauth_decode(OB, b64,
			    (size_t)len, &creds, &err), -1);
			assert_string_equal(err, "User name too long");
		}
	}
	free(raw);
	free(b64);
}

static void
test_creds_wipe(void **state)
{
	struct sasl_creds	creds;

	(void)state;
	memset(&creds, 'Q', sizeof(creds));
	sasl_creds_wipe(&creds);
	assert_true(is_zero(&creds, sizeof(creds)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_decode),
		cmocka_unit_test(test_b64_decode_room),
		cmocka_unit_test(test_b64_encode),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_plain_decode),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_plain_encode),
		cmocka_unit_test(test_plain_encode_full),
		cmocka_unit_test(test_b64_valid),
		cmocka_unit_test(test_oauth_decode),
		cmocka_unit_test(test_oauth_limits),
		cmocka_unit_test(test_creds_wipe),
	};

	return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}
