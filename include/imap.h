/*
 * The pre-authentication IMAP tokenizer (RFC 9051 s.4, RFC 3501 s.4,
 * RFC 7888 LITERAL+).  It is stateless: imap_parse() parses whatever the
 * session has buffered from the start of a command, so input may arrive
 * byte by byte or in any split.  The caller re-parses when more bytes
 * arrive; cmd->want says when a re-parse can make progress.
 *
 * Nothing here allocates, logs or does I/O.
 */
#ifndef IMAP_H
#define IMAP_H

#include <stddef.h>

#include "bounds.h"

enum imap_result {
	IMAP_OK,	/* a whole command is parsed; cmd->len bytes used */
	IMAP_AGAIN,	/* needs more bytes */
	IMAP_BAD	/* malformed; see cmd->err, cmd->len, cmd->fatal */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* includes NIL and numbers */
	IMAP_ARG_STRING,	/* quoted string or literal, decoded */
	IMAP_ARG_LIST_START,	/* "(" */
	IMAP_ARG_LIST_END	/* ")" */
};

struct imap_arg {
	enum imap_arg_type	 type;
	int			 literal;	/* STRING that came as {n} */
	const char		*str;		/* NUL-terminated, in cmd->data */
	size_t			 len;		/* may hold NULs if literal */
};

struct imap_cmd {
	char			 tag[IMAP_MAX_TAG + 1];
	char			 name[IMAP_MAX_ATOM + 1]; /* upper-cased */
	struct imap_arg		 args[IMAP_MAX_ARGS];
	size_t			 nargs;
	/*
	 * IMAP_OK: bytes of the command, final CRLF included.
	 * IMAP_BAD: bytes to drop to resynchronise (through the end of
	 * the offending line); 0 when fatal.
	 */
	size_t			 len;
	/*
	 * IMAP_AGAIN: the buffer length at which a re-parse can make
	 * progress (the end of a literal being received), or 0: wait for
	 * the next LF.
	 */
	size_t			 want;
	/*
	 * IMAP_AGAIN: a synchronizing literal {n} was announced and none
	 * of its data has arrived; the caller sends "+ " once per value of
	 * cont_at (the buffer offset where the literal data starts).
	 */
	int			 cont;
	size_t			 cont_at;
	/* IMAP_BAD: the session cannot resynchronise; BYE and close. */
	int			 fatal;
	/* IMAP_BAD: static text for the client ("Line too long"). */
	const char		*err;
	/* Decoded argument storage. */
	char			 data[IMAP_MAX_CMD];
};

/*
 * Parses one command from buf[0..len): tag SP command *(SP arg) CRLF,
 * where an arg is an atom, a quoted string (\" and \\ escapes), a
 * literal {n} or {n+} (n <= IMAP_MAX_LITERAL), or a parenthesised list
 * of those.  A bare LF is accepted as a line end.  The tag is kept even
 * on IMAP_BAD when it could be read ("*" otherwise), so the caller can
 * answer "tag BAD ...".  Limits: IMAP_MAX_LINE per line, IMAP_MAX_CMD in
 * all, IMAP_MAX_ARGS arguments.
 *
 * A line counts its CRLF, from the command's start or a literal's end.
 * IMAP_BAD is fatal when the end of the bad part cannot be found (a line
 * over IMAP_MAX_LINE) or when the bad line announces {n+}, whose data
 * the client sends unasked; an oversized {n} is not fatal, since the
 * client waits for "+".  With want 0, re-parse on every read (only a LF
 * or reaching IMAP_MAX_LINE changes the answer); with want > 0, once
 * len >= want.  cmd->data then holds any password: wipe it after use.
 */
enum imap_result imap_parse(struct imap_cmd *cmd, const char *buf,
		    size_t len);

/*
 * Finds the end of one raw line (a SASL continuation response).
 * Returns IMAP_OK with *linelen_r (CRLF excluded) and *used_r (CRLF
 * included), IMAP_AGAIN, or IMAP_BAD when no LF is within IMAP_MAX_LINE.
 */
enum imap_result imap_parse_line(const char *buf, size_t len,
		    size_t *linelen_r, size_t *used_r);

/*
 * Writes src as an IMAP quoted string into dst when it can be quoted
 * (no CR, LF or NUL); returns the length written (without NUL), or -1
 * when it cannot be quoted or does not fit.
 */
int		 imap_quote(char *dst, size_t dstlen, const char *src,
		    size_t len);

/*
 * Copies a command line into dst for a debug log with the secrets of
 * LOGIN (the password) and AUTHENTICATE (the initial response) replaced
 * by <hidden>, and non-printable bytes escaped.  Returns dst.
 */
char		*imap_redact(char *dst, size_t dstlen, const char *line,
		    size_t len);

#endif
