/*
 * Tables and safe text for imapproxyctl.  Every cell goes through
 * ctlout_escape(): a user name is whatever a client sent, and a terminal
 * obeys escape sequences.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlout.h"

struct ctlout_table {
	const struct ctlout_col	*cols;
	size_t			 ncols;
	char			**cells;	/* header first, row by row */
	size_t			 ncells;
	size_t			 cap;
	int			 failed;	/* a cell was lost */
};

/* Length of the valid UTF-8 sequence at p and its code point; 0: invalid. */
static size_t
ctlout_utf8(const unsigned char *p, size_t left, unsigned int *cp_r)
{
	unsigned int	cp;
	size_t		n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	*cp_r = cp;
	return n;
}

/* Invisible code points that reorder or break the text around them. */
static int
ctlout_sneaky(unsigned int cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Escapes the character at p onto out + *o; returns the bytes it took. */
static size_t
ctlout_escape1(const unsigned char *p, size_t left, char *out, size_t *o)
{
	unsigned int	cp = 0;
	size_t		n, i;

	if (p[0] == '\\') {
		memcpy(out + *o, "\\\\", 2);
		*o += 2;
		return 1;
	}
	if (p[0] >= 0x20 && p[0] < 0x7f) {
		out[(*o)++] = (char)p[0];
		return 1;
	}
	n = p[0] < 0x80 ? 0 : ctlout_utf8(p, left, &cp);
	if (n == 0 || cp < 0xa0) {	/* controls, invalid bytes, C1 */
		n = n == 0 ? 1 : n;
		for (i = 0; i < n; i++)
			*o += (size_t)snprintf(out + *o, 5, "\\x%02x", p[i]);
		return n;
	}
	if (ctlout_sneaky(cp))
		*o += (size_t)snprintf(out + *o, 7, "\\u%04x", cp);
	else {
		memcpy(out + *o, p, n);
		*o += n;
	}
	return n;
}

char *
ctlout_escape(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, o = 0;
	char			*out;

	/* At worst every byte becomes "\xNN". */
	if (len > ((size_t)-1 - 1) / 4 || (out = malloc(len * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; )
		i += ctlout_escape1(p + i, len - i, out, &o);
	out[o] = '\0';
	return out;
}

void
ctlout_puts(FILE *f, const char *s, size_t len)
{
	char	*e;

	if ((e = ctlout_escape(s, len)) == NULL) {
		fputs("?", f);
		return;
	}
	fputs(e, f);
	free(e);
}

/*
 * Columns a cell takes: one per code point.
 * XXX East Asian wide characters take two; the column after them shifts.
 */
static size_t
ctlout_width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

struct ctlout_table *
ctlout_table_new(const struct ctlout_col *cols, size_t ncols)
{
	struct ctlout_table	*t;
	size_t			 c;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cols = cols;
	t->ncols = ncols;
	for (c = 0; c < ncols; c++)
		ctlout_cells(t, cols[c].name);
	if (t->failed)
		ctlout_table_free(&t);
	return t;
}

void
ctlout_table_free(struct ctlout_table **tp)
{
	struct ctlout_table	*t = *tp;
	size_t			 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	*tp = NULL;
}

void
ctlout_cell(struct ctlout_table *t, const char *s, size_t len)
{
	char	**p, *e;
	size_t	  cap;

	if (t->failed)
		return;
	if (t->ncells == t->cap) {
		cap = t->cap > 0 ? t->cap * 2 : 64;
		if ((p = reallocarray(t->cells, cap, sizeof(*p))) == NULL) {
			t->failed = 1;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	if ((e = ctlout_escape(s, len)) == NULL) {
		t->failed = 1;
		return;
	}
	t->cells[t->ncells++] = e;
}

void
ctlout_cells(struct ctlout_table *t, const char *s)
{
	ctlout_cell(t, s, strlen(s));
}

void
ctlout_cellf(struct ctlout_table *t, const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);	/* numbers: fits */
	va_end(ap);
	ctlout_cells(t, buf);
}

static void
ctlout_spaces(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

/*
 * Padding is held back until text follows it, so a line never ends in
 * spaces whatever the last column's alignment.
 */
static void
ctlout_row(const struct ctlout_table *t, char *const *row, const size_t *w,
    FILE *f)
{
	size_t	c, pad, pending = 0;

	for (c = 0; c < t->ncols; c++) {
		pad = w[c] - ctlout_width(row[c]);
		pending += c > 0 ? 2 : 0;
		pending += t->cols[c].right ? pad : 0;
		if (row[c][0] != '\0') {
			ctlout_spaces(f, pending);
			fputs(row[c], f);
			pending = 0;
		}
		pending += t->cols[c].right ? 0 : pad;
	}
	fputc('\n', f);
}

int
ctlout_table_print(const struct ctlout_table *t, FILE *f)
{
	size_t	*w, i, n;

	if (t->failed || t->ncells % t->ncols != 0 ||
	    (w = calloc(t->ncols, sizeof(*w))) == NULL)
		return -1;
	for (i = 0; i < t->ncells; i++)
		if ((n = ctlout_width(t->cells[i])) > w[i % t->ncols])
			w[i % t->ncols] = n;
	for (i = 0; i < t->ncells; i += t->ncols)
		ctlout_row(t, t->cells + i, w, f);
	free(w);
	return 0;
}

void
ctlout_age(char *buf, size_t len, long long s)
{
	if (s < 0)
		s = 0;	/* the daemon's clock is ahead of ours */
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* One decimal below 10, as ls -h does, so the width stays small. */
void
ctlout_bytes(char *buf, size_t len, long long n)
{
	static const char	 units[] = " KMGTPE";
	double			 v = (double)n;
	size_t			 u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%lld", n);
		return;
	}
	/* 1023.5K would print as "1024K": that is 1.0M. */
	while (v >= 1023.5 && u < sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}
