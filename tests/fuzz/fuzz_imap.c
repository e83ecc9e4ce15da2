/*
 * libFuzzer target: the pre-authentication IMAP tokenizer (proxy/imap.c).
 *
 * The input is what a client sends, any number of commands.  It arrives
 * in chunks of sizes drawn from its first bytes, into a buffer of the
 * session's size, and is consumed the way sess.c's sess_input_step()
 * does: imap_parse() for commands, imap_parse_line() for the SASL
 * continuation lines after AUTHENTICATE without an initial response,
 * the rest of the buffer dropped after STARTTLS.  Checked on every step:
 * - each result is well formed (tag, name, arguments inside cmd->data
 *   and NUL-terminated, len/want/cont as imap.h promises);
 * - a full buffer never gets IMAP_AGAIN (the session would stall);
 * - re-entrancy: the parse of a prefix is IMAP_AGAIN or the same result,
 *   and no length below a promised cmd->want changes the answer;
 * - imap_redact() never shows a LOGIN password or SASL initial response;
 * - imap_quote() output parses back to the same string.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "imap.h"

#include "fuzz.h"

#define REDACT_MAX	(IMAP_MAX_CMD * 4 + 16)
/* Reads of random size; later ones take all there is (each re-parses). */
#define MAX_SMALL_READS	64

static struct imap_cmd	 cmd, pcmd, qcmd;
static char		 buf[IMAP_MAX_CMD];

static int
tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '+' &&
	    strchr("(){%*\"\\", c) == NULL;
}

static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* What imap.h promises about any result for buf[0..len). */
static void
check_result(const struct imap_cmd *c, enum imap_result r, const char *b,
    size_t len)
{
	const struct imap_arg	*a;
	size_t			 i, n;
	int			 depth = 0;

	FUZZ_CHECK(r == IMAP_OK || r == IMAP_AGAIN || r == IMAP_BAD);
	FUZZ_CHECK(memchr(c->tag, '\0', sizeof(c->tag)) != NULL);
	n = strlen(c->tag);
	FUZZ_CHECK(n >= 1 && n <= IMAP_MAX_TAG);
	if (strcmp(c->tag, "*") != 0)
		for (i = 0; i < n; i++)
			FUZZ_CHECK(tag_char((unsigned char)c->tag[i]));
	FUZZ_CHECK(memchr(c->name, '\0', sizeof(c->name)) != NULL);
	FUZZ_CHECK(c->nargs <= IMAP_MAX_ARGS);
	switch (r) {
	case IMAP_OK:
		FUZZ_CHECK(c->len > 0 && c->len <= len);
		FUZZ_CHECK(b[c->len - 1] == '\n');
		n = strlen(c->name);
		FUZZ_CHECK(n >= 1 && n <= IMAP_MAX_ATOM);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(atom_char((unsigned char)c->name[i]) &&
			    !islower((unsigned char)c->name[i]));
		for (i = 0; i < c->nargs; i++) {
			a = &c->args[i];
			FUZZ_CHECK(a->str >= c->data && a->str + a->len <
			    c->data + sizeof(c->data));
			FUZZ_CHECK(a->str[a->len] == '\0');
			switch (a->type) {
			case IMAP_ARG_ATOM:
				FUZZ_CHECK(a->len > 0 && !a->literal);
				FUZZ_CHECK(memchr(a->str, '\0', a->len) == NULL);
				break;
			case IMAP_ARG_STRING:
				FUZZ_CHECK(a->len <= IMAP_MAX_LITERAL);
				if (!a->literal)
					FUZZ_CHECK(memchr(a->str, '\0',
					    a->len) == NULL);
				break;
			case IMAP_ARG_LIST_START:
				FUZZ_CHECK(++depth <= IMAP_MAX_DEPTH);
				break;
			case IMAP_ARG_LIST_END:
				FUZZ_CHECK(--depth >= 0);
				break;
			default:
				FUZZ_CHECK(!"argument type");
			}
		}
		FUZZ_CHECK(depth == 0);
		break;
	case IMAP_BAD:
		FUZZ_CHECK(c->err != NULL && c->err[0] != '\0');
		if (c->fatal)
			FUZZ_CHECK(c->len == 0);
		else {
			FUZZ_CHECK(c->len > 0 && c->len <= len);
			FUZZ_CHECK(b[c->len - 1] == '\n');
		}
		break;
	case IMAP_AGAIN:
		FUZZ_CHECK(c->want == 0 || (c->want > len &&
		    c->want <= IMAP_MAX_CMD));
		if (c->cont)
			FUZZ_CHECK(c->cont_at == len);
		break;
	}
}

/* Whether two results say the same (for a prefix and the whole). */
static int
same_result(const struct imap_cmd *x, enum imap_result rx,
    const struct imap_cmd *y, enum imap_result ry)
{
	size_t	i;

	if (rx != ry || strcmp(x->tag, y->tag) != 0)
		return 0;
	if (rx == IMAP_BAD)
		return x->len == y->len && x->fatal == y->fatal &&
		    strcmp(x->err, y->err) == 0;
	if (rx != IMAP_OK)
		return 1;
	if (x->len != y->len || strcmp(x->name, y->name) != 0 ||
	    x->nargs != y->nargs)
		return 0;
	for (i = 0; i < x->nargs; i++)
		if (x->args[i].type != y->args[i].type ||
		    x->args[i].literal != y->args[i].literal ||
		    x->args[i].len != y->args[i].len ||
		    memcmp(x->args[i].str, y->args[i].str, x->args[i].len) != 0)
			return 0;
	return 1;
}

static size_t
count_in(const char *hay, size_t haylen, const char *needle, size_t n)
{
	const char	*p = hay, *end = hay + haylen, *q;
	size_t		 count = 0;

	while (p < end && (q = memmem(p, (size_t)(end - p), needle, n)) !=
	    NULL) {
		count++;
		p = q + 1;
	}
	return count;
}

/*
 * The secret of a LOGIN (password) or AUTHENTICATE (initial response)
 * must not reach a log line.  Tested for secrets the escaping cannot
 * forge (alphanumerics starting with a capital: escapes are "\xhh",
 * "\r", "\n", "\\" with lower-case letters): the redacted line may
 * hold each fewer times than the raw command does.
 */
static void
check_redact(const struct imap_cmd *c, const char *raw, size_t len,
    struct fuzz_rng *rng)
{
	const struct imap_arg	*sec;
	char			*dst;
	size_t			 dstlen, i, n;

	dstlen = fuzz_rng_below(rng, 4) == 0 ? 1 + fuzz_rng_below(rng, 64) :
	    REDACT_MAX;
	if ((dst = malloc(dstlen)) == NULL)
		return;
	FUZZ_CHECK(imap_redact(dst, dstlen, raw, len) == dst);
	n = strnlen(dst, dstlen);
	FUZZ_CHECK(n < dstlen);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(dst[i] >= 0x20 && dst[i] < 0x7f);
	if (c == NULL || c->nargs < 2 || (strcmp(c->name, "LOGIN") != 0 &&
	    strcmp(c->name, "AUTHENTICATE") != 0))
		goto done;
	sec = &c->args[1];
	if ((sec->type != IMAP_ARG_ATOM && sec->type != IMAP_ARG_STRING) ||
	    sec->len < 4 || !isupper((unsigned char)sec->str[0]))
		goto done;
	for (i = 0; i < sec->len; i++)
		if (!isalnum((unsigned char)sec->str[i]))
			goto done;
	FUZZ_CHECK(count_in(dst, n, sec->str, sec->len) <
	    count_in(raw, len, sec->str, sec->len));
done:
	free(dst);
}

/* imap_quote() of an argument parses back to the same bytes. */
static void
check_quote(const struct imap_arg *a, struct fuzz_rng *rng)
{
	char	*q, *line;
	size_t	 qlen, full = a->len * 2 + 3, linelen;
	int	 r, clean;

	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING)
		return;
	clean = memchr(a->str, '\0', a->len) == NULL &&
	    memchr(a->str, '\r', a->len) == NULL &&
	    memchr(a->str, '\n', a->len) == NULL;
	qlen = fuzz_rng_below(rng, 4) == 0 ? 1 + fuzz_rng_below(rng, full) :
	    full;
	if ((q = malloc(qlen)) == NULL)
		return;
	r = imap_quote(q, qlen, a->str, a->len);
	if (r < 0) {
		FUZZ_CHECK(!clean || qlen < full);
		FUZZ_CHECK(qlen == 0 || q[0] == '\0');
		free(q);
		return;
	}
	FUZZ_CHECK(clean && (size_t)r < qlen && q[r] == '\0');
	FUZZ_CHECK(r >= 2 && q[0] == '"' && q[r - 1] == '"');
	linelen = (size_t)r + 6;
	if (linelen > IMAP_MAX_LINE || (line = malloc(linelen)) == NULL) {
		free(q);
		return;
	}
	memcpy(line, "t X ", 4);
	memcpy(line + 4, q, (size_t)r);
	memcpy(line + 4 + r, "\r\n", 2);
	FUZZ_CHECK(imap_parse(&qcmd, line, linelen) == IMAP_OK);
	FUZZ_CHECK(qcmd.len == linelen && qcmd.nargs == 1);
	FUZZ_CHECK(qcmd.args[0].type == IMAP_ARG_STRING);
	FUZZ_CHECK(qcmd.args[0].len == a->len &&
	    memcmp(qcmd.args[0].str, a->str, a->len) == 0);
	free(line);
	free(q);
}

/* Drops n bytes from the front of the buffer, as sess_consume() does. */
static void
consume(size_t *inlen, size_t n)
{
	FUZZ_CHECK(n > 0 && n <= *inlen);
	memmove(buf, buf + n, *inlen - n);
	*inlen -= n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rng		 rng;
	enum imap_result	 r, pr;
	size_t			 off = 0, inlen = 0, n, k, want = 0;
	size_t			 linelen, used, lines = 0, reads = 0;
	const char		*lf;

	fuzz_rng_init(&rng, data, size);
	for (;;) {
		/* A read: a chunk of the input, as much as the buffer takes. */
		if (off < size && inlen < sizeof(buf)) {
			/* Small reads for a while, then what is left. */
			switch (++reads > MAX_SMALL_READS ? 3 :
			    fuzz_rng_below(&rng, 4)) {
			case 0:
				n = 1;
				break;
			case 1:
				n = 1 + fuzz_rng_below(&rng, 32);
				break;
			default:
				n = size - off;
				break;
			}
			if (n > size - off)
				n = size - off;
			if (n > sizeof(buf) - inlen)
				n = sizeof(buf) - inlen;
			memcpy(buf + inlen, data + off, n);
			inlen += n;
			off += n;
		} else if (off == size)
			break;
		while (inlen > 0) {
			if (lines > 0) {
				/* A SASL continuation line (SESS_SASL). */
				r = imap_parse_line(buf, inlen, &linelen,
				    &used);
				lf = memchr(buf, '\n', inlen < IMAP_MAX_LINE ?
				    inlen : IMAP_MAX_LINE);
				if (r == IMAP_AGAIN) {
					FUZZ_CHECK(lf == NULL &&
					    inlen < IMAP_MAX_LINE);
					break;
				}
				if (r == IMAP_BAD) {
					FUZZ_CHECK(lf == NULL &&
					    inlen >= IMAP_MAX_LINE);
					return 0;	/* BAD and BYE */
				}
				FUZZ_CHECK(r == IMAP_OK && lf != NULL);
				FUZZ_CHECK(used == (size_t)(lf - buf) + 1);
				FUZZ_CHECK(linelen == used - 1 ||
				    (linelen == used - 2 &&
				    buf[linelen] == '\r'));
				lines = linelen == 1 && buf[0] == '*' ? 0 :
				    lines - 1;
				consume(&inlen, used);
				continue;
			}
			r = imap_parse(&cmd, buf, inlen);
			check_result(&cmd, r, buf, inlen);
			/* No length short of a promised want changes it. */
			if (want > 0 && inlen < want)
				FUZZ_CHECK(r == IMAP_AGAIN);
			/* Re-entrancy: a shorter read says AGAIN or the same. */
			k = fuzz_rng_below(&rng, inlen);
			pr = imap_parse(&pcmd, buf, k);
			check_result(&pcmd, pr, buf, k);
			FUZZ_CHECK(pr == IMAP_AGAIN ||
			    same_result(&pcmd, pr, &cmd, r));
			if (r == IMAP_AGAIN) {
				/* A full buffer that still waits would stall. */
				FUZZ_CHECK(inlen < sizeof(buf));
				want = cmd.want;
				break;
			}
			want = 0;
			if (r == IMAP_BAD) {
				if (cmd.fatal) {
					check_redact(NULL, buf, inlen, &rng);
					return 0;	/* BAD and BYE */
				}
				check_redact(NULL, buf, cmd.len, &rng);
				consume(&inlen, cmd.len);
				continue;
			}
			/* The command alone parses the same. */
			pr = imap_parse(&pcmd, buf, cmd.len);
			FUZZ_CHECK(same_result(&pcmd, pr, &cmd, r));
			check_redact(&cmd, buf, cmd.len, &rng);
			if (cmd.nargs > 0)
				check_quote(&cmd.args[fuzz_rng_below(&rng,
				    cmd.nargs)], &rng);
			consume(&inlen, cmd.len);
			if (strcmp(cmd.name, "AUTHENTICATE") == 0 &&
			    cmd.nargs == 1)
				lines = strcasecmp(cmd.args[0].str, "LOGIN") ==
				    0 ? 2 : 1;
			else if (strcmp(cmd.name, "STARTTLS") == 0)
				inlen = 0;	/* sess_starttls() */
		}
	}
	return 0;
}
