/*
 * imapproxyctl's output for people: aligned tables in the manner of
 * `doveadm who`, and the escaping that keeps bytes a client chose (user
 * names) from driving the terminal.
 */
#ifndef CTLOUT_H
#define CTLOUT_H

#include <stdio.h>

struct ctlout_table;

struct ctlout_col {
	const char	*name;		/* header */
	int		 right;		/* right-aligned (numbers) */
};

/*
 * A table with ncols columns; cols must outlive it.  NULL when out of
 * memory.  Free with ctlout_table_free(), which accepts NULL.
 */
struct ctlout_table *ctlout_table_new(const struct ctlout_col *cols,
	    size_t ncols);
void	ctlout_table_free(struct ctlout_table **tp);
/*
 * Appends one cell, escaped with ctlout_escape(), filling rows left to
 * right.  s may hold NUL bytes (len counts them).  Running out of
 * memory is remembered and reported by ctlout_table_print().
 */
void	ctlout_cell(struct ctlout_table *t, const char *s, size_t len);
void	ctlout_cells(struct ctlout_table *t, const char *s);
void	ctlout_cellf(struct ctlout_table *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Prints the header and rows to f, columns as wide as their widest
 * cell, two spaces apart, no trailing spaces.  -1 when a cell was lost
 * to a lack of memory (nothing printed) or a row is incomplete.
 */
int	ctlout_table_print(const struct ctlout_table *t, FILE *f);

/*
 * A new string (free()) showing s safely: control characters, DEL,
 * invalid UTF-8 and C1 controls as \xNN, bidirectional overrides and
 * line separators as \uNNNN, a backslash as \\.  NULL when out of
 * memory.
 */
char	*ctlout_escape(const char *s, size_t len);
/* Prints s escaped to f. */
void	ctlout_puts(FILE *f, const char *s, size_t len);

/* A duration for a column: "3s", "5m", "2h05m", "3d04h". */
void	ctlout_age(char *buf, size_t len, long long seconds);
/* A byte count for a column: "123", "1.2K", "34M" (binary units). */
void	ctlout_bytes(char *buf, size_t len, long long n);

#endif
