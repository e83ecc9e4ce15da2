/*
 * The pre-authentication IMAP tokenizer (RFC 9051 s.4 and s.9, RFC 3501,
 * RFC 7888 LITERAL+).
 *
 * imap_parse() keeps no state between calls: it re-reads the buffered
 * command from its first byte.  It first finds the LF that ends the
 * current line and only then reads the tokens of that line, so a token
 * never meets the end of the buffer.  Two cases need more bytes: no LF
 * yet, or a literal's data still arriving.  A literal ends its line; its
 * data is followed by the next line of the same command.
 *
 * Because the line end is known before any token is judged, a malformed
 * line is dropped through its LF and the session stays in step with the
 * client, except when the line announces a {n+} literal: the client
 * sends those bytes without waiting and they would be read as commands.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "imap.h"

struct scan {
	struct imap_cmd	*cmd;
	const char	*buf;
	size_t		 len;		/* bytes buffered */
	size_t		 pos;		/* next byte to read */
	size_t		 bol;		/* start of the current line */
	size_t		 eol;		/* end of its text, before CR LF */
	size_t		 next;		/* just past its LF */
	size_t		 dlen;		/* bytes of cmd->data in use */
	size_t		 want;		/* end of a literal still arriving */
	size_t		 lit_at;	/* data offset of the last literal */
	int		 lit_sync;	/* the last literal was {n} */
	int		 depth;		/* open lists */
	int		 open;		/* the last token was "(" */
	int		 eof_eol;	/* the end of input ends a line */
	size_t		 argoff[IMAP_MAX_ARGS];	/* raw offset of each arg */
};

static int
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR: an atom may also hold "]" (resp-specials). */
static int
is_astring_char(unsigned char c)
{
	return c == ']' || is_atom_char(c);
}

static int
is_tag_char(unsigned char c)
{
	return c != '+' && is_astring_char(c);
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t
span(const char *buf, size_t from, size_t to, int (*ok)(unsigned char))
{
	size_t	i;

	for (i = from; i < to && ok((unsigned char)buf[i]); i++)
		continue;
	return i - from;
}

/* Does the current line end in "{digits+}", announcing a {n+} literal? */
static int
line_ends_nonsync(const struct scan *sc)
{
	const char	*b = sc->buf;
	size_t		 i = sc->eol;

	if (i - sc->bol < 3 || b[i - 1] != '}' || b[i - 2] != '+')
		return 0;
	for (i -= 2; i > sc->bol && is_digit((unsigned char)b[i - 1]); i--)
		continue;
	return i > sc->bol && b[i - 1] == '{';
}

static enum imap_result
scan_fatal(struct scan *sc, const char *err)
{
	sc->cmd->err = err;
	sc->cmd->fatal = 1;
	sc->cmd->len = 0;
	return IMAP_BAD;
}

/* A malformed line: drop it through its LF, if the client lets us. */
static enum imap_result
scan_fail(struct scan *sc, const char *err)
{
	if (line_ends_nonsync(sc))
		return scan_fatal(sc, err);
	sc->cmd->err = err;
	sc->cmd->len = sc->next;
	return IMAP_BAD;
}

/*
 * Finds the LF ending the line that starts at sc->pos.  A line holds at
 * most IMAP_MAX_LINE bytes, its CRLF included; past that without a LF
 * we cannot tell where it ends, so the session cannot go on.
 */
static enum imap_result
scan_line(struct scan *sc)
{
	const char	*lf;
	size_t		 lim;

	sc->bol = sc->pos;
	lim = sc->bol + IMAP_MAX_LINE;
	if (lim > IMAP_MAX_CMD)
		lim = IMAP_MAX_CMD;
	lf = memchr(sc->buf + sc->bol, '\n',
	    (sc->len < lim ? sc->len : lim) - sc->bol);
	if (lf == NULL && sc->eof_eol && sc->len < lim)
		sc->next = sc->eol = sc->len;
	else if (lf == NULL && sc->len >= lim)
		return scan_fatal(sc, sc->bol + IMAP_MAX_LINE > IMAP_MAX_CMD ?
		    "Command too long" : "Line too long");
	else if (lf == NULL)
		return IMAP_AGAIN;
	else
		sc->next = sc->eol = (size_t)(lf - sc->buf) + 1;
	if (sc->eol > sc->bol && sc->buf[sc->eol - 1] == '\n')
		sc->eol--;
	if (sc->eol > sc->bol && sc->buf[sc->eol - 1] == '\r')
		sc->eol--;
	return IMAP_OK;
}

/* Stores n bytes and a NUL in cmd->data; NULL when they do not fit. */
static char *
scan_store(struct scan *sc, const char *src, size_t n)
{
	char	*d;

	if (n >= sizeof(sc->cmd->data) - sc->dlen)
		return NULL;
	d = sc->cmd->data + sc->dlen;
	memmove(d, src, n);
	d[n] = '\0';
	sc->dlen += n + 1;
	return d;
}

static enum imap_result
scan_emit(struct scan *sc, enum imap_arg_type type, size_t rawoff,
    const char *str, size_t n, int literal)
{
	struct imap_arg	*a;
	char		*d;

	if ((d = scan_store(sc, str, n)) == NULL)
		return scan_fail(sc, "Command too long");
	a = &sc->cmd->args[sc->cmd->nargs];
	sc->argoff[sc->cmd->nargs++] = rawoff;
	a->type = type;
	a->literal = literal;
	a->str = d;
	a->len = n;
	sc->open = type == IMAP_ARG_LIST_START;
	return IMAP_OK;
}

/* Copies the tag for IMAP_BAD answers before the line is complete. */
static void
scan_peek_tag(struct scan *sc)
{
	size_t	n;

	n = span(sc->buf, 0, sc->len, is_tag_char);
	if (n == 0 || n > IMAP_MAX_TAG || n == sc->len)
		return;
	if (sc->buf[n] != ' ' && sc->buf[n] != '\r' && sc->buf[n] != '\n')
		return;
	memcpy(sc->cmd->tag, sc->buf, n);
	sc->cmd->tag[n] = '\0';
}

static enum imap_result
scan_tag(struct scan *sc)
{
	size_t	n;

	if (sc->eol == 0)
		return scan_fail(sc, "Empty command");
	n = span(sc->buf, 0, sc->eol, is_tag_char);
	if (n == 0 || n > IMAP_MAX_TAG ||
	    (n < sc->eol && sc->buf[n] != ' ')) {
		memcpy(sc->cmd->tag, "*", 2);
		return scan_fail(sc, "Invalid tag");
	}
	sc->pos = n;
	return IMAP_OK;
}

static enum imap_result
scan_name(struct scan *sc)
{
	size_t	i, n;

	if (sc->pos == sc->eol || ++sc->pos == sc->eol)
		return scan_fail(sc, "Missing command");
	n = span(sc->buf, sc->pos, sc->eol, is_atom_char);
	if (n == 0)
		return scan_fail(sc, "Invalid command");
	if (n > IMAP_MAX_ATOM)
		return scan_fail(sc, "Command name too long");
	for (i = 0; i < n; i++) {
		sc->cmd->name[i] = sc->buf[sc->pos + i];
		if (sc->cmd->name[i] >= 'a' && sc->cmd->name[i] <= 'z')
			sc->cmd->name[i] -= 'a' - 'A';
	}
	sc->cmd->name[n] = '\0';
	sc->pos += n;
	return IMAP_OK;
}

static enum imap_result
scan_atom(struct scan *sc)
{
	size_t	n, at = sc->pos;

	n = span(sc->buf, at, sc->eol, is_astring_char);
	if (n == 0)
		return scan_fail(sc, "Invalid character");
	sc->pos += n;
	return scan_emit(sc, IMAP_ARG_ATOM, at, sc->buf + at, n, 0);
}

/* A quoted string; only \" and \\ are escapes (RFC 9051 s.9, quoted). */
static enum imap_result
scan_quoted(struct scan *sc)
{
	struct imap_cmd	*cmd = sc->cmd;
	size_t		 i, n = 0, at = sc->pos;
	char		*d = cmd->data + sc->dlen;
	size_t		 room = sizeof(cmd->data) - sc->dlen;
	unsigned char	 c;

	for (i = at + 1; i < sc->eol && sc->buf[i] != '"'; i++) {
		c = (unsigned char)sc->buf[i];
		if (c == '\\') {
			if (++i == sc->eol ||
			    (sc->buf[i] != '"' && sc->buf[i] != '\\'))
				return scan_fail(sc, "Invalid escape");
			c = (unsigned char)sc->buf[i];
		} else if (c == '\0' || c == '\r')
			return scan_fail(sc, "Invalid character");
		if (n + 1 >= room)
			return scan_fail(sc, "Command too long");
		d[n++] = (char)c;
	}
	if (i == sc->eol)
		return scan_fail(sc, "Unterminated quoted string");
	sc->pos = i + 1;
	/* Decoded in place: scan_store() moves it onto itself. */
	return scan_emit(sc, IMAP_ARG_STRING, at, d, n, 0);
}

/*
 * A literal {n} or {n+} ending the line, its n bytes of data, and the
 * line after them.  Over a limit, a {n} line can be refused: its client
 * waits for "+" and sends nothing more of the command.
 */
static enum imap_result
scan_literal(struct scan *sc)
{
	size_t	i, n = 0, at = sc->pos, digits, end;
	int	sync = 1;

	for (i = at + 1; i < sc->eol && is_digit((unsigned char)sc->buf[i]);
	    i++)
		if (n <= IMAP_MAX_LITERAL)
			n = n * 10 + (size_t)(sc->buf[i] - '0');
	digits = i - at - 1;
	if (i < sc->eol && sc->buf[i] == '+') {
		sync = 0;
		i++;
	}
	if (digits == 0 || i + 1 != sc->eol || sc->buf[i] != '}')
		return scan_fail(sc, "Invalid literal");
	if (n > IMAP_MAX_LITERAL)
		return scan_fail(sc, "Literal too large");
	end = sc->next + n;
	if (end > IMAP_MAX_CMD)
		return scan_fail(sc, "Command too long");
	sc->lit_sync = sync;
	sc->lit_at = sc->next;
	if (sc->len < end) {
		sc->want = end;
		return IMAP_AGAIN;
	}
	if (scan_emit(sc, IMAP_ARG_STRING, at, sc->buf + sc->next, n, 1) !=
	    IMAP_OK)
		return IMAP_BAD;
	sc->pos = end;
	return scan_line(sc);
}

static enum imap_result
scan_value(struct scan *sc)
{
	size_t	at = sc->pos;

	if (sc->cmd->nargs == IMAP_MAX_ARGS)
		return scan_fail(sc, "Too many arguments");
	switch (sc->buf[at]) {
	case '(':
		if (sc->depth == IMAP_MAX_DEPTH)
			return scan_fail(sc, "Lists nested too deeply");
		sc->depth++;
		sc->pos++;
		return scan_emit(sc, IMAP_ARG_LIST_START, at, "(", 1, 0);
	case ')':
		if (sc->depth == 0)
			return scan_fail(sc, "Unbalanced parenthesis");
		sc->depth--;
		sc->pos++;
		return scan_emit(sc, IMAP_ARG_LIST_END, at, ")", 1, 0);
	case '"':
		return scan_quoted(sc);
	case '{':
		return scan_literal(sc);
	case '~':
		if (at + 1 < sc->eol && sc->buf[at + 1] == '{')
			return scan_fail(sc, "Literal8 not allowed");
		/* FALLTHROUGH */
	default:
		return scan_atom(sc);
	}
}

/* *(SP arg) up to the end of the command; "(" and ")" need no SP. */
static enum imap_result
scan_args(struct scan *sc)
{
	enum imap_result	r;

	for (;;) {
		if (sc->pos == sc->eol) {
			if (sc->depth > 0)
				return scan_fail(sc, "Unbalanced parenthesis");
			sc->cmd->len = sc->next;
			return IMAP_OK;
		}
		if (!sc->open && sc->buf[sc->pos] != ')') {
			if (sc->buf[sc->pos] != ' ')
				return scan_fail(sc, "Invalid character");
			if (++sc->pos == sc->eol || sc->buf[sc->pos] == ' ' ||
			    sc->buf[sc->pos] == ')')
				return scan_fail(sc, "Unexpected space");
		}
		if ((r = scan_value(sc)) != IMAP_OK)
			return r;
	}
}

static enum imap_result
scan_run(struct scan *sc, struct imap_cmd *cmd, const char *buf,
    size_t len, int eof_eol)
{
	enum imap_result	r;

	memset(sc, 0, sizeof(*sc));
	sc->cmd = cmd;
	sc->buf = buf;
	sc->len = len;
	sc->eof_eol = eof_eol;
	memcpy(cmd->tag, "*", 2);
	cmd->name[0] = '\0';
	cmd->nargs = cmd->len = cmd->want = cmd->cont_at = 0;
	cmd->cont = cmd->fatal = 0;
	cmd->err = NULL;

	scan_peek_tag(sc);
	if ((r = scan_line(sc)) == IMAP_OK && (r = scan_tag(sc)) == IMAP_OK &&
	    (r = scan_name(sc)) == IMAP_OK)
		r = scan_args(sc);
	if (r == IMAP_AGAIN) {
		cmd->want = sc->want;
		if (sc->lit_sync && sc->lit_at == len) {
			cmd->cont = 1;
			cmd->cont_at = sc->lit_at;
		}
	}
	return r;
}

enum imap_result
imap_parse(struct imap_cmd *cmd, const char *buf, size_t len)
{
	struct scan	sc;

	return scan_run(&sc, cmd, buf, len, 0);
}

enum imap_result
imap_parse_line(const char *buf, size_t len, size_t *linelen_r,
    size_t *used_r)
{
	const char	*lf;

	lf = memchr(buf, '\n', len < IMAP_MAX_LINE ? len : IMAP_MAX_LINE);
	if (lf == NULL)
		return len >= IMAP_MAX_LINE ? IMAP_BAD : IMAP_AGAIN;
	*used_r = (size_t)(lf - buf) + 1;
	*linelen_r = (size_t)(lf - buf);
	if (*linelen_r > 0 && buf[*linelen_r - 1] == '\r')
		(*linelen_r)--;
	return IMAP_OK;
}

int
imap_quote(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t	i, o = 0, need;
	char	c;

	if (dstlen > INT_MAX)
		dstlen = INT_MAX;
	if (dstlen < 3)
		goto fail;
	dst[o++] = '"';
	for (i = 0; i < len; i++) {
		c = src[i];
		if (c == '\0' || c == '\r' || c == '\n')
			goto fail;
		need = c == '"' || c == '\\' ? 2 : 1;
		/* Leave room for the closing quote and the NUL. */
		if (o + need + 2 > dstlen)
			goto fail;
		if (need == 2)
			dst[o++] = '\\';
		dst[o++] = c;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return (int)o;
fail:
	if (dstlen > 0) {
		OPENSSL_cleanse(dst, o);
		dst[0] = '\0';
	}
	return -1;
}

/* Appends src escaped for a log; stops before an escape that won't fit. */
static size_t
redact_put(char *dst, size_t dstlen, size_t o, const char *src, size_t n)
{
	char		 esc[5];
	unsigned char	 c;
	size_t		 i, k;

	for (i = 0; i < n; i++) {
		c = (unsigned char)src[i];
		if (c == '\r' || c == '\n')
			memcpy(esc, c == '\r' ? "\\r" : "\\n", 3);
		else if (c == '\\')
			memcpy(esc, "\\\\", 3);
		else if (c >= 0x20 && c < 0x7f) {
			esc[0] = (char)c;
			esc[1] = '\0';
		} else
			(void)snprintf(esc, sizeof(esc), "\\x%02x", c);
		k = strlen(esc);
		if (o + k >= dstlen)
			break;
		memcpy(dst + o, esc, k);
		o += k;
	}
	dst[o] = '\0';
	return o;
}

/*
 * The secret runs from the second argument to the end of the command:
 * a password with a stray space, or trailing junk, stays hidden too.
 */
char *
imap_redact(char *dst, size_t dstlen, const char *line, size_t len)
{
	struct imap_cmd	 cmd;
	struct scan	 sc;
	size_t		 o, cut;

	if (dstlen == 0)
		return dst;
	if (scan_run(&sc, &cmd, line, len, 1) != IMAP_OK || cmd.len != len) {
		(void)snprintf(dst, dstlen, "<%zu bytes>", len);
		goto done;
	}
	cut = sc.eol;
	if (cmd.nargs >= 2 && (strcmp(cmd.name, "LOGIN") == 0 ||
	    strcmp(cmd.name, "AUTHENTICATE") == 0))
		cut = sc.argoff[1];
	o = redact_put(dst, dstlen, 0, line, cut);
	if (cut < sc.eol)
		(void)redact_put(dst, dstlen, o, "<hidden>", 8);
done:
	OPENSSL_cleanse(cmd.data, sizeof(cmd.data));
	return dst;
}
