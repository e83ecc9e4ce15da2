/*
 * Error messages collected into a caller's fixed buffer, one
 * "FILE:LINE: what is wrong" line each (STYLE.md section 3).  Loaders
 * report every mistake, so the buffer may fill up: the text then ends
 * with a last "... more errors" line rather than with half a message,
 * and the count goes on, so the caller still knows the load failed.
 * Plain C with no allocation: libacl.a links it too.
 */
#ifndef ERRBUF_H
#define ERRBUF_H

#include <stddef.h>

struct errbuf {
	char	*buf;	/* NULL: count only */
	size_t	 len;
	size_t	 used;
	size_t	 n;	/* messages added, shown or not */
	int	 full;	/* "... more errors" written */
};

/*
 * Sets e up over buf (len bytes, buf may be NULL); buf stays the
 * caller's.  buf[0] = '\0' when there is room.
 */
void	errbuf_init(struct errbuf *e, char *buf, size_t len);
/*
 * Counts msg and adds it as one line when it fits with room to spare
 * for "\n... more errors"; otherwise writes that line instead, and
 * from then on only counts.  buf stays NUL-terminated within len.
 * msg must not point into buf.
 */
void	errbuf_add(struct errbuf *e, const char *msg);
/* errbuf_add() of a formatted message. */
void	errbuf_addf(struct errbuf *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Appends one line to the NUL-terminated text already in buf, with the
 * same "... more errors" rule (a buffer that already ends with that
 * line takes nothing more): for callers that pass plain buffers
 * through.  buf may be NULL; a buf with no NUL in len is left alone.
 */
void	errbuf_appendf(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
