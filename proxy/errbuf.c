/*
 * Error messages in a caller's fixed buffer, cut by whole lines: once
 * the next message and "\n... more errors" would not both fit, that
 * line ends the text, so a reader sees messages whole or not at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

static const char	errbuf_more[] = "... more errors";

static void	errbuf_vaddf(struct errbuf *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* Whether the first used bytes of buf end with a "... more errors" line. */
static int
errbuf_ends_more(const char *buf, size_t used)
{
	size_t	m = sizeof(errbuf_more) - 1;

	if (used < m || memcmp(buf + used - m, errbuf_more, m) != 0)
		return 0;
	return used == m || buf[used - m - 1] == '\n';
}

static void
errbuf_vaddf(struct errbuf *e, const char *fmt, va_list ap)
{
	size_t	room;
	int	n, sep;

	e->n++;
	if (e->full || e->buf == NULL || e->len == 0)
		return;
	sep = e->used > 0;
	room = e->len - 1 - e->used;
	/*
	 * Format in place, saving a copy: what turns out too long is
	 * overwritten below.  Keep room for "\n... more errors" whatever
	 * comes next.
	 */
	if (room >= sep + sizeof(errbuf_more)) {
		if (sep)
			e->buf[e->used] = '\n';
		n = vsnprintf(e->buf + e->used + sep, room + 1 - sep, fmt, ap);
		if (n >= 0 && sep + (size_t)n + sizeof(errbuf_more) <= room) {
			e->used += sep + n;
			return;
		}
	}
	e->full = 1;
	/* A block passed on from another load may end with one already. */
	if (errbuf_ends_more(e->buf, e->used)) {
		e->buf[e->used] = '\0';
		return;
	}
	n = snprintf(e->buf + e->used, room + 1, "%s%s", sep ? "\n" : "",
	    errbuf_more);
	/* A buffer under 17 bytes holds only the start of the line. */
	if (n > 0)
		e->used += (size_t)n < room ? (size_t)n : room;
}

void
errbuf_init(struct errbuf *e, char *buf, size_t len)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->len = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

void
errbuf_add(struct errbuf *e, const char *msg)
{
	errbuf_addf(e, "%s", msg);
}

void
errbuf_addf(struct errbuf *e, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	errbuf_vaddf(e, fmt, ap);
	va_end(ap);
}

void
errbuf_appendf(char *buf, size_t len, const char *fmt, ...)
{
	struct errbuf	e;
	va_list		ap;

	if (buf == NULL || (e.used = strnlen(buf, len)) == len)
		return;
	e.buf = buf;
	e.len = len;
	e.n = 0;
	e.full = errbuf_ends_more(buf, e.used);
	va_start(ap, fmt);
	errbuf_vaddf(&e, fmt, ap);
	va_end(ap);
}
