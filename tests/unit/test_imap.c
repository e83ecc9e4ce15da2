/*
 * Unit tests for the pre-auth tokenizer (proxy/imap.c).  Every input of
 * the table is also parsed at every prefix length, each prefix in a heap
 * buffer of exactly that size so valgrind and ASan catch a read past it:
 * a proper prefix must give IMAP_AGAIN, until the point where the
 * answer is known ("early"), from which on it must not change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap.h"

struct exp_arg {
	enum imap_arg_type	 type;
	const char		*str;
	size_t			 len;
	int			 literal;
};

struct parse_case {
	const char		*desc;
	const char		*in;
	size_t			 inlen;	/* 0: strlen(in) */
	enum imap_result	 res;
	const char		*tag;
	const char		*name;	/* IMAP_OK */
	const struct exp_arg	*args;	/* IMAP_OK */
	size_t			 nargs;
	const char		*err;	/* IMAP_BAD */
	int			 fatal;
	size_t			 used;	/* cmd->len if not inlen (or 0) */
	size_t			 early;	/* first prefix with the answer */
};

#define A(s)	{ IMAP_ARG_ATOM, s, sizeof(s) - 1, 0 }
#define S(s)	{ IMAP_ARG_STRING, s, sizeof(s) - 1, 0 }
#define L(s)	{ IMAP_ARG_STRING, s, sizeof(s) - 1, 1 }
#define LS	{ IMAP_ARG_LIST_START, "(", 1, 0 }
#define LE	{ IMAP_ARG_LIST_END, ")", 1, 0 }
#define ARGS(...)							\
	.args = (const struct exp_arg[]){ __VA_ARGS__ },		\
	.nargs = sizeof((const struct exp_arg[]){ __VA_ARGS__ }) /	\
	    sizeof(struct exp_arg)
#define OK(d, i, t, n)	.desc = d, .in = i, .res = IMAP_OK, .tag = t, .name = n
#define BAD(d, i, t, e)	.desc = d, .in = i, .res = IMAP_BAD, .tag = t, .err = e

static struct parse_case cases[] = {
	{ OK("login atoms", "a1 LOGIN bob secret\r\n", "a1", "LOGIN"),
	    ARGS(A("bob"), A("secret")) },
	{ OK("login quoted", "a2 LOGIN \"bob\" \"se\\\"c\\\\r et\"\r\n", "a2",
	    "LOGIN"), ARGS(S("bob"), S("se\"c\\r et")) },
	{ OK("login empty quoted", "a3 LOGIN \"\" \"\"\r\n", "a3", "LOGIN"),
	    ARGS(S(""), S("")) },
	{ OK("login sync literals", "a4 LOGIN {3}\r\nbob {6}\r\nsecret\r\n",
	    "a4", "LOGIN"), ARGS(L("bob"), L("secret")) },
	{ OK("login literal+", "a5 LOGIN {3+}\r\nbob {6+}\r\nsecret\r\n",
	    "a5", "LOGIN"), ARGS(L("bob"), L("secret")) },
	{ OK("literal holding NUL, CR, LF",
	    "a6 LOGIN {5}\r\nb\0\r\nb pw\r\n", "a6", "LOGIN"),
	    .inlen = 24, ARGS(L("b\0\r\nb"), A("pw")) },
	{ OK("empty literals", "a7 LOGIN {0}\r\n {0+}\r\n\r\n", "a7",
	    "LOGIN"), ARGS(L(""), L("")) },
	{ OK("literal in a list", "a8 ID ({2}\r\nab)\r\n", "a8", "ID"),
	    ARGS(LS, L("ab"), LE) },
	{ OK("literal with leading zeros", "a9 LOGIN u {002}\r\npw\r\n", "a9",
	    "LOGIN"), ARGS(A("u"), L("pw")) },
	{ OK("authenticate", "b1 AUTHENTICATE PLAIN\r\n", "b1",
	    "AUTHENTICATE"), ARGS(A("PLAIN")) },
	{ OK("authenticate sasl-ir",
	    "b2 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", "b2",
	    "AUTHENTICATE"),
	    ARGS(A("PLAIN"), A("AHRpbQB0YW5zdGFhZnRhbnN0YWFm")) },
	{ OK("authenticate empty ir", "b3 AUTHENTICATE PLAIN =\r\n", "b3",
	    "AUTHENTICATE"), ARGS(A("PLAIN"), A("=")) },
	{ OK("id list", "b4 ID (\"name\" \"mutt\" \"version\" \"2.2\")\r\n",
	    "b4", "ID"),
	    ARGS(LS, S("name"), S("mutt"), S("version"), S("2.2"), LE) },
	{ OK("id nil", "b5 ID NIL\r\n", "b5", "ID"), ARGS(A("NIL")) },
	{ OK("id empty list", "b6 ID ()\r\n", "b6", "ID"), ARGS(LS, LE) },
	{ OK("capability", "c1 CAPABILITY\r\n", "c1", "CAPABILITY") },
	{ OK("noop", "c2 NOOP\r\n", "c2", "NOOP") },
	{ OK("logout", "c3 LOGOUT\r\n", "c3", "LOGOUT") },
	{ OK("starttls", "c4 STARTTLS\r\n", "c4", "STARTTLS") },
	{ OK("bare lf", "c5 NOOP\n", "c5", "NOOP") },
	{ OK("bare lf after literal", "c6 LOGIN {1}\nu p\n", "c6", "LOGIN"),
	    ARGS(L("u"), A("p")) },
	{ OK("lower-case name", "c7 login Bob Pw\r\n", "c7", "LOGIN"),
	    ARGS(A("Bob"), A("Pw")) },
	{ OK("mixed-case name", "c8 StartTls\r\n", "c8", "STARTTLS") },
	{ OK("tag with ]", "a]1 NOOP\r\n", "a]1", "NOOP") },
	{ OK("astring args with ]", "c9 LOGIN a]b pw]\r\n", "c9", "LOGIN"),
	    ARGS(A("a]b"), A("pw]")) },
	{ OK("8-bit in quoted", "d1 LOGIN \"b\xc3\xa9\" pw\r\n", "d1",
	    "LOGIN"), ARGS(S("b\xc3\xa9"), A("pw")) },
	{ OK("nested lists", "d2 ID ((a (b)) ())\r\n", "d2", "ID"),
	    ARGS(LS, LS, A("a"), LS, A("b"), LE, LE, LS, LE, LE) },
	{ OK("lists at max depth", "d3 ID ((((x))))\r\n", "d3", "ID"),
	    ARGS(LS, LS, LS, LS, A("x"), LE, LE, LE, LE) },
	{ OK("pipelined: first command only", "d4 NOOP\r\nd5 NOOP\r\n",
	    "d4", "NOOP"), .used = 9, .early = 9 },
	{ OK("unknown command parses", "d6 SELECT INBOX\r\n", "d6",
	    "SELECT"), ARGS(A("INBOX")) },

	{ BAD("bad tag +", "+ NOOP\r\n", "*", "Invalid tag") },
	{ BAD("bad tag a+b", "a+b NOOP\r\n", "*", "Invalid tag") },
	{ BAD("bad tag *", "* NOOP\r\n", "*", "Invalid tag") },
	{ BAD("bad tag {", "a{1 NOOP\r\n", "*", "Invalid tag") },
	{ BAD("empty line", "\r\n", "*", "Empty command") },
	{ BAD("empty line lf", "\n", "*", "Empty command") },
	{ BAD("tag only", "e1\r\n", "e1", "Missing command") },
	{ BAD("tag and space", "e2 \r\n", "e2", "Missing command") },
	{ BAD("two spaces", "e3  NOOP\r\n", "e3", "Invalid command") },
	{ BAD("NUL in name", "e4 NO\0OP\r\n", "e4", "Invalid character"),
	    .inlen = 10 },
	{ BAD("NUL in atom", "e5 LOGIN a\0 b\r\n", "e5",
	    "Invalid character"), .inlen = 15 },
	{ BAD("NUL in quoted", "e6 LOGIN \"a\0\" b\r\n", "e6",
	    "Invalid character"), .inlen = 17 },
	{ BAD("NUL in tag", "e\0 NOOP\r\n", "*", "Invalid tag"), .inlen = 9 },
	{ BAD("CR alone", "e7 NOOP\rX\r\n", "e7", "Invalid character") },
	{ BAD("CR alone in quoted", "e8 LOGIN \"a\rb\" c\r\n", "e8",
	    "Invalid character") },
	{ BAD("CR CR LF", "e9 NOOP\r\r\n", "e9", "Invalid character") },
	{ BAD("8-bit in atom", "f1 LOGIN b\xc3\xa9 pw\r\n", "f1",
	    "Invalid character") },
	{ BAD("8-bit in name", "f2 N\xc3\xa9OP\r\n", "f2",
	    "Invalid character") },
	{ BAD("atom-special %", "f3 LOGIN a%b pw\r\n", "f3",
	    "Invalid character") },
	{ BAD("unterminated quote", "f4 LOGIN \"bob pw\r\n", "f4",
	    "Unterminated quoted string") },
	{ BAD("unterminated quote then {n+}", "f5 LOGIN \"bob {5+}\r\n",
	    "f5", "Unterminated quoted string"), .fatal = 1 },
	{ BAD("unterminated quote then {n}", "f6 LOGIN \"bob {5}\r\n", "f6",
	    "Unterminated quoted string") },
	{ BAD("bad escape", "f7 LOGIN \"a\\nb\" pw\r\n", "f7",
	    "Invalid escape") },
	{ BAD("backslash at end", "f8 LOGIN \"a\\\r\n", "f8",
	    "Invalid escape") },
	{ BAD("quoted glued to quoted", "f9 LOGIN \"a\"\"b\"\r\n", "f9",
	    "Invalid character") },
	{ BAD("trailing space", "g1 NOOP \r\n", "g1", "Unexpected space") },
	{ BAD("space after (", "g2 ID ( a)\r\n", "g2", "Invalid character") },
	{ BAD("space before )", "g3 ID (a )\r\n", "g3", "Unexpected space") },
	{ BAD("unbalanced (", "g4 ID (a\r\n", "g4",
	    "Unbalanced parenthesis") },
	{ BAD("unbalanced )", "g5 ID a)\r\n", "g5",
	    "Unbalanced parenthesis") },
	{ BAD("lists too deep", "g6 ID (((((x)))))\r\n", "g6",
	    "Lists nested too deeply") },
	{ BAD("list glued to name", "g7 ID(a)\r\n", "g7",
	    "Invalid character") },
	{ BAD("literal8 sync", "g8 LOGIN ~{3}\r\n", "g8",
	    "Literal8 not allowed") },
	{ BAD("literal8 non-sync", "g9 LOGIN ~{3+}\r\n", "g9",
	    "Literal8 not allowed"), .fatal = 1 },
	{ BAD("literal not ending line", "h1 LOGIN {3} x\r\n", "h1",
	    "Invalid literal") },
	{ BAD("literal without digits", "h2 LOGIN {}\r\n", "h2",
	    "Invalid literal") },
	{ BAD("literal+ without digits", "h3 LOGIN {+}\r\n", "h3",
	    "Invalid literal"), .fatal = 1 },
	{ BAD("literal unclosed", "h4 LOGIN {3\r\n", "h4",
	    "Invalid literal") },
	{ BAD("literal glued to atom", "h5 LOGIN a{3}\r\n", "h5",
	    "Invalid character") },
	{ BAD("literal+ glued to atom", "h6 LOGIN a{3+}\r\n", "h6",
	    "Invalid character"), .fatal = 1 },
	{ BAD("error before {n+}", "h7 LOGIN a  {3+}\r\n", "h7",
	    "Unexpected space"), .fatal = 1 },
	{ BAD("error before {n}", "h8 LOGIN a  {3}\r\n", "h8",
	    "Unexpected space") },
	{ BAD("huge sync literal", "h9 LOGIN {99999999999999999999999}\r\n",
	    "h9", "Literal too large") },
	{ BAD("huge literal+", "i1 LOGIN {99999999999999999999999+}\r\n",
	    "i1", "Literal too large"), .fatal = 1 },
	{ BAD("error after a literal", "i2 LOGIN {3}\r\nbob \"x\r\n", "i2",
	    "Unterminated quoted string") },
	{ BAD("sync literal too large, data sent anyway",
	    "i3 LOGIN {8193}\r\nxyz", "i3", "Literal too large"),
	    .used = 17, .early = 17 },
	{ BAD("bad line then next command", "i4 LOGIN \"x\r\ni5 NOOP\r\n",
	    "i4", "Unterminated quoted string"), .used = 13, .early = 13 },
};

static char *
dup_exact(const char *in, size_t n)
{
	char	*p;

	p = malloc(n > 0 ? n : 1);
	assert_non_null(p);
	memcpy(p, in, n);
	return p;
}

#define CHECK(c, p, cond) do {						\
	if (!(cond))							\
		fail_msg("%s, prefix %zu: %s", (c)->desc, (size_t)(p),	\
		    #cond);						\
} while (0)

static void
check_again(const struct parse_case *c, const struct imap_cmd *cmd,
    enum imap_result r, size_t p, size_t inlen)
{
	CHECK(c, p, r == IMAP_AGAIN);
	CHECK(c, p, cmd->want == 0 || (cmd->want > p &&
	    cmd->want <= IMAP_MAX_CMD));
	CHECK(c, p, !cmd->cont || cmd->cont_at == p);
	if (strcmp(c->tag, "*") != 0 && p > strlen(c->tag))
		CHECK(c, p, strcmp(cmd->tag, c->tag) == 0);
	(void)inlen;
}

static void
check_args(const struct parse_case *c, const struct imap_cmd *cmd,
    size_t p)
{
	const struct exp_arg	*e;
	const struct imap_arg	*a;
	size_t			 i;

	CHECK(c, p, cmd->nargs == c->nargs);
	for (i = 0; i < c->nargs; i++) {
		e = &c->args[i];
		a = &cmd->args[i];
		if (a->type != e->type || a->len != e->len ||
		    a->literal != e->literal ||
		    memcmp(a->str, e->str, e->len) != 0 ||
		    a->str[a->len] != '\0' || a->str < cmd->data ||
		    a->str >= cmd->data + sizeof(cmd->data))
			fail_msg("%s, prefix %zu: arg %zu differs", c->desc,
			    p, i);
	}
}

static void
check_final(const struct parse_case *c, const struct imap_cmd *cmd,
    enum imap_result r, size_t p, size_t inlen)
{
	size_t	used = c->used ? c->used : inlen;

	CHECK(c, p, r == c->res);
	CHECK(c, p, strcmp(cmd->tag, c->tag) == 0);
	if (r == IMAP_OK) {
		CHECK(c, p, strcmp(cmd->name, c->name) == 0);
		CHECK(c, p, cmd->len == used);
		check_args(c, cmd, p);
		return;
	}
	CHECK(c, p, cmd->fatal == c->fatal);
	CHECK(c, p, cmd->len == (c->fatal ? 0 : used));
	CHECK(c, p, cmd->err != NULL && strcmp(cmd->err, c->err) == 0);
}

static void
run_case(const struct parse_case *c)
{
	struct imap_cmd		*cmd;
	enum imap_result	 r;
	size_t			 p, inlen, early;
	char			*buf;

	inlen = c->inlen ? c->inlen : strlen(c->in);
	early = c->early ? c->early : inlen;
	cmd = malloc(sizeof(*cmd));
	assert_non_null(cmd);
	for (p = 0; p <= inlen; p++) {
		buf = dup_exact(c->in, p);
		r = imap_parse(cmd, buf, p);
		free(buf);
		if (p < early)
			check_again(c, cmd, r, p, inlen);
		else
			check_final(c, cmd, r, p, inlen);
	}
	free(cmd);
}

static void
test_case(void **state)
{
	run_case(*state);
}

/* Runs a generated input through the same checks as the table. */
static void
run_built(struct parse_case *c, const char *in, size_t inlen)
{
	c->in = in;
	c->inlen = inlen;
	run_case(c);
}

static char *
fill(char *p, int ch, size_t n)
{
	memset(p, ch, n);
	return p + n;
}

static void
test_line_limit(void **state)
{
	struct parse_case	 c = { .tag = "a", .name = "LOGIN" };
	struct exp_arg		 args[2] = { A("u") };
	char			*in, *p;
	size_t			 n;

	(void)state;
	in = malloc(IMAP_MAX_LINE + 2);
	assert_non_null(in);
	/* "a LOGIN u xxx...\r\n" of exactly IMAP_MAX_LINE bytes. */
	n = IMAP_MAX_LINE - strlen("a LOGIN u ") - 2;
	p = in + snprintf(in, 16, "a LOGIN u ");
	args[1].type = IMAP_ARG_ATOM;
	args[1].str = p;
	args[1].len = n;
	p = fill(p, 'x', n);
	memcpy(p, "\r\n", 2);
	c.desc = "line of IMAP_MAX_LINE";
	c.res = IMAP_OK;
	c.args = args;
	c.nargs = 2;
	run_built(&c, in, IMAP_MAX_LINE);

	/* One byte more: refused once IMAP_MAX_LINE bytes hold no LF. */
	p = in + IMAP_MAX_LINE - 2;
	memcpy(p, "x\r\n", 3);
	c.desc = "line of IMAP_MAX_LINE + 1";
	c.res = IMAP_BAD;
	c.err = "Line too long";
	c.fatal = 1;
	c.early = IMAP_MAX_LINE;
	run_built(&c, in, IMAP_MAX_LINE + 1);
	free(in);
}

/* The limit counts from the start of each line, not of the command. */
static void
test_line_limit_after_literal(void **state)
{
	struct parse_case	 c = { .tag = "a", .name = "LOGIN" };
	struct exp_arg		 args[2] = { L("u") };
	const char		*head = "a LOGIN {1}\r\nu ";
	char			*in, *p;
	size_t			 hl = strlen(head) - 1, n;

	(void)state;
	in = malloc(hl + IMAP_MAX_LINE + 1);
	assert_non_null(in);
	memcpy(in, head, hl + 1);
	n = IMAP_MAX_LINE - 3;
	args[1].type = IMAP_ARG_ATOM;
	args[1].str = in + hl + 1;
	args[1].len = n;
	p = fill(in + hl + 1, 'y', n);
	memcpy(p, "\r\n", 2);
	c.desc = "line of IMAP_MAX_LINE after a literal";
	c.res = IMAP_OK;
	c.args = args;
	c.nargs = 2;
	run_built(&c, in, hl + IMAP_MAX_LINE);

	memcpy(p, "y\r\n", 3);
	c.desc = "line of IMAP_MAX_LINE + 1 after a literal";
	c.res = IMAP_BAD;
	c.err = "Line too long";
	c.fatal = 1;
	c.early = hl + IMAP_MAX_LINE;
	run_built(&c, in, hl + IMAP_MAX_LINE + 1);
	free(in);
}

/* "a LOGIN {n}\r\n" or {n+}, n bytes of 'z', then " pw\r\n". */
static size_t
build_literal(char *in, size_t n, int plus)
{
	char	*p;

	p = in + snprintf(in, 32, "a LOGIN {%zu%s}\r\n", n, plus ? "+" : "");
	p = fill(p, 'z', n);
	memcpy(p, " pw\r\n", 5);
	return (size_t)(p + 5 - in);
}

static void
test_literal_limit(void **state)
{
	struct parse_case	 c = { .tag = "a" };
	struct exp_arg		 args[2] = { L(""), A("pw") };
	char			*in;
	size_t			 inlen, head;
	int			 plus;

	(void)state;
	in = malloc(IMAP_MAX_LITERAL + 64);
	assert_non_null(in);
	for (plus = 0; plus <= 1; plus++) {
		memset(&c, 0, sizeof(c));
		c.tag = "a";
		inlen = build_literal(in, IMAP_MAX_LITERAL, plus);
		head = inlen - IMAP_MAX_LITERAL - 5;
		args[0].str = in + head;
		args[0].len = IMAP_MAX_LITERAL;
		c.desc = plus ? "literal+ at the limit" :
		    "literal at the limit";
		c.res = IMAP_OK;
		c.name = "LOGIN";
		c.args = args;
		c.nargs = 2;
		run_built(&c, in, inlen);

		/* One more: refused as soon as its announcement is read. */
		inlen = build_literal(in, IMAP_MAX_LITERAL + 1, plus);
		head = inlen - IMAP_MAX_LITERAL - 1 - 5;
		c.desc = plus ? "literal+ over the limit" :
		    "literal over the limit";
		c.res = IMAP_BAD;
		c.err = "Literal too large";
		c.fatal = plus;
		c.used = head;
		c.early = head;
		run_built(&c, in, head);
	}
	free(in);
}

/* Two literals at the limit make a command over IMAP_MAX_CMD. */
static void
test_command_limit(void **state)
{
	struct parse_case	 c = { .tag = "a" };
	char			*in, *p;
	size_t			 first;
	int			 plus;

	(void)state;
	in = malloc(2 * IMAP_MAX_LITERAL + 64);
	assert_non_null(in);
	for (plus = 0; plus <= 1; plus++) {
		p = in + snprintf(in, 32, "a LOGIN {%d}\r\n", IMAP_MAX_LITERAL);
		p = fill(p, 'z', IMAP_MAX_LITERAL);
		first = (size_t)(p - in);
		p += snprintf(p, 32, " {%d%s}\r\n", IMAP_MAX_LITERAL,
		    plus ? "+" : "");
		c.desc = plus ? "literal+ past IMAP_MAX_CMD" :
		    "literal past IMAP_MAX_CMD";
		c.res = IMAP_BAD;
		c.err = "Command too long";
		c.fatal = plus;
		run_built(&c, in, (size_t)(p - in));

		/* A line running past IMAP_MAX_CMD without its LF. */
		p = fill(in + first, 'w', IMAP_MAX_CMD - first);
		c.desc = "line past IMAP_MAX_CMD";
		c.fatal = 1;
		c.early = IMAP_MAX_CMD;
		run_built(&c, in, IMAP_MAX_CMD + 0);
		c.early = 0;
	}
	free(in);
}

static void
test_args_limit(void **state)
{
	struct parse_case	 c = { .tag = "a", .name = "ID" };
	struct exp_arg		 args[IMAP_MAX_ARGS];
	char			 in[8 * IMAP_MAX_ARGS];
	size_t			 i, n;

	(void)state;
	n = (size_t)snprintf(in, sizeof(in), "a ID");
	for (i = 0; i < IMAP_MAX_ARGS; i++) {
		args[i].type = IMAP_ARG_ATOM;
		args[i].str = "x";
		args[i].len = 1;
		args[i].literal = 0;
		n += (size_t)snprintf(in + n, sizeof(in) - n, " x");
	}
	memcpy(in + n, "\r\n", 3);
	c.desc = "IMAP_MAX_ARGS arguments";
	c.res = IMAP_OK;
	c.args = args;
	c.nargs = IMAP_MAX_ARGS;
	run_built(&c, in, n + 2);

	memcpy(in + n, " x\r\n", 5);
	c.desc = "too many arguments";
	c.res = IMAP_BAD;
	c.err = "Too many arguments";
	run_built(&c, in, n + 4);

	/* A list end counts too. */
	memcpy(in + n - 2, " (", 2);
	memcpy(in + n, ")\r\n", 4);
	c.desc = "too many arguments with a list";
	run_built(&c, in, n + 3);

	/* Cannot skip the {n+} data that would follow: fatal. */
	memcpy(in + n, " {2+}\r\n", 8);
	memcpy(in + n - 2, " x", 2);
	c.desc = "too many arguments before {n+}";
	c.fatal = 1;
	run_built(&c, in, n + 7);
}

static void
test_tag_limits(void **state)
{
	struct parse_case	 c = { .name = "NOOP", .res = IMAP_OK };
	char			 in[IMAP_MAX_TAG + 16], tag[IMAP_MAX_TAG + 2];
	char			 name[IMAP_MAX_ATOM + 2];

	(void)state;
	memset(tag, 't', IMAP_MAX_TAG);
	tag[IMAP_MAX_TAG] = '\0';
	snprintf(in, sizeof(in), "%s NOOP\r\n", tag);
	c.desc = "tag of IMAP_MAX_TAG";
	c.tag = tag;
	run_built(&c, in, 0);

	memcpy(tag + IMAP_MAX_TAG, "t", 2);
	snprintf(in, sizeof(in), "%s NOOP\r\n", tag);
	c.desc = "tag of IMAP_MAX_TAG + 1";
	c.tag = "*";
	c.res = IMAP_BAD;
	c.err = "Invalid tag";
	run_built(&c, in, 0);

	memset(name, 'N', IMAP_MAX_ATOM);
	name[IMAP_MAX_ATOM] = '\0';
	snprintf(in, sizeof(in), "t %s\r\n", name);
	memset(&c, 0, sizeof(c));
	c.desc = "name of IMAP_MAX_ATOM";
	c.tag = "t";
	c.name = name;
	run_built(&c, in, 0);

	memcpy(name + IMAP_MAX_ATOM, "N", 2);
	snprintf(in, sizeof(in), "t %s\r\n", name);
	c.desc = "name of IMAP_MAX_ATOM + 1";
	c.res = IMAP_BAD;
	c.err = "Command name too long";
	run_built(&c, in, 0);
}

/*
 * A caller whose buffer holds IMAP_MAX_CMD bytes can never be told to
 * wait for more: it would wait forever.
 */
static void
test_full_buffer(void **state)
{
	static const char *const heads[] = {
		"",
		"a LOGIN ",
		"a LOGIN {8192}\r\n",
		"a LOGIN {8192+}\r\n",
		"a LOGIN {8000}\r\n",
		"a LOGIN u {1}\r\nx {8150+}\r\n",
		"a ID (\"",
	};
	struct imap_cmd	*cmd;
	char		*in;
	size_t		 i, hl;

	(void)state;
	cmd = malloc(sizeof(*cmd));
	in = malloc(IMAP_MAX_CMD);
	assert_non_null(cmd);
	assert_non_null(in);
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		hl = strlen(heads[i]);
		memcpy(in, heads[i], hl);
		/* Literal data, then a line of x without its LF. */
		memset(in + hl, 'x', IMAP_MAX_CMD - hl);
		assert_int_not_equal(imap_parse(cmd, in, IMAP_MAX_CMD),
		    IMAP_AGAIN);
		assert_int_equal(cmd->fatal, 1);
	}
	free(in);
	free(cmd);
}

struct pending {
	size_t	upto;	/* for prefixes up to this length */
	size_t	want;
	int	cont;
};

/* want, cont and cont_at at every prefix of a command with literals. */
static void
test_literal_pending(void **state)
{
	/* 0         1           2          3 */
	/* 0123456789012 3 456789012345 6 789 0 */
	const char	*in = "a1 LOGIN {5}\r\nhello {3+}\r\npwd\r\n";
	const struct pending exp[] = {
		{ 13, 0, 0 },	/* no LF yet */
		{ 14, 19, 1 },	/* {5} read, none of its data: send "+" */
		{ 18, 19, 0 },	/* its data arriving */
		{ 25, 0, 0 },	/* waiting for the LF after {3+} */
		{ 28, 29, 0 },	/* {3+} data arriving, no "+" */
		{ 30, 0, 0 },	/* waiting for the final LF */
	};
	struct imap_cmd	 cmd;
	size_t		 p, k = 0;

	(void)state;
	for (p = 0; p < strlen(in); p++) {
		while (p > exp[k].upto)
			k++;
		assert_int_equal(imap_parse(&cmd, in, p), IMAP_AGAIN);
		if (cmd.want != exp[k].want || cmd.cont != exp[k].cont ||
		    cmd.cont_at != (exp[k].cont ? p : 0))
			fail_msg("prefix %zu: want %zu cont %d cont_at %zu", p,
			    cmd.want, cmd.cont, cmd.cont_at);
	}
	assert_int_equal(imap_parse(&cmd, in, p), IMAP_OK);
	assert_int_equal(cmd.want, 0);
	assert_int_equal(cmd.cont, 0);
}

/* {0} needs a "+" too: the client waits before sending the rest. */
static void
test_literal_zero_cont(void **state)
{
	const char	*in = "a LOGIN {0}\r\n {0}\r\n";
	struct imap_cmd	 cmd;

	(void)state;
	assert_int_equal(imap_parse(&cmd, in, 13), IMAP_AGAIN);
	assert_int_equal(cmd.cont, 1);
	assert_int_equal(cmd.cont_at, 13);
	assert_int_equal(cmd.want, 0);
	assert_int_equal(imap_parse(&cmd, in, 14), IMAP_AGAIN);
	assert_int_equal(cmd.cont, 0);
	assert_int_equal(imap_parse(&cmd, in, 19), IMAP_AGAIN);
	assert_int_equal(cmd.cont, 1);
	assert_int_equal(cmd.cont_at, 19);
	assert_string_equal(cmd.tag, "a");
}

static void
test_parse_line(void **state)
{
	static const struct {
		const char		*in;
		enum imap_result	 res;
		size_t			 linelen, used;
	} t[] = {
		{ "", IMAP_AGAIN, 0, 0 },
		{ "abc", IMAP_AGAIN, 0, 0 },
		{ "abc\r", IMAP_AGAIN, 0, 0 },
		{ "abc\r\n", IMAP_OK, 3, 5 },
		{ "abc\n", IMAP_OK, 3, 4 },
		{ "\r\n", IMAP_OK, 0, 2 },
		{ "*\r\nxyz", IMAP_OK, 1, 3 },
	};
	char		*big;
	size_t		 i, linelen, used;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		linelen = used = 99;
		assert_int_equal(imap_parse_line(t[i].in, strlen(t[i].in),
		    &linelen, &used), t[i].res);
		if (t[i].res == IMAP_OK) {
			assert_int_equal(linelen, t[i].linelen);
			assert_int_equal(used, t[i].used);
		}
	}
	big = malloc(IMAP_MAX_LINE);
	assert_non_null(big);
	memset(big, 'x', IMAP_MAX_LINE);
	big[IMAP_MAX_LINE - 1] = '\n';
	assert_int_equal(imap_parse_line(big, IMAP_MAX_LINE, &linelen, &used),
	    IMAP_OK);
	assert_int_equal(used, IMAP_MAX_LINE);
	big[IMAP_MAX_LINE - 1] = 'x';
	assert_int_equal(imap_parse_line(big, IMAP_MAX_LINE - 1, &linelen,
	    &used), IMAP_AGAIN);
	assert_int_equal(imap_parse_line(big, IMAP_MAX_LINE, &linelen, &used),
	    IMAP_BAD);
	free(big);
}

static void
test_quote(void **state)
{
	char	dst[32];

	(void)state;
	assert_int_equal(imap_quote(dst, sizeof(dst), "bob", 3), 5);
	assert_string_equal(dst, "\"bob\"");
	assert_int_equal(imap_quote(dst, sizeof(dst), "a\"b\\c", 5), 9);
	assert_string_equal(dst, "\"a\\\"b\\\\c\"");
	assert_int_equal(imap_quote(dst, sizeof(dst), "", 0), 2);
	assert_string_equal(dst, "\"\"");
	assert_int_equal(imap_quote(dst, sizeof(dst), "\xc3\xa9", 2), 4);
	assert_int_equal(imap_quote(dst, sizeof(dst), "a\rb", 3), -1);
	assert_int_equal(imap_quote(dst, sizeof(dst), "a\nb", 3), -1);
	assert_int_equal(imap_quote(dst, sizeof(dst), "a\0b", 3), -1);
	assert_string_equal(dst, "");
	/* Exactly enough room: quotes, escapes and the NUL. */
	assert_int_equal(imap_quote(dst, 7, "a\"b", 3), 6);
	assert_int_equal(imap_quote(dst, 6, "a\"b", 3), -1);
	assert_string_equal(dst, "");
	assert_int_equal(imap_quote(dst, 3, "", 0), 2);
	assert_int_equal(imap_quote(dst, 2, "", 0), -1);
	assert_int_equal(imap_quote(dst, 0, "", 0), -1);
}

/* No three consecutive bytes of the secret appear in the output. */
static void
assert_hidden(const char *out, const char *secret)
{
	char	win[4];
	size_t	i;

	for (i = 0; i + 3 <= strlen(secret); i++) {
		memcpy(win, secret + i, 3);
		win[3] = '\0';
		if (strstr(out, win) != NULL)
			fail_msg("\"%s\" leaks \"%s\"", out, win);
	}
}

static void
test_redact(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "a LOGIN bob Zq9#xW\r\n", "a LOGIN bob <hidden>" },
		{ "a login bob Zq9#xW\r\n", "a login bob <hidden>" },
		{ "a LOGIN bob Zq9#xW", "a LOGIN bob <hidden>" },
		{ "a LOGIN \"bob\" \"Zq9#xW\"\r\n",
		    "a LOGIN \"bob\" <hidden>" },
		{ "a LOGIN {3}\r\nbob {6}\r\nZq9#xW\r\n",
		    "a LOGIN {3}\\r\\nbob <hidden>" },
		{ "a LOGIN {3+}\r\nbob {6+}\r\nZq9#xW\r\n",
		    "a LOGIN {3+}\\r\\nbob <hidden>" },
		{ "a LOGIN bob Zq9#xW extra\r\n", "a LOGIN bob <hidden>" },
		{ "a LOGIN bob\r\n", "a LOGIN bob" },
		{ "a AUTHENTICATE PLAIN AGJvYgBacTkjeFc=\r\n",
		    "a AUTHENTICATE PLAIN <hidden>" },
		{ "a AUTHENTICATE PLAIN\r\n", "a AUTHENTICATE PLAIN" },
		{ "a ID (\"x\" \"\xc3\xa9\\\\\")\r\n",
		    "a ID (\"x\" \"\\xc3\\xa9\\\\\\\\\")" },
		{ "a LOGIN \"bob Zq9#xW\r\n", "<21 bytes>" },
		{ "a LOGIN bob Zq9#xW\r\nb NOOP\r\n", "<28 bytes>" },
		{ "a LOGIN bob {6}\r\nZq9#", "<21 bytes>" },
	};
	char	out[128];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_ptr_equal(imap_redact(out, sizeof(out), t[i].in,
		    strlen(t[i].in)), out);
		assert_string_equal(out, t[i].out);
		assert_hidden(out, "Zq9#xW");
		assert_hidden(out, "AGJvYgBacTkjeFc=");
	}
}

/* Whatever the prefix and the room, the password never shows. */
static void
test_redact_prefixes(void **state)
{
	static const char *const in[] = {
		"a LOGIN bob Zq9#xW\r\n",
		"a LOGIN \"bob\" \"Zq9#xW\"\r\n",
		"a LOGIN bob {6}\r\nZq9#xW\r\n",
		"a LOGIN bob {6+}\r\nZq9#xW\r\n",
		"a AUTHENTICATE PLAIN AGJvYgBacTkjeFc=\r\n",
	};
	char	 out[65], *buf;
	size_t	 i, p, room;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		for (p = 0; p <= strlen(in[i]); p++)
			for (room = 1; room < sizeof(out); room++) {
				buf = dup_exact(in[i], p);
				memset(out, 'Q', sizeof(out) - 1);
				out[sizeof(out) - 1] = '\0';
				imap_redact(out, room, buf, p);
				free(buf);
				assert_true(strlen(out) < room);
				assert_hidden(out, "Zq9#xW");
				assert_hidden(out, "AGJvYgBacTkjeFc=");
			}
	imap_redact(out, 0, "a NOOP\r\n", 8);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_line_limit_after_literal),
		cmocka_unit_test(test_literal_limit),
		cmocka_unit_test(test_command_limit),
		cmocka_unit_test(test_args_limit),
		cmocka_unit_test(test_tag_limits),
		cmocka_unit_test(test_full_buffer),
		cmocka_unit_test(test_literal_pending),
		cmocka_unit_test(test_literal_zero_cont),
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_redact_prefixes),
	};
	const size_t	 nfixed = sizeof(fixed) / sizeof(fixed[0]);
	const size_t	 ncases = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) +
	    sizeof(cases) / sizeof(cases[0])];
	size_t		 i;

	for (i = 0; i < ncases; i++) {
		tests[i].name = cases[i].desc;
		tests[i].test_func = test_case;
		tests[i].setup_func = NULL;
		tests[i].teardown_func = NULL;
		tests[i].initial_state = &cases[i];
	}
	for (i = 0; i < nfixed; i++)
		tests[ncases + i] = fixed[i];
	return _cmocka_run_group_tests("imap", tests, ncases + nfixed, NULL,
	    NULL);
}
