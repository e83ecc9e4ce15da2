/*
 * Loading an ACL: reading the file and its includes line by line,
 * collecting every mistake, storing the rules and compiling runs of
 * address rules into an acl_netidx.  A load with any mistake frees
 * everything and returns NULL: a rule set is used whole or not at all.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl_int.h"
#include "acl_netidx.h"

/* One file being read, for cycle detection and the include chain. */
struct acl_frame {
	const char	*path;		/* as resolved, in acl->files */
	dev_t		 dev;
	ino_t		 ino;
};

struct acl_ctx {
	struct acl		*acl;
	struct errbuf		 errs;
	int			 flags;
	struct acl_frame	 stack[ACL_MAX_DEPTH + 1];
	int			 depth;		/* frames in stack */
	size_t			 nopened;
	size_t			 caprules;
	size_t			 capfiles;
	const char		*def_file;	/* where default was set */
	int			 def_line;
	int			 nomem;
	struct acl_parsed	*p;		/* scratch for one line */
	char			 line[ACL_MAX_LINE + 1];
};

static void	acl_file(struct acl_ctx *, const char *, const char *,
		    const struct acl_where *);

/*
 * Messages.
 */

/*
 * Reports "FILE:LINE: message" (line 0: "FILE: message").  A message
 * longer than ACL_MAX_MSG is cut: it still names the place.
 */
void
acl_err(const struct acl_where *w, const char *fmt, ...)
{
	char	msg[ACL_MAX_MSG];
	va_list	ap;
	int	n;

	if (w->line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", w->file, w->line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", w->file);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	errbuf_add(w->errs, msg);
}

/* Reports running out of memory, once: what follows would only echo. */
static void
acl_nomem(struct acl_ctx *ctx, const struct acl_where *w)
{
	if (!ctx->nomem)
		acl_err(w, "%s", strerror(ENOMEM));
	ctx->nomem = 1;
}

/*
 * Rules.
 */

/* ACL_NEEDS_* of one selector kind. */
static int
acl_kind_needs(enum acl_kind kind)
{
	switch (kind) {
	case ACL_SEL_DOMAIN:
		return (ACL_NEEDS_DOMAIN);
	case ACL_SEL_COUNTRY:
		return (ACL_NEEDS_COUNTRY);
	case ACL_SEL_ASN:
		return (ACL_NEEDS_ASN);
	case ACL_SEL_USER:
		return (ACL_NEEDS_USER);
	default:
		return (0);
	}
}

/*
 * Copies the parsed rule into one allocation: selectors, values, their
 * strings and the text, the pointers into p->strs moved along.
 */
static struct acl_sel *
acl_rule_body(const struct acl_parsed *p, const char **textp)
{
	struct acl_sel	*sels;
	struct acl_val	*vals;
	char		*strs, *text;
	size_t		 i, j;

	sels = malloc(p->nsels * sizeof(*sels) + p->nvals * sizeof(*vals) +
	    p->nstrs + p->textlen + 1);
	if (sels == NULL)
		return (NULL);
	vals = (struct acl_val *)(sels + p->nsels);
	strs = (char *)(vals + p->nvals);
	text = strs + p->nstrs;
	memcpy(vals, p->vals, p->nvals * sizeof(*vals));
	memcpy(strs, p->strs, p->nstrs);
	memcpy(text, p->text, p->textlen + 1);
	for (i = 0; i < p->nsels; i++) {
		sels[i] = p->sels[i];
		sels[i].vals = vals + p->first[i];
		if (sels[i].kind != ACL_SEL_DOMAIN &&
		    sels[i].kind != ACL_SEL_USER)
			continue;
		for (j = 0; j < sels[i].nvals; j++)
			sels[i].vals[j].u.str = strs +
			    (sels[i].vals[j].u.str - p->strs);
	}
	*textp = text;
	return (sels);
}

/* Stores the rule in ctx->p, read at w. */
static void
acl_rule_add(struct acl_ctx *ctx, const struct acl_where *w)
{
	struct acl		*acl = ctx->acl;
	const struct acl_parsed	*p = ctx->p;
	struct acl_rule		*r;
	size_t			 i, cap;

	if (acl->nrules == ACL_MAX_RULES) {
		acl_err(w, "more than %d rules", ACL_MAX_RULES);
		return;
	}
	if (acl->nrules == ctx->caprules) {
		cap = ctx->caprules == 0 ? 64 : ctx->caprules * 2;
		if ((r = reallocarray(acl->rules, cap, sizeof(*r))) == NULL) {
			acl_nomem(ctx, w);
			return;
		}
		acl->rules = r;
		ctx->caprules = cap;
	}
	r = &acl->rules[acl->nrules];
	if ((r->sels = acl_rule_body(p, &r->text)) == NULL) {
		acl_nomem(ctx, w);
		return;
	}
	r->file = w->file;
	r->line = w->line;
	r->index = acl->nrules++;
	r->nsels = (uint16_t)p->nsels;
	r->action = (uint8_t)p->action;
	for (i = 0; i < p->nsels; i++)
		acl->needs |= acl_kind_needs(p->sels[i].kind);
}

static void
acl_default_set(struct acl_ctx *ctx, const struct acl_where *w)
{
	if (ctx->def_file != NULL) {
		acl_err(w, "default repeated, first at %s:%d", ctx->def_file,
		    ctx->def_line);
		return;
	}
	ctx->acl->def = ctx->p->action;
	ctx->def_file = w->file;
	ctx->def_line = w->line;
}

/*
 * Includes.
 */

/*
 * The path of name included from the file at path from: relative to
 * from's folder, unless absolute.  Returns 0, or -1 when too long.
 */
static int
acl_resolve(const char *from, const char *name, char *out, size_t outlen)
{
	const char	*slash = strrchr(from, '/');
	int		 n;

	if (name[0] == '/' || slash == NULL)
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)(slash - from), from,
		    name);
	return (n < 0 || (size_t)n >= outlen ? -1 : 0);
}

static void
acl_include_line(struct acl_ctx *ctx, const struct acl_where *w)
{
	char	path[PATH_MAX];

	if (acl_resolve(w->file, ctx->p->arg, path, sizeof(path)) == -1) {
		acl_err(w, "include %s: path longer than %d characters",
		    ctx->p->arg, PATH_MAX - 1);
		return;
	}
	/*
	 * ctx->p is reused by the included file's lines, but acl_file()
	 * uses arg only for messages about opening it, before that.
	 */
	acl_file(ctx, path, ctx->p->arg, w);
}

/* Reports the include cycle closed by the file at frame i, from w. */
static void
acl_cycle(struct acl_ctx *ctx, int i, const char *arg,
    const struct acl_where *w)
{
	char	chain[ACL_MAX_MSG];
	size_t	n = 0;
	int	j;

	chain[0] = '\0';
	for (j = 0; j < ctx->depth && n < sizeof(chain); j++)
		n += snprintf(chain + n, sizeof(chain) - n, "%s -> ",
		    ctx->stack[j].path);
	if (n < sizeof(chain))
		(void)snprintf(chain + n, sizeof(chain) - n, "%s",
		    ctx->stack[i].path);
	acl_err(w, "include %s: include cycle %s", arg, chain);
}

/*
 * Checks that the file open as fp (at path) may be read: a regular
 * file, not already being read, within the limits.  from is the
 * include line (NULL for the top file), arg its file as written.
 */
static int
acl_file_ok(struct acl_ctx *ctx, FILE *fp, const char *path,
    const char *arg, const struct acl_where *from)
{
	struct acl_where	 top = { &ctx->errs, path, 0 };
	struct stat		 st;
	int			 i;

	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		if (from != NULL)
			acl_err(from, "include %s: %s is not a regular file",
			    arg, path);
		else
			acl_err(&top, "not a regular file");
		return (-1);
	}
	for (i = 0; i < ctx->depth; i++)
		if (ctx->stack[i].dev == st.st_dev &&
		    ctx->stack[i].ino == st.st_ino) {
			acl_cycle(ctx, i, arg, from);
			return (-1);
		}
	if (ctx->depth > ACL_MAX_DEPTH) {
		acl_err(from, "include %s: includes nested more than %d deep",
		    arg, ACL_MAX_DEPTH);
		return (-1);
	}
	if (ctx->nopened == ACL_MAX_FILES) {
		acl_err(from, "include %s: more than %d files included", arg,
		    ACL_MAX_FILES);
		return (-1);
	}
	ctx->nopened++;
	ctx->stack[ctx->depth].dev = st.st_dev;
	ctx->stack[ctx->depth].ino = st.st_ino;
	return (0);
}

/* Keeps a copy of path in acl->files, for the rules to point to. */
static const char *
acl_file_name(struct acl_ctx *ctx, const char *path,
    const struct acl_where *w)
{
	struct acl	*acl = ctx->acl;
	char		**files;
	size_t		 cap;

	if (acl->nfiles == ctx->capfiles) {
		cap = ctx->capfiles == 0 ? 8 : ctx->capfiles * 2;
		files = reallocarray(acl->files, cap, sizeof(*files));
		if (files == NULL)
			goto fail;
		acl->files = files;
		ctx->capfiles = cap;
	}
	if ((acl->files[acl->nfiles] = strdup(path)) == NULL)
		goto fail;
	return (acl->files[acl->nfiles++]);
fail:
	acl_nomem(ctx, w);
	return (NULL);
}

/*
 * Reading.
 */

/*
 * Reads one line of fp into ctx->line without its newline.  A line
 * longer than ACL_MAX_LINE is read to its end but not kept: *lenp is
 * then ACL_MAX_LINE + 1.  Returns 0 at the end of the file.
 */
static int
acl_getline(struct acl_ctx *ctx, FILE *fp, size_t *lenp)
{
	size_t	len = 0;
	int	c;

	while ((c = getc_unlocked(fp)) != EOF && c != '\n')
		if (len < ACL_MAX_LINE)
			ctx->line[len++] = (char)c;
		else
			len = ACL_MAX_LINE + 1;
	if (c == EOF && len == 0)
		return (0);
	ctx->line[len > ACL_MAX_LINE ? 0 : len] = '\0';
	*lenp = len;
	return (1);
}

/* Reads and applies every line of fp (the file at path). */
static void
acl_lines(struct acl_ctx *ctx, FILE *fp, const char *path)
{
	struct acl_where	 w = { &ctx->errs, path, 0 };
	size_t			 len;

	while (acl_getline(ctx, fp, &len)) {
		w.line++;
		if (len > ACL_MAX_LINE) {
			acl_err(&w, "line too long, at most %d characters",
			    ACL_MAX_LINE);
			continue;
		}
		if (acl_parse_line(ctx->p, ctx->line, len, ctx->flags,
		    &w) == -1)
			continue;
		if (ctx->p->stmt == ACL_STMT_RULE)
			acl_rule_add(ctx, &w);
		else if (ctx->p->stmt == ACL_STMT_DEFAULT)
			acl_default_set(ctx, &w);
		else if (ctx->p->stmt == ACL_STMT_INCLUDE)
			acl_include_line(ctx, &w);
	}
	if (ferror(fp)) {
		w.line = 0;
		acl_err(&w, "read error: %s", strerror(errno));
	}
}

/*
 * Reads the file at path, included as arg from the line at from (NULL
 * for the top file), and every file it includes.
 */
static void
acl_file(struct acl_ctx *ctx, const char *path, const char *arg,
    const struct acl_where *from)
{
	struct acl_where	 top = { &ctx->errs, path, 0 };
	const char		*name;
	FILE			*fp = NULL;
	int			 fd, e;

	/*
	 * O_NONBLOCK: opening a FIFO named by mistake must not hang a
	 * reload; acl_file_ok() then refuses anything but a regular file,
	 * for which the flag changes nothing.
	 */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		e = errno;
		if (fd != -1)
			(void)close(fd);
		if (from != NULL)
			acl_err(from, "include %s: cannot open %s: %s", arg,
			    path, strerror(e));
		else
			acl_err(&top, "cannot open: %s", strerror(e));
		return;
	}
	if (acl_file_ok(ctx, fp, path, arg, from) == 0 &&
	    (name = acl_file_name(ctx, path, from != NULL ? from : &top)) !=
	    NULL) {
		ctx->stack[ctx->depth++].path = name;
		acl_lines(ctx, fp, name);
		ctx->depth--;
	}
	(void)fclose(fp);
}

/*
 * Compiling.
 */

/* Whether r is one plain ip or net selector: an acl_netidx can take it. */
static int
acl_rule_indexable(const struct acl_rule *r)
{
	return (r->nsels == 1 && !r->sels[0].neg &&
	    (r->sels[0].kind == ACL_SEL_IP || r->sels[0].kind == ACL_SEL_NET));
}

/* Builds the acl_netidx of rules first .. first + n - 1. */
static struct acl_netidx *
acl_run_index(const struct acl *acl, size_t first, size_t n)
{
	struct acl_net_entry	*e;
	struct acl_netidx	*idx;
	const struct acl_sel	*s;
	size_t			 i, j, ne = 0;

	for (i = first; i < first + n; i++)
		ne += acl->rules[i].sels[0].nvals;
	if ((e = calloc(ne, sizeof(*e))) == NULL)
		return (NULL);
	for (ne = 0, i = first; i < first + n; i++) {
		s = &acl->rules[i].sels[0];
		for (j = 0; j < s->nvals; j++, ne++) {
			e[ne].family = s->vals[j].u.net.v6 ? AF_INET6 :
			    AF_INET;
			memcpy(e[ne].addr, s->vals[j].u.net.addr, 16);
			e[ne].prefix = s->vals[j].u.net.prefix;
			e[ne].rule = (uint32_t)i;
		}
	}
	idx = acl_netidx_build(e, ne);
	free(e);
	return (idx);
}

/*
 * Splits the rules into blocks: each maximal run of indexable rules is
 * one block with an index, each stretch of other rules one block read
 * rule by rule.  Returns 0, or -1 when out of memory.
 */
static int
acl_compile(struct acl *acl)
{
	struct acl_block	*b;
	size_t			 i, n = 0;
	int			 idx, prev = -1;

	for (i = 0; i < acl->nrules; i++, prev = idx)
		if ((idx = acl_rule_indexable(&acl->rules[i])) != prev)
			n++;
	if (n == 0)
		return (0);
	if ((acl->blocks = calloc(n, sizeof(*b))) == NULL)
		return (-1);
	for (prev = -1, i = 0; i < acl->nrules; i++, prev = idx) {
		if ((idx = acl_rule_indexable(&acl->rules[i])) != prev)
			acl->blocks[acl->nblocks++].first = i;
		acl->blocks[acl->nblocks - 1].n++;
	}
	for (i = 0; i < acl->nblocks; i++) {
		b = &acl->blocks[i];
		if (!acl_rule_indexable(&acl->rules[b->first]))
			continue;
		if ((b->idx = acl_run_index(acl, b->first, b->n)) == NULL)
			return (-1);
	}
	return (0);
}

/*
 * The interface.
 */

/*
 * Loads the ACL at path and every file it includes (relative to the
 * including file's folder), checks every line and compiles the rules.
 * flags: ACL_LOAD_LOWER_USERS lower-cases user patterns.  Returns the
 * rule set, which the caller frees with acl_free(); or NULL with every
 * mistake as "FILE:LINE: what is wrong" lines in err (cut with a last
 * "... more errors" line when errlen is too small).  err is the empty
 * string on success.
 */
struct acl *
acl_load(const char *path, int flags, char *err, size_t errlen)
{
	struct acl_ctx		*ctx;
	struct acl		*acl = NULL;
	struct acl_where	 top = { NULL, path, 0 };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (ctx->p = malloc(sizeof(*ctx->p))) == NULL ||
	    (ctx->acl = calloc(1, sizeof(*ctx->acl))) == NULL) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "%s: %s", path,
			    strerror(ENOMEM));
		goto done;
	}
	errbuf_init(&ctx->errs, err, errlen);
	ctx->flags = flags;
	ctx->acl->def = ACL_ALLOW;
	top.errs = &ctx->errs;
	acl_file(ctx, path, path, NULL);
	if (ctx->errs.n == 0 && acl_compile(ctx->acl) == -1)
		acl_err(&top, "%s", strerror(ENOMEM));
	if (ctx->errs.n == 0) {
		acl = ctx->acl;
		acl->lower_users = (flags & ACL_LOAD_LOWER_USERS) != 0;
		ctx->acl = NULL;
	}
done:
	if (ctx != NULL) {
		acl_free(&ctx->acl);
		free(ctx->p);
	}
	free(ctx);
	return (acl);
}

/* Frees *aclp, which may be NULL, and sets it to NULL. */
void
acl_free(struct acl **aclp)
{
	struct acl	*acl = *aclp;
	size_t		 i;

	if (acl == NULL)
		return;
	for (i = 0; i < acl->nblocks; i++)
		acl_netidx_free(&acl->blocks[i].idx);
	free(acl->blocks);
	for (i = 0; i < acl->nrules; i++)
		free(acl->rules[i].sels);
	free(acl->rules);
	for (i = 0; i < acl->nfiles; i++)
		free(acl->files[i]);
	free(acl->files);
	free(acl->default_domain);
	free(acl);
	*aclp = NULL;
}

/*
 * Makes user patterns without "@" mean users of domain, as canonical
 * names carry it (lower-cased like the patterns when loaded with
 * ACL_LOAD_LOWER_USERS).  NULL or "" clears it.  Returns 0, or -1 when
 * out of memory.
 */
int
acl_set_default_domain(struct acl *acl, const char *domain)
{
	char	*d = NULL, *p;

	if (domain != NULL && *domain != '\0') {
		if ((d = strdup(domain)) == NULL)
			return (-1);
		if (acl->lower_users)
			for (p = d; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
	}
	free(acl->default_domain);
	acl->default_domain = d;
	return (0);
}

/* ACL_NEEDS_* bits of the rules of acl. */
int
acl_needs(const struct acl *acl)
{
	return (acl->needs);
}

/* The number of rules, includes and all. */
size_t
acl_nrules(const struct acl *acl)
{
	return (acl->nrules);
}

/* The default action: allow unless a "default deny" line says so. */
enum acl_action
acl_default(const struct acl *acl)
{
	return (acl->def);
}

/* The file of rule, as resolved from the top file's path. */
const char *
acl_rule_file(const struct acl_rule *rule)
{
	return (rule->file);
}

int
acl_rule_line(const struct acl_rule *rule)
{
	return (rule->line);
}

/* The rule with single spaces and no comment: "deny ip 203.0.113.7". */
const char *
acl_rule_text(const struct acl_rule *rule)
{
	return (rule->text);
}

size_t
acl_rule_index(const struct acl_rule *rule)
{
	return (rule->index);
}

/*
 * Rule i in file order, NULL past the end: for reports that walk the
 * rules, such as deny counters by rule.  The rule belongs to acl.
 */
const struct acl_rule *
acl_rule_at(const struct acl *acl, size_t i)
{
	return (i < acl->nrules ? &acl->rules[i] : NULL);
}
