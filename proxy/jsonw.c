/*
 * JSON text by hand: the daemon only ever writes flat documents, and a
 * library would refuse invalid UTF-8 where we want to replace it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

void
jsonw_init(struct jsonw *j)
{
	memset(j, 0, sizeof(*j));
}

void
jsonw_free(struct jsonw *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

/* Room for n more bytes and a NUL; 0 or -1. */
static int
jsonw_room(struct jsonw *j, size_t n)
{
	size_t	cap;
	char	*p;

	if (j->failed)
		return -1;
	if (j->len + n + 1 <= j->cap)
		return 0;
	for (cap = j->cap > 0 ? j->cap : 4096; cap < j->len + n + 1; cap *= 2)
		;
	if ((p = realloc(j->buf, cap)) == NULL) {
		j->failed = 1;
		return -1;
	}
	j->buf = p;
	j->cap = cap;
	return 0;
}

static void
jsonw_bytes(struct jsonw *j, const char *p, size_t n)
{
	if (jsonw_room(j, n) == -1)
		return;
	memcpy(j->buf + j->len, p, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

void
jsonw_raw(struct jsonw *j, const char *fmt, ...)
{
	va_list	ap;
	size_t	room = j->cap - j->len;
	int	n;

	/* Most pieces fit what is left: format once, straight in. */
	if (j->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf != NULL ? j->buf + j->len : NULL,
	    j->buf != NULL ? room : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < room) {
		j->len += (size_t)n;
		return;
	}
	if (jsonw_room(j, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(j->buf + j->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	j->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p (up to end), 0 if invalid. */
static size_t
jsonw_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t		n, i;
	unsigned int	c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	c = n == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 :
	    n == 4 ? (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 : 0x80;
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/* Whether c goes out as is: printable ASCII but for " and \\. */
static int
jsonw_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void
jsonw_str(struct jsonw *j, const char *s)
{
	const unsigned char	*p, *end, *run;
	size_t			 n;

	if (s == NULL) {
		jsonw_bytes(j, "null", 4);
		return;
	}
	end = (const unsigned char *)s + strlen(s);
	jsonw_bytes(j, "\"", 1);
	for (p = (const unsigned char *)s; p < end; p += n) {
		for (run = p; p < end && jsonw_plain(*p); p++)
			;
		jsonw_bytes(j, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		if (*p == '"' || *p == '\\') {
			jsonw_raw(j, "\\%c", *p);
			n = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			jsonw_raw(j, "\\u%04x", *p);
			n = 1;
		} else if ((n = jsonw_utf8_len(p, end)) == 0) {
			jsonw_bytes(j, "\\ufffd", 6);
			n = 1;
		} else
			jsonw_bytes(j, (const char *)p, n);
	}
	jsonw_bytes(j, "\"", 1);
}

void
jsonw_key(struct jsonw *j, const char *key)
{
	jsonw_str(j, key);
	jsonw_bytes(j, ":", 1);
}

void
jsonw_label(struct jsonw *j, const char *s)
{
	const char	*p;

	jsonw_bytes(j, "\"", 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			jsonw_raw(j, "\\%c", *p);
		else if (*p == '\n')
			jsonw_bytes(j, "\\n", 2);
		else
			jsonw_bytes(j, p, 1);
	}
	jsonw_bytes(j, "\"", 1);
}
