/*
 * The configuration file of SPEC.md section 3.
 *
 * inih splits key = value lines; the rest is ours.  conf_reader() hands
 * inih one cleaned line at a time: it counts lines, refuses over-long
 * ones, cuts `;` and `#` comments, opens sections (inih does not report
 * them) and decides which indented lines continue the previous key.
 * conf_handler() looks each key up in conf_keys[], the one table of every
 * key, and calls its parser.  When a section ends its own rules are
 * checked; when the file ends, the rules between sections.
 *
 * Indented lines: inih, like Python's configparser, reads an indented
 * line as the continuation of the previous key.  Here an indented line
 * of the form `key = value` is a new key (indenting a section's keys is
 * common); any other indented line adds items to a list key (listen,
 * tls_protocols, ...) and is an error after any other key.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "bounds.h"
#include "conf.h"
#include "errbuf.h"

#define CONF_DEFAULT_GREETING	"IMAP proxy ready"
#define CONF_NAME_CHARS		"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define CONF_SPACE		" \t"

#define nitems(a)		(sizeof(a) / sizeof((a)[0]))

enum conf_sect {
	CONF_SECT_NONE,			/* before the first header */
	CONF_SECT_GLOBAL,
	CONF_SECT_SERVER,
	CONF_SECT_BACKEND,
	CONF_SECT_BAD			/* broken header: keys are skipped */
};

#define CONF_K_REPEAT	0x01		/* may be given again: appends */
#define CONF_K_LIST	0x02		/* indented lines add items */
#define CONF_K_EMPTY	0x04		/* empty value allowed: unset */
#define CONF_K_SECRET	0x08		/* never echo the value */
#define CONF_K_TODO	0x10		/* not supported yet, once valid */
#define CONF_K_TODO_SET	0x20		/* same, unless 0, no or empty */

struct conf_ctx;
struct conf_key;

/* Parses a value into the section's struct; 0, or -1 once reported. */
typedef int	conf_parse_fn(struct conf_ctx *, const struct conf_key *,
		    const char *, void *);

struct conf_word {
	const char	*word;
	int		 value;
	int		 supported;	/* 0: not supported yet */
};

struct conf_key {
	const char		*name;
	enum conf_sect		 sect;
	conf_parse_fn		*parse;
	size_t			 off;		/* field in the struct */
	size_t			 lineoff;	/* its int line, 0: none */
	double			 min, max;	/* numbers and durations */
	const struct conf_word	*words;		/* conf_p_enum */
	int			 flags;		/* CONF_K_* */
};

static conf_parse_fn	conf_p_bool, conf_p_uint, conf_p_duration,
			conf_p_mode, conf_p_enum, conf_p_string, conf_p_name,
			conf_p_host, conf_p_domain, conf_p_greeting,
			conf_p_path, conf_p_workers, conf_p_log, conf_p_geoip,
			conf_p_dns, conf_p_listen, conf_p_nets, conf_p_cert,
			conf_p_protocols, conf_p_auth, conf_p_default_backend,
			conf_p_address;

static const struct conf_word conf_bool_words[] = {
	{ "yes", 1, 1 }, { "no", 0, 1 }, { "true", 1, 1 }, { "false", 0, 1 },
	{ "on", 1, 1 }, { "off", 0, 1 }, { "1", 1, 1 }, { "0", 0, 1 },
	{ NULL, 0, 0 }
};

static const struct conf_word conf_level_words[] = {
	{ "error", LOG_LEVEL_ERROR, 1 }, { "warning", LOG_LEVEL_WARNING, 1 },
	{ "info", LOG_LEVEL_INFO, 1 }, { "debug", LOG_LEVEL_DEBUG, 1 },
	{ NULL, 0, 0 }
};

static const struct conf_word conf_case_words[] = {
	{ "lower", CONF_USERNAME_LOWER, 1 }, { "keep", CONF_USERNAME_KEEP, 1 },
	{ NULL, 0, 0 }
};

static const struct conf_word conf_btls_words[] = {
	{ "no", CONF_BACKEND_TLS_NO, 1 },
	{ "starttls", CONF_BACKEND_TLS_STARTTLS, 1 },
	{ "yes", CONF_BACKEND_TLS_YES, 1 },
	{ NULL, 0, 0 }
};

/* Listener flags; `supported` 0 is refused as "not supported yet". */
static const struct conf_word conf_flag_words[] = {
	{ "tls", CONF_LISTEN_TLS, 1 },
	{ "starttls", CONF_LISTEN_STARTTLS, 1 },
	{ "proxy", CONF_LISTEN_PROXY, 1 },
	{ NULL, 0, 0 }
};

static const struct conf_word conf_proto_words[] = {
	{ "TLSv1", CONF_TLS_V1_0, 1 }, { "TLSv1.1", CONF_TLS_V1_1, 1 },
	{ "TLSv1.2", CONF_TLS_V1_2, 1 }, { "TLSv1.3", CONF_TLS_V1_3, 1 },
	{ NULL, 0, 0 }
};

static const struct conf_word conf_auth_words[] = {
	{ "PLAIN", CONF_AUTH_PLAIN, 1 }, { "LOGIN", CONF_AUTH_LOGIN, 1 },
	{ "XOAUTH2", CONF_AUTH_XOAUTH2, 1 },
	{ "OAUTHBEARER", CONF_AUTH_OAUTHBEARER, 1 },
	{ NULL, 0, 0 }
};

static const char *const conf_facilities[] = {
	"daemon", "mail", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7"
};

#define G		CONF_SECT_GLOBAL
#define S		CONF_SECT_SERVER
#define B		CONF_SECT_BACKEND
#define GOFF(f)		offsetof(struct conf, f)
#define SOFF(f)		offsetof(struct conf_server, f)
#define BOFF(f)		offsetof(struct conf_backend, f)
#define K(n, s, p, o, l) \
	.name = (n), .sect = (s), .parse = (p), .off = (o), .lineoff = (l)
#define CONF_MINUTE	60.0
#define CONF_HOUR	3600.0
#define CONF_DAY	86400.0

/*
 * Every key: K(name, section, parser, field, line field), then range,
 * words and flags.  Flip CONF_K_TODO off here once a feature is built.
 */
static const struct conf_key conf_keys[] = {
	{ K("user", G, conf_p_string, GOFF(user), GOFF(line_user)) },
	{ K("group", G, conf_p_string, GOFF(group), GOFF(line_group)) },
	{ K("workers", G, conf_p_workers, GOFF(workers), 0) },
	{ K("pidfile", G, conf_p_path, GOFF(pidfile), GOFF(line_pidfile)) },
	{ K("stats_socket", G, conf_p_path, GOFF(stats_socket),
	    GOFF(line_stats_socket)) },
	{ K("stats_socket_mode", G, conf_p_mode, GOFF(stats_socket_mode), 0) },
	{ K("stats_socket_group", G, conf_p_string, GOFF(stats_socket_group),
	    0) },
	{ K("log", G, conf_p_log, 0, GOFF(line_log)) },
	{ K("log_level", G, conf_p_enum, GOFF(log_level), 0),
	    .words = conf_level_words },
	{ K("geoip_db", G, conf_p_geoip, 0, GOFF(line_geoip_db)),
	    .flags = CONF_K_LIST },
	{ K("dns_servers", G, conf_p_dns, 0, 0), .flags = CONF_K_LIST },
	{ K("dns_timeout", G, conf_p_duration, GOFF(dns_timeout), 0),
	    .min = 0.1, .max = CONF_MINUTE },
	{ K("max_connections", G, conf_p_uint, GOFF(max_connections), 0),
	    .min = 1, .max = 1000000 },
	{ K("shutdown_timeout", G, conf_p_duration, GOFF(shutdown_timeout),
	    0), .min = 0, .max = CONF_HOUR },

	{ K("listen", S, conf_p_listen, 0, SOFF(line_listen)),
	    .flags = CONF_K_REPEAT | CONF_K_LIST },
	{ K("proxy_protocol_from", S, conf_p_nets, 0, 0),
	    .flags = CONF_K_LIST },
	{ K("tls_cert", S, conf_p_cert, 0, 0), .flags = CONF_K_REPEAT },
	{ K("tls_protocols", S, conf_p_protocols, SOFF(tls_protocols),
	    SOFF(line_tls_protocols)), .flags = CONF_K_LIST },
	{ K("require_tls", S, conf_p_bool, SOFF(require_tls),
	    SOFF(line_require_tls)) },
	{ K("auth_mechanisms", S, conf_p_auth, SOFF(auth_mechanisms),
	    SOFF(line_auth_mechanisms)), .flags = CONF_K_LIST },
	{ K("acl", S, conf_p_path, SOFF(acl), SOFF(line_acl)) },
	{ K("routes", S, conf_p_path, SOFF(routes), SOFF(line_routes)) },
	{ K("default_backend", S, conf_p_default_backend,
	    SOFF(default_backend), SOFF(line_default_backend)) },
	{ K("username_case", S, conf_p_enum, SOFF(username_case), 0),
	    .words = conf_case_words },
	{ K("default_domain", S, conf_p_domain, SOFF(default_domain), 0),
	    .flags = CONF_K_EMPTY },
	{ K("greeting", S, conf_p_greeting, SOFF(greeting), 0) },
	{ K("login_timeout", S, conf_p_duration, SOFF(login_timeout), 0),
	    .min = 1, .max = CONF_HOUR },
	{ K("idle_timeout", S, conf_p_duration, SOFF(idle_timeout), 0),
	    .min = 1, .max = 7 * CONF_DAY },
	{ K("max_connections_per_ip", S, conf_p_uint,
	    SOFF(max_connections_per_ip), 0), .min = 0, .max = 1000000 },
	{ K("max_connections_per_user", S, conf_p_uint,
	    SOFF(max_connections_per_user), 0), .min = 0, .max = 1000000 },
	{ K("auth_fail_limit", S, conf_p_uint, SOFF(auth_fail_limit), 0),
	    .min = 0, .max = 1000000 },
	{ K("auth_fail_window", S, conf_p_duration, SOFF(auth_fail_window),
	    0), .min = 1, .max = CONF_DAY },
	{ K("auth_fail_delay", S, conf_p_duration, SOFF(auth_fail_delay), 0),
	    .min = 0, .max = 15 },

	{ K("address", B, conf_p_address, 0, BOFF(line_address)) },
	{ K("tls", B, conf_p_enum, BOFF(tls), 0), .words = conf_btls_words },
	{ K("tls_verify", B, conf_p_bool, BOFF(tls_verify), 0) },
	{ K("tls_ca", B, conf_p_path, BOFF(tls_ca), BOFF(line_tls_ca)) },
	{ K("tls_server_name", B, conf_p_host, BOFF(tls_server_name), 0) },
	{ K("pool", B, conf_p_name, BOFF(pool), 0) },
	{ K("weight", B, conf_p_uint, BOFF(weight), 0), .min = 1,
	    .max = 1000 },
	{ K("forward_id", B, conf_p_bool, BOFF(forward_id), 0) },
	{ K("connect_timeout", B, conf_p_duration, BOFF(connect_timeout), 0),
	    .min = 0.1, .max = 5 * CONF_MINUTE },
	{ K("health_check_interval", B, conf_p_duration,
	    BOFF(health_check_interval), 0), .min = 0, .max = CONF_DAY },
	{ K("max_connections", B, conf_p_uint, BOFF(max_connections), 0),
	    .min = 0, .max = 1000000 },
};

#define CONF_NKEYS	nitems(conf_keys)

/* conf_p_enum() and conf_p_bool() store through an int. */
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_username_case) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_backend_tls) == sizeof(int), "enum size");

struct conf_ctx {
	struct conf		*conf;
	const char		*path;		/* as given, for messages */
	FILE			*fp;
	struct errbuf		 errs;
	int			 nomem;
	int			 lineno;	/* of the line read last */
	int			 cont;		/* it continues the last key */
	int			 prev;		/* a key line came before it */
	enum conf_sect		 sect;
	void			*obj;		/* conf, server or backend */
	size_t			 idx;		/* of that server or backend */
	char			 label[CONF_MAX_NAME + 16];
	const struct conf_key	*last;		/* key a continuation extends */
	int			 global_line;
	int			 seen[CONF_NKEYS];	/* line of each key */
	unsigned char		 bad[CONF_NKEYS];	/* value refused */
	unsigned char		 dbad[CONF_MAX_SERVERS]; /* default_backend */
	size_t			 capservers;
	size_t			 capbackends;
	char			 show[4 * CONF_MAX_ITEM];
};

static const struct conf_key *conf_key_find(const char *, enum conf_sect);
static void	conf_err(struct conf_ctx *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	conf_kerr(struct conf_ctx *, const struct conf_key *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

/*
 * Messages.
 */

/* Reports "FILE:LINE: message"; line 0 leaves out the line. */
static void
conf_err(struct conf_ctx *ctx, int line, const char *fmt, ...)
{
	char	msg[CONF_MAX_MSG];
	va_list	ap;
	int	n;

	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", ctx->path, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", ctx->path);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	errbuf_add(&ctx->errs, msg);
}

/* Reports "FILE:LINE: [section] key: message" at the current line. */
static void
conf_kerr(struct conf_ctx *ctx, const struct conf_key *key,
    const char *fmt, ...)
{
	char	msg[CONF_MAX_MSG];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err(ctx, ctx->lineno, "[%s] %s: %s", ctx->label, key->name, msg);
}

static void
conf_nomem(struct conf_ctx *ctx)
{
	if (!ctx->nomem)
		conf_err(ctx, ctx->lineno, "%s", strerror(ENOMEM));
	ctx->nomem = 1;
}

/*
 * Returns s printable (\xNN for other bytes) in a buffer of ctx that
 * the next call reuses; a secret key's value is never shown.
 */
static const char *
conf_show(struct conf_ctx *ctx, const struct conf_key *key, const char *s)
{
	size_t	i = 0;

	if (key != NULL && (key->flags & CONF_K_SECRET))
		return ("<hidden>");
	for (; *s != '\0' && i + 5 < sizeof(ctx->show); s++) {
		if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			ctx->show[i++] = *s;
		else
			i += snprintf(ctx->show + i, sizeof(ctx->show) - i,
			    "\\x%02x", (unsigned char)*s);
	}
	ctx->show[i] = '\0';
	return (ctx->show);
}

/* Writes "a, b or c" for a word table into buf. */
static const char *
conf_words_text(const struct conf_word *w, char *buf, size_t len)
{
	size_t	n = 0;

	buf[0] = '\0';
	for (; w->word != NULL && n < len; w++)
		n += snprintf(buf + n, len - n, "%s%s",
		    n == 0 ? "" : w[1].word == NULL ? " or " : ", ", w->word);
	return (buf);
}

/* Writes a duration the way an operator would: 0, 500ms, 30s, 2h. */
static const char *
conf_duration_text(double s, char *buf, size_t len)
{
	if (s == 0)
		(void)snprintf(buf, len, "0");
	else if (s < 1)
		(void)snprintf(buf, len, "%.0fms", s * 1000);
	else if ((long long)s % (long long)CONF_DAY == 0)
		(void)snprintf(buf, len, "%.0fd", s / CONF_DAY);
	else if ((long long)s % (long long)CONF_HOUR == 0)
		(void)snprintf(buf, len, "%.0fh", s / CONF_HOUR);
	else if ((long long)s % (long long)CONF_MINUTE == 0)
		(void)snprintf(buf, len, "%.0fm", s / CONF_MINUTE);
	else
		(void)snprintf(buf, len, "%.0fs", s);
	return (buf);
}

/*
 * Small helpers.
 */

static void *
conf_field(void *obj, size_t off)
{
	return ((char *)obj + off);
}

static const struct conf_word *
conf_word(const struct conf_word *w, const char *s)
{
	for (; w->word != NULL; w++)
		if (strcasecmp(w->word, s) == 0)
			return (w);
	return (NULL);
}

static int
conf_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	return (0);
}

static int
conf_valid_name(const char *s)
{
	size_t	n = strlen(s);

	return (n > 0 && n < CONF_MAX_NAME && strspn(s, CONF_NAME_CHARS) == n);
}

/* Host name syntax: letters, digits, '-', '_', dot-separated labels. */
static int
conf_valid_host(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || strstr(s, "..") != NULL)
		return (0);
	return (strspn(s, CONF_NAME_CHARS) == n);
}

/* Parses 1-65535. */
static int
conf_port(const char *s, unsigned int *port_r)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return (-1);
	*port_r = (unsigned int)strtoul(s, NULL, 10);
	return (*port_r >= 1 && *port_r <= 65535 ? 0 : -1);
}

/*
 * Splits "HOST:PORT", "[V6]:PORT", "HOST" or "[V6]" in place; *port_r
 * is NULL without a port.  Returns 0 (*v6_r set for brackets), -1 on a
 * syntax error, -2 for a bare IPv6 address (several colons).
 */
static int
conf_hostport(char *s, char **host_r, char **port_r, int *v6_r)
{
	char	*e;

	*port_r = NULL;
	*v6_r = 0;
	if (s[0] == '[') {
		if ((e = strchr(s, ']')) == NULL)
			return (-1);
		*e++ = '\0';
		*host_r = s + 1;
		*v6_r = 1;
		if (*e == ':')
			*port_r = e + 1;
		else if (*e != '\0')
			return (-1);
		return (0);
	}
	*host_r = s;
	if ((e = strrchr(s, ':')) == NULL)
		return (0);
	if (strchr(s, ':') != e)
		return (-2);
	*e = '\0';
	*port_r = e + 1;
	return (0);
}

/* Writes "1.2.3.4:143" or "[::1]:143". */
static void
conf_sockname(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		(void)snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else {
		(void)inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		(void)snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	}
}

/* Fills ss from a numeric address of family af and a port. */
static int
conf_sockaddr(int af, const char *host, unsigned int port,
    struct sockaddr_storage *ss, socklen_t *len_r)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return (-1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len_r = sizeof(*sin6);
		return (0);
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return (-1);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len_r = sizeof(*sin);
	return (0);
}

/*
 * Copies the next item of the list at *sp, split at any of seps and
 * trimmed, into buf, skipping empty items.  Returns 1 with an item, 0 at
 * the end, -1 once reported that an item does not fit.
 */
static int
conf_item(struct conf_ctx *ctx, const struct conf_key *key, const char **sp,
    const char *seps, char *buf, size_t len)
{
	const char	*s = *sp;
	size_t		 n;

	for (;;) {
		s += strspn(s, CONF_SPACE);
		if (*s == '\0')
			return (0);
		if (strchr(seps, *s) == NULL)
			break;
		s++;
	}
	n = strcspn(s, seps);
	*sp = s + n;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len) {
		conf_kerr(ctx, key, "item too long, at most %zu characters",
		    len - 1);
		return (-1);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return (1);
}

/* Returns a new absolute path: s as is, or relative to the file's folder. */
static char *
conf_abspath(struct conf_ctx *ctx, const struct conf_key *key, const char *s)
{
	char	*p;
	size_t	 len;

	if (s[0] == '/')
		len = strlen(s) + 1;
	else
		len = strlen(ctx->conf->dir) + 1 + strlen(s) + 1;
	if (len > PATH_MAX) {
		conf_kerr(ctx, key, "path too long, at most %d characters",
		    PATH_MAX - 1);
		return (NULL);
	}
	if ((p = malloc(len)) == NULL) {
		conf_nomem(ctx);
		return (NULL);
	}
	if (s[0] == '/')
		(void)snprintf(p, len, "%s", s);
	else
		(void)snprintf(p, len, "%s/%s", ctx->conf->dir, s);
	return (p);
}

/* Appends a copy of elem to *arrp of *np elements of size sz. */
static int
conf_push(struct conf_ctx *ctx, void *arrp, size_t *np, const void *elem,
    size_t sz)
{
	void	*arr;

	memcpy(&arr, arrp, sizeof(arr));
	if ((arr = reallocarray(arr, *np + 1, sz)) == NULL) {
		conf_nomem(ctx);
		return (-1);
	}
	memcpy((char *)arr + *np * sz, elem, sz);
	memcpy(arrp, &arr, sizeof(arr));
	(*np)++;
	return (0);
}

static int
conf_set_str(struct conf_ctx *ctx, char **fieldp, const char *s)
{
	char	*p = NULL;

	if (s != NULL && (p = strdup(s)) == NULL) {
		conf_nomem(ctx);
		return (-1);
	}
	free(*fieldp);
	*fieldp = p;
	return (0);
}

/*
 * Value parsers, one per kind of value.
 */

static int
conf_p_bool(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	const struct conf_word	*w;

	if ((w = conf_word(conf_bool_words, v)) == NULL) {
		conf_kerr(ctx, key, "expected yes or no, got \"%s\"",
		    conf_show(ctx, key, v));
		return (-1);
	}
	*(int *)conf_field(obj, key->off) = w->value;
	return (0);
}

/* Parses digits only into an unsigned int; -1 for anything else. */
static int
conf_number(const char *s, unsigned long *n_r)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
		return (-1);
	*n_r = strtoul(s, NULL, 10);
	return (*n_r <= UINT_MAX ? 0 : -1);
}

static int
conf_p_uint(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	unsigned long	n;

	if (conf_number(v, &n) == -1 || n < key->min || n > key->max) {
		conf_kerr(ctx, key, "must be a number %.0f-%.0f, got \"%s\"",
		    key->min, key->max, conf_show(ctx, key, v));
		return (-1);
	}
	*(unsigned int *)conf_field(obj, key->off) = n;
	return (0);
}

static int
conf_p_duration(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	char	lo[32], hi[32];
	double	d;

	if (conf_parse_duration(v, &d) == -1 || d < key->min ||
	    d > key->max) {
		conf_kerr(ctx, key, "expected a duration from %s to %s "
		    "(500ms, 30s, 10m, 2h, 1d), got \"%s\"",
		    conf_duration_text(key->min, lo, sizeof(lo)),
		    conf_duration_text(key->max, hi, sizeof(hi)),
		    conf_show(ctx, key, v));
		return (-1);
	}
	*(double *)conf_field(obj, key->off) = d;
	return (0);
}

static int
conf_p_mode(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	size_t		n = strlen(v);
	unsigned long	mode;

	if (n == 0 || n > 4 || strspn(v, "01234567") != n ||
	    (mode = strtoul(v, NULL, 8)) > 0777) {
		conf_kerr(ctx, key, "expected an octal mode 0000-0777, "
		    "got \"%s\"", conf_show(ctx, key, v));
		return (-1);
	}
	*(unsigned int *)conf_field(obj, key->off) = mode;
	return (0);
}

static int
conf_p_enum(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	const struct conf_word	*w;
	char			 words[256];

	if ((w = conf_word(key->words, v)) == NULL) {
		conf_kerr(ctx, key, "expected %s, got \"%s\"",
		    conf_words_text(key->words, words, sizeof(words)),
		    conf_show(ctx, key, v));
		return (-1);
	}
	*(int *)conf_field(obj, key->off) = w->value;
	return (0);
}

/* Checks a free-text value: present unless CONF_K_EMPTY, one line. */
static int
conf_text_ok(struct conf_ctx *ctx, const struct conf_key *key, const char *v)
{
	if (*v == '\0' && !(key->flags & CONF_K_EMPTY)) {
		conf_kerr(ctx, key, "must not be empty");
		return (0);
	}
	if (conf_has_ctl(v)) {
		conf_kerr(ctx, key, "must not contain control characters");
		return (0);
	}
	return (1);
}

static int
conf_p_string(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	if (!conf_text_ok(ctx, key, v))
		return (-1);
	return (conf_set_str(ctx, conf_field(obj, key->off),
	    *v == '\0' ? NULL : v));
}

static int
conf_p_name(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	if (!conf_valid_name(v)) {
		conf_kerr(ctx, key, "expected a name of 1-%d letters, digits, "
		    "'.', '-' or '_', got \"%s\"", CONF_MAX_NAME - 1,
		    conf_show(ctx, key, v));
		return (-1);
	}
	return (conf_set_str(ctx, conf_field(obj, key->off), v));
}

static int
conf_p_host(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	if (!conf_valid_host(v)) {
		conf_kerr(ctx, key, "expected a host name, got \"%s\"",
		    conf_show(ctx, key, v));
		return (-1);
	}
	return (conf_set_str(ctx, conf_field(obj, key->off), v));
}

static int
conf_p_domain(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	if (*v != '\0' && !conf_valid_host(v)) {
		conf_kerr(ctx, key, "expected a domain such as example.org "
		    "(no @), or nothing, got \"%s\"", conf_show(ctx, key, v));
		return (-1);
	}
	return (conf_set_str(ctx, conf_field(obj, key->off),
	    *v == '\0' ? NULL : v));
}

static int
conf_p_greeting(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	if (!conf_text_ok(ctx, key, v))
		return (-1);
	if (strlen(v) > CONF_MAX_GREETING) {
		conf_kerr(ctx, key, "at most %d characters, got %zu",
		    CONF_MAX_GREETING, strlen(v));
		return (-1);
	}
	return (conf_set_str(ctx, conf_field(obj, key->off), v));
}

static int
conf_p_path(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	char	**fieldp = conf_field(obj, key->off);
	char	 *p;

	if (!conf_text_ok(ctx, key, v))
		return (-1);
	if ((p = conf_abspath(ctx, key, v)) == NULL)
		return (-1);
	free(*fieldp);
	*fieldp = p;
	return (0);
}

static int
conf_p_workers(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf	*c = obj;
	unsigned long	 n;

	if (strcmp(v, "auto") == 0) {
		c->workers = 0;
		return (0);
	}
	if (conf_number(v, &n) == -1 || n < 1 || n > WORKER_MAX) {
		conf_kerr(ctx, key, "expected auto or a number 1-%d, "
		    "got \"%s\"", WORKER_MAX, conf_show(ctx, key, v));
		return (-1);
	}
	c->workers = n;
	return (0);
}

static int
conf_facility_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(conf_facilities); i++)
		if (strcmp(conf_facilities[i], s) == 0)
			return (1);
	return (0);
}

static int
conf_p_log(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	struct conf	*c = obj;

	c->log_dest_set = 1;
	if (strcmp(v, "syslog") == 0) {
		c->log_dest = CONF_LOG_SYSLOG;
		return (0);
	}
	if (strncmp(v, "syslog:", 7) == 0) {
		if (!conf_facility_ok(v + 7)) {
			conf_kerr(ctx, key, "unknown syslog facility \"%s\", "
			    "expected daemon, mail, user or local0-local7",
			    conf_show(ctx, key, v + 7));
			return (-1);
		}
		c->log_dest = CONF_LOG_SYSLOG;
		return (conf_set_str(ctx, &c->log_facility, v + 7));
	}
	if (strcmp(v, "stderr") == 0) {
		c->log_dest = CONF_LOG_STDERR;
		return (0);
	}
	if (strchr(v, '/') == NULL || conf_has_ctl(v)) {
		conf_kerr(ctx, key, "expected syslog, syslog:FACILITY, stderr "
		    "or a file path with a /, got \"%s\"",
		    conf_show(ctx, key, v));
		return (-1);
	}
	c->log_dest = CONF_LOG_FILE;
	free(c->log_file);
	return ((c->log_file = conf_abspath(ctx, key, v)) == NULL ? -1 : 0);
}

static int
conf_p_geoip(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf	*c = obj;
	char		 item[CONF_MAX_ITEM], *p;
	int		 r, rc = 0;

	while ((r = conf_item(ctx, key, &v, ",", item, sizeof(item))) != 0) {
		if (r == -1 || !conf_text_ok(ctx, key, item)) {
			rc = -1;
			continue;
		}
		if (c->ngeoip_db >= CONF_MAX_GEOIP) {
			conf_kerr(ctx, key, "too many files, at most %d",
			    CONF_MAX_GEOIP);
			return (-1);
		}
		if ((p = conf_abspath(ctx, key, item)) == NULL)
			return (-1);
		if (conf_push(ctx, &c->geoip_db, &c->ngeoip_db, &p,
		    sizeof(p)) == -1) {
			free(p);
			return (-1);
		}
	}
	return (rc);
}

/* Parses one DNS server, IP[:PORT], into "ip:port" or "[ip6]:port". */
static int
conf_dns_one(struct conf_ctx *ctx, const struct conf_key *key, char *item,
    char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*host, *port, text[CONF_MAX_ITEM];
	unsigned int		 pn = 53;
	int			 v6, rc;

	(void)snprintf(text, sizeof(text), "%s", item);
	rc = conf_hostport(item, &host, &port, &v6);
	if (rc == -2)
		v6 = 1;
	if (rc == -1 || conf_sockaddr(v6 ? AF_INET6 : AF_INET, host, 53, &ss,
	    &sslen) == -1) {
		conf_kerr(ctx, key, "expected IP or IP:PORT ([IPv6]:PORT), "
		    "got \"%s\"", conf_show(ctx, key, text));
		return (-1);
	}
	if (port != NULL && conf_port(port, &pn) == -1) {
		conf_kerr(ctx, key, "port must be 1-65535, got \"%s\"",
		    conf_show(ctx, key, port));
		return (-1);
	}
	if (v6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(pn);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(pn);
	conf_sockname(&ss, out, outlen);
	return (0);
}

static int
conf_p_dns(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	struct conf	*c = obj;
	char		 item[CONF_MAX_ITEM], name[INET6_ADDRSTRLEN + 8], *p;
	int		 r, rc = 0;

	while ((r = conf_item(ctx, key, &v, ",", item, sizeof(item))) != 0) {
		if (r == -1 ||
		    conf_dns_one(ctx, key, item, name, sizeof(name)) == -1) {
			rc = -1;
			continue;
		}
		if (c->ndns_servers >= CONF_MAX_DNS) {
			conf_kerr(ctx, key, "too many servers, at most %d",
			    CONF_MAX_DNS);
			return (-1);
		}
		if ((p = strdup(name)) == NULL) {
			conf_nomem(ctx);
			return (-1);
		}
		if (conf_push(ctx, &c->dns_servers, &c->ndns_servers, &p,
		    sizeof(p)) == -1) {
			free(p);
			return (-1);
		}
	}
	return (rc);
}

/* Parses the ADDR:PORT of a listener. */
static int
conf_listen_addr(struct conf_ctx *ctx, const struct conf_key *key,
    const char *text, struct conf_listen *l)
{
	char		 buf[CONF_MAX_ITEM], *host, *port;
	unsigned int	 pn;
	int		 v6, rc;

	(void)snprintf(buf, sizeof(buf), "%s", text);
	if ((rc = conf_hostport(buf, &host, &port, &v6)) == -2) {
		conf_kerr(ctx, key, "an IPv6 address goes in brackets, "
		    "[ADDR]:PORT, got \"%s\"", conf_show(ctx, key, text));
		return (-1);
	}
	if (rc == -1 || port == NULL) {
		conf_kerr(ctx, key, "expected ADDR:PORT [tls|starttls|proxy], "
		    "got \"%s\"", conf_show(ctx, key, text));
		return (-1);
	}
	if (conf_port(port, &pn) == -1) {
		conf_kerr(ctx, key, "port must be 1-65535, got \"%s\"",
		    conf_show(ctx, key, port));
		return (-1);
	}
	if (!v6 && strcmp(host, "*") == 0)
		host = "0.0.0.0";
	if (conf_sockaddr(v6 ? AF_INET6 : AF_INET, host, pn, &l->addr,
	    &l->addrlen) == -1) {
		conf_kerr(ctx, key, "expected an IPv4 address, [IPv6 address] "
		    "or *, got \"%s\"", conf_show(ctx, key, host));
		return (-1);
	}
	conf_sockname(&l->addr, l->name, sizeof(l->name));
	return (0);
}

/* Parses "ADDR:PORT [flags]"; *todo_r gets a flag not supported yet. */
static int
conf_listen_one(struct conf_ctx *ctx, const struct conf_key *key,
    char *item, struct conf_listen *l, const char **todo_r)
{
	const struct conf_word	*w;
	char			*flags, word[CONF_MAX_ITEM];
	const char		*s;
	int			 r, rc = 0;

	memset(l, 0, sizeof(*l));
	l->line = ctx->lineno;
	flags = item + strcspn(item, CONF_SPACE);
	if (*flags != '\0')
		*flags++ = '\0';
	if (conf_listen_addr(ctx, key, item, l) == -1)
		return (-1);
	s = flags;
	while ((r = conf_item(ctx, key, &s, CONF_SPACE, word,
	    sizeof(word))) == 1) {
		if ((w = conf_word(conf_flag_words, word)) == NULL) {
			conf_kerr(ctx, key, "unknown flag \"%s\", expected "
			    "tls, starttls or proxy",
			    conf_show(ctx, key, word));
			rc = -1;
			continue;
		}
		l->flags |= w->value;
		if (!w->supported && *todo_r == NULL)
			*todo_r = w->word;
	}
	if ((l->flags & CONF_LISTEN_TLS) && (l->flags & CONF_LISTEN_STARTTLS)) {
		conf_kerr(ctx, key, "%s: flags tls and starttls exclude each "
		    "other, use one listener for each", l->name);
		rc = -1;
	}
	return (r == -1 ? -1 : rc);
}

static int
conf_p_listen(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf_server	*srv = obj;
	struct conf_listen	 l;
	const char		*todo = NULL;
	char			 item[CONF_MAX_ITEM];
	int			 r, rc = 0;

	while ((r = conf_item(ctx, key, &v, ",", item, sizeof(item))) != 0) {
		if (r == -1 || conf_listen_one(ctx, key, item, &l,
		    &todo) == -1) {
			rc = -1;
			continue;
		}
		if (srv->nlisten >= CONF_MAX_LISTEN) {
			conf_kerr(ctx, key, "too many listeners, at most %d",
			    CONF_MAX_LISTEN);
			return (-1);
		}
		if (conf_push(ctx, &srv->listen, &srv->nlisten, &l,
		    sizeof(l)) == -1)
			return (-1);
	}
	if (rc == 0 && todo != NULL)
		conf_kerr(ctx, key, "flag %s not supported yet", todo);
	return (rc);
}

/* Returns the prefix length of a contiguous mask, or -1. */
static int
conf_mask_prefix(const unsigned char *m, size_t len)
{
	size_t	i;
	int	bit, prefix = 0, ended = 0;

	for (i = 0; i < len; i++)
		for (bit = 7; bit >= 0; bit--) {
			if (m[i] & (1 << bit)) {
				if (ended)
					return (-1);
				prefix++;
			} else
				ended = 1;
		}
	return (prefix);
}

/* Parses the "/PREFIX" or "/MASK" part of a network. */
static int
conf_net_prefix(struct conf_ctx *ctx, const struct conf_key *key,
    const char *s, const char *text, struct conf_net *n)
{
	unsigned char	mask[16];
	int		bits = n->family == AF_INET ? 32 : 128;
	size_t		len = strlen(s);

	if (len > 0 && len <= 3 && strspn(s, "0123456789") == len) {
		n->prefix = atoi(s);
		if (n->prefix <= bits)
			return (0);
		conf_kerr(ctx, key, "prefix length must be 0-%d, got \"%s\"",
		    bits, conf_show(ctx, key, text));
		return (-1);
	}
	if (inet_pton(n->family, s, mask) != 1) {
		conf_kerr(ctx, key, "expected ADDR/PREFIX or ADDR/MASK, "
		    "got \"%s\"", conf_show(ctx, key, text));
		return (-1);
	}
	if ((n->prefix = conf_mask_prefix(mask, bits / 8)) == -1) {
		conf_kerr(ctx, key, "mask is not contiguous, got \"%s\"",
		    conf_show(ctx, key, text));
		return (-1);
	}
	return (0);
}

/* Parses one network: ADDR, ADDR/PREFIX or ADDR/MASK, IPv4 or IPv6. */
static int
conf_net_one(struct conf_ctx *ctx, const struct conf_key *key,
    const char *text, struct conf_net *n)
{
	char		 buf[CONF_MAX_ITEM], *slash, a[INET6_ADDRSTRLEN];
	unsigned char	 net[16];
	int		 i, len;

	memset(n, 0, sizeof(*n));
	(void)snprintf(buf, sizeof(buf), "%s", text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->family = AF_INET6;
	else {
		conf_kerr(ctx, key, "expected ADDR/PREFIX or ADDR/MASK, "
		    "got \"%s\"", conf_show(ctx, key, text));
		return (-1);
	}
	len = n->family == AF_INET ? 4 : 16;
	n->prefix = len * 8;
	if (slash != NULL &&
	    conf_net_prefix(ctx, key, slash, text, n) == -1)
		return (-1);
	memcpy(net, n->addr, sizeof(net));
	for (i = 0; i < len; i++)
		if (n->prefix < (i + 1) * 8)
			net[i] &= n->prefix <= i * 8 ? 0 :
			    (unsigned char)(0xff << (8 - (n->prefix - i * 8)));
	if (memcmp(net, n->addr, len) != 0) {
		(void)inet_ntop(n->family, net, a, sizeof(a));
		conf_kerr(ctx, key, "host bits set in \"%s\", expected %s/%d",
		    conf_show(ctx, key, text), a, n->prefix);
		return (-1);
	}
	return (0);
}

static int
conf_p_nets(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf_server	*srv = obj;
	struct conf_net		 n;
	char			 item[CONF_MAX_ITEM];
	int			 r, rc = 0;

	while ((r = conf_item(ctx, key, &v, ",", item, sizeof(item))) != 0) {
		if (r == -1 || conf_net_one(ctx, key, item, &n) == -1) {
			rc = -1;
			continue;
		}
		if (srv->nproxy_from >= CONF_MAX_NETS) {
			conf_kerr(ctx, key, "too many networks, at most %d",
			    CONF_MAX_NETS);
			return (-1);
		}
		if (conf_push(ctx, &srv->proxy_from, &srv->nproxy_from, &n,
		    sizeof(n)) == -1)
			return (-1);
	}
	return (rc);
}

static int
conf_p_cert(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	struct conf_server	*srv = obj;
	struct conf_cert	 cc;
	char			 cert[CONF_MAX_ITEM], keyf[CONF_MAX_ITEM];
	const char		*s = v;
	int			 r1, r2 = -1;

	if ((r1 = conf_item(ctx, key, &s, CONF_SPACE, cert,
	    sizeof(cert))) == 1)
		r2 = conf_item(ctx, key, &s, CONF_SPACE, keyf, sizeof(keyf));
	if (r1 != 1 || r2 == -1 || s[strspn(s, CONF_SPACE)] != '\0' ||
	    strchr(v, ',') != NULL || conf_has_ctl(cert) ||
	    (r2 == 1 && conf_has_ctl(keyf))) {
		conf_kerr(ctx, key, "expected CERTFILE [KEYFILE], one "
		    "certificate a line, got \"%s\"", conf_show(ctx, key, v));
		return (-1);
	}
	if (r2 == 0)
		(void)snprintf(keyf, sizeof(keyf), "%s", cert);
	if (srv->ncerts >= CONF_MAX_CERTS) {
		conf_kerr(ctx, key, "too many certificates, at most %d",
		    CONF_MAX_CERTS);
		return (-1);
	}
	memset(&cc, 0, sizeof(cc));
	cc.line = ctx->lineno;
	if ((cc.cert = conf_abspath(ctx, key, cert)) == NULL ||
	    (cc.key = conf_abspath(ctx, key, keyf)) == NULL ||
	    conf_push(ctx, &srv->certs, &srv->ncerts, &cc, sizeof(cc)) == -1) {
		free(cc.cert);
		free(cc.key);
		return (-1);
	}
	return (0);
}

/*
 * Parses words separated by spaces or commas into bits; a key line
 * replaces the default, a continuation line adds.  *line_r gets the
 * bits of this line alone.
 */
static int
conf_bits(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    const struct conf_word *words, const char *what, int *bits, int *line_r)
{
	const struct conf_word	*w;
	char			 item[CONF_MAX_ITEM], text[256];
	int			 r, rc = 0, acc = 0;

	while ((r = conf_item(ctx, key, &v, ", \t", item,
	    sizeof(item))) != 0) {
		if (r == -1)
			rc = -1;
		else if ((w = conf_word(words, item)) == NULL) {
			conf_kerr(ctx, key, "unknown %s \"%s\", expected %s",
			    what, conf_show(ctx, key, item),
			    conf_words_text(words, text, sizeof(text)));
			rc = -1;
		} else
			acc |= w->value;
	}
	if (rc == 0)
		*bits = (ctx->cont ? *bits : 0) | acc;
	*line_r = acc;
	return (rc);
}

static int
conf_p_protocols(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	int	acc;

	return (conf_bits(ctx, key, v, conf_proto_words, "protocol",
	    conf_field(obj, key->off), &acc));
}

static int
conf_p_auth(struct conf_ctx *ctx, const struct conf_key *key, const char *v,
    void *obj)
{
	const struct conf_word	*w;
	int			 acc;

	if (conf_bits(ctx, key, v, conf_auth_words, "mechanism",
	    conf_field(obj, key->off), &acc) == -1)
		return (-1);
	for (w = conf_auth_words; w->word != NULL; w++)
		if (!w->supported && (acc & w->value))
			conf_kerr(ctx, key, "%s not supported yet", w->word);
	return (0);
}

static int
conf_p_default_backend(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf_server	*srv = obj;
	int			 pool = strncmp(v, "pool:", 5) == 0;

	if (!conf_valid_name(pool ? v + 5 : v)) {
		conf_kerr(ctx, key, "expected NAME or pool:NAME, a name being "
		    "1-%d letters, digits, '.', '-' or '_', got \"%s\"",
		    CONF_MAX_NAME - 1, conf_show(ctx, key, v));
		return (-1);
	}
	if (conf_set_str(ctx, &srv->default_backend, v) == -1)
		return (-1);
	/* Pools come with the [backend] key `pool`: one flag for both. */
	if (pool && (conf_key_find("pool", CONF_SECT_BACKEND)->flags &
	    CONF_K_TODO))
		conf_kerr(ctx, key, "%s not supported yet, name a [backend]",
		    conf_show(ctx, key, v));
	return (0);
}

/* Resolves a back end's host name; the first address wins. */
static int
conf_resolve(struct conf_ctx *ctx, const struct conf_key *key,
    const char *host, unsigned int port, struct conf_backend *b)
{
	struct addrinfo	 hints, *res;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		conf_kerr(ctx, key, "cannot resolve \"%s\": %s",
		    conf_show(ctx, key, host), rc == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(rc));
		return (-1);
	}
	memset(&b->addr, 0, sizeof(b->addr));
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addrlen = res->ai_addrlen;
	if (res->ai_family == AF_INET6)
		((struct sockaddr_in6 *)&b->addr)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&b->addr)->sin_port = htons(port);
	freeaddrinfo(res);
	(void)snprintf(b->addr_name, sizeof(b->addr_name), "%s:%u", host,
	    port);
	return (0);
}

static int
conf_p_address(struct conf_ctx *ctx, const struct conf_key *key,
    const char *v, void *obj)
{
	struct conf_backend	*b = obj;
	char			 buf[CONF_MAX_ITEM], *host, *port;
	unsigned int		 pn;
	int			 v6, rc;

	(void)snprintf(buf, sizeof(buf), "%s", v);
	if ((rc = conf_hostport(buf, &host, &port, &v6)) == -2) {
		conf_kerr(ctx, key, "an IPv6 address goes in brackets, "
		    "[ADDR]:PORT, got \"%s\"", conf_show(ctx, key, v));
		return (-1);
	}
	if (rc == -1 || port == NULL || *host == '\0') {
		conf_kerr(ctx, key, "expected HOST:PORT or [IPv6]:PORT, "
		    "got \"%s\"", conf_show(ctx, key, v));
		return (-1);
	}
	if (conf_port(port, &pn) == -1) {
		conf_kerr(ctx, key, "port must be 1-65535, got \"%s\"",
		    conf_show(ctx, key, port));
		return (-1);
	}
	if (conf_sockaddr(v6 ? AF_INET6 : AF_INET, host, pn, &b->addr,
	    &b->addrlen) == 0)
		conf_sockname(&b->addr, b->addr_name, sizeof(b->addr_name));
	else if (v6 || !conf_valid_host(host)) {
		conf_kerr(ctx, key, "expected a host name, an IPv4 address or "
		    "[IPv6 address], got \"%s\"", conf_show(ctx, key, host));
		return (-1);
	} else if (conf_resolve(ctx, key, host, pn, b) == -1)
		return (-1);
	return (conf_set_str(ctx, &b->host, host));
}

/*
 * Sections.
 */

static void
conf_global_defaults(struct conf *c)
{
	c->workers = 0;
	c->stats_socket_mode = 0660;
	c->log_dest = CONF_LOG_SYSLOG;
	c->log_level = LOG_LEVEL_INFO;
	c->dns_timeout = 2;
	c->max_connections = 50000;
	c->shutdown_timeout = 30;
}

static void
conf_server_defaults(struct conf_server *srv)
{
	srv->tls_protocols = CONF_TLS_V1_2 | CONF_TLS_V1_3;
	srv->require_tls = 1;
	srv->auth_mechanisms = CONF_AUTH_PLAIN | CONF_AUTH_LOGIN;
	srv->username_case = CONF_USERNAME_LOWER;
	srv->login_timeout = 60;
	srv->idle_timeout = 30 * CONF_MINUTE;
	srv->max_connections_per_ip = 1000;
	srv->max_connections_per_user = 50;
	srv->auth_fail_limit = 10;
	srv->auth_fail_window = 10 * CONF_MINUTE;
	srv->auth_fail_delay = 2;
}

static void
conf_backend_defaults(struct conf_backend *b)
{
	b->tls = CONF_BACKEND_TLS_NO;
	b->tls_verify = 1;
	b->weight = 1;
	b->forward_id = 1;
	b->connect_timeout = 5;
	b->health_check_interval = 10;
}

static const struct conf_key *
conf_key_find(const char *name, enum conf_sect sect)
{
	size_t	i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (conf_keys[i].sect == sect &&
		    strcmp(conf_keys[i].name, name) == 0)
			return (&conf_keys[i]);
	return (NULL);
}

static size_t
conf_key_index(const char *name, enum conf_sect sect)
{
	return (conf_key_find(name, sect) - conf_keys);
}

/* Checks what a [server] needs once its last key is read. */
static void
conf_close_server(struct conf_ctx *ctx, struct conf_server *srv)
{
	size_t	il = conf_key_index("listen", S);
	size_t	ic = conf_key_index("tls_cert", S);
	size_t	ip = conf_key_index("tls_protocols", S);
	size_t	ia = conf_key_index("auth_mechanisms", S);
	size_t	i;

	if (srv->nlisten == 0 && !ctx->bad[il]) {
		if (ctx->seen[il])
			conf_err(ctx, ctx->seen[il], "[%s] listen: no address, "
			    "expected ADDR:PORT [tls|starttls|proxy]",
			    ctx->label);
		else
			conf_err(ctx, srv->line, "[%s] listen: required, "
			    "expected listen = ADDR:PORT [tls|starttls|proxy]",
			    ctx->label);
	}
	for (i = 0; srv->ncerts == 0 && !ctx->bad[ic] && i < srv->nlisten;
	    i++)
		if (srv->listen[i].flags &
		    (CONF_LISTEN_TLS | CONF_LISTEN_STARTTLS)) {
			conf_err(ctx, srv->listen[i].line, "[%s] listen: %s "
			    "%s needs a tls_cert in this [server]", ctx->label,
			    srv->listen[i].name, srv->listen[i].flags &
			    CONF_LISTEN_TLS ? "tls" : "starttls");
			break;
		}
	if (srv->tls_protocols == 0 && !ctx->bad[ip])
		conf_err(ctx, ctx->seen[ip], "[%s] tls_protocols: must not be "
		    "empty, expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
		    ctx->label);
	if (srv->auth_mechanisms == 0 && !ctx->bad[ia])
		conf_err(ctx, ctx->seen[ia], "[%s] auth_mechanisms: must not "
		    "be empty, expected PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER",
		    ctx->label);
	ctx->dbad[ctx->idx] = ctx->bad[conf_key_index("default_backend", S)];
	if (srv->greeting == NULL &&
	    (srv->greeting = strdup(CONF_DEFAULT_GREETING)) == NULL)
		conf_nomem(ctx);
}

static void
conf_close_backend(struct conf_ctx *ctx, struct conf_backend *b)
{
	size_t	ia = conf_key_index("address", B);

	if (!ctx->bad[ia] && !ctx->seen[ia])
		conf_err(ctx, b->line, "[%s] address: required, expected "
		    "address = HOST:PORT", ctx->label);
}

/* Runs the checks of the section that ends and leaves it. */
static void
conf_close(struct conf_ctx *ctx)
{
	if (ctx->sect == CONF_SECT_SERVER)
		conf_close_server(ctx, ctx->obj);
	else if (ctx->sect == CONF_SECT_BACKEND)
		conf_close_backend(ctx, ctx->obj);
	ctx->sect = CONF_SECT_BAD;
	ctx->obj = NULL;
	ctx->last = NULL;
	memset(ctx->seen, 0, sizeof(ctx->seen));
	memset(ctx->bad, 0, sizeof(ctx->bad));
}

static void
conf_enter(struct conf_ctx *ctx, enum conf_sect sect, void *obj,
    const char *kind, const char *name)
{
	ctx->sect = sect;
	ctx->obj = obj;
	(void)snprintf(ctx->label, sizeof(ctx->label), "%s%s%s", kind,
	    *name != '\0' ? " " : "", name);
}

/* Grows an array of servers or back ends to hold one more. */
static void *
conf_grow(struct conf_ctx *ctx, void *arr, size_t *capp, size_t n,
    size_t sz)
{
	size_t	cap = *capp;

	if (n < cap)
		return (arr);
	cap = cap == 0 ? 4 : cap * 2;
	if ((arr = reallocarray(arr, cap, sz)) == NULL) {
		conf_nomem(ctx);
		return (NULL);
	}
	*capp = cap;
	return (arr);
}

static void
conf_open_global(struct conf_ctx *ctx, const char *name)
{
	if (*name != '\0') {
		conf_err(ctx, ctx->lineno, "[global] takes no name, got "
		    "[global %s]", conf_show(ctx, NULL, name));
		return;
	}
	if (ctx->global_line != 0) {
		conf_err(ctx, ctx->lineno, "[global] repeated, first at line "
		    "%d", ctx->global_line);
		return;
	}
	ctx->global_line = ctx->lineno;
	conf_enter(ctx, CONF_SECT_GLOBAL, ctx->conf, "global", "");
}

/* Checks a [server NAME] or [backend NAME] header's name. */
static int
conf_check_name(struct conf_ctx *ctx, const char *kind, const char *name,
    size_t n, size_t max)
{
	if (*name == '\0') {
		conf_err(ctx, ctx->lineno, "[%s] needs a name, expected "
		    "[%s NAME]", kind, kind);
		return (-1);
	}
	if (!conf_valid_name(name)) {
		conf_err(ctx, ctx->lineno, "[%s %s]: expected a name of 1-%d "
		    "letters, digits, '.', '-' or '_'", kind,
		    conf_show(ctx, NULL, name), CONF_MAX_NAME - 1);
		return (-1);
	}
	if (n >= max) {
		conf_err(ctx, ctx->lineno, "[%s %s]: too many [%s] sections, "
		    "at most %zu", kind, name, kind, max);
		return (-1);
	}
	return (0);
}

static void
conf_open_server(struct conf_ctx *ctx, const char *name)
{
	struct conf		*c = ctx->conf;
	struct conf_server	*srv;
	size_t			 i;

	if (conf_check_name(ctx, "server", name, c->nservers,
	    CONF_MAX_SERVERS) == -1)
		return;
	for (i = 0; i < c->nservers; i++)
		if (strcmp(c->servers[i].name, name) == 0) {
			conf_err(ctx, ctx->lineno, "[server %s] repeated, "
			    "first at line %d", name, c->servers[i].line);
			return;
		}
	if ((srv = conf_grow(ctx, c->servers, &ctx->capservers, c->nservers,
	    sizeof(*srv))) == NULL)
		return;
	c->servers = srv;
	srv = &c->servers[c->nservers];
	memset(srv, 0, sizeof(*srv));
	if ((srv->name = strdup(name)) == NULL) {
		conf_nomem(ctx);
		return;
	}
	srv->line = ctx->lineno;
	conf_server_defaults(srv);
	ctx->idx = c->nservers++;
	conf_enter(ctx, CONF_SECT_SERVER, srv, "server", name);
}

static void
conf_open_backend(struct conf_ctx *ctx, const char *name)
{
	struct conf		*c = ctx->conf;
	struct conf_backend	*b;
	size_t			 i;

	if (conf_check_name(ctx, "backend", name, c->nbackends,
	    CONF_MAX_BACKENDS) == -1)
		return;
	for (i = 0; i < c->nbackends; i++)
		if (strcmp(c->backends[i].name, name) == 0) {
			conf_err(ctx, ctx->lineno, "[backend %s] repeated, "
			    "first at line %d", name, c->backends[i].line);
			return;
		}
	if ((b = conf_grow(ctx, c->backends, &ctx->capbackends,
	    c->nbackends, sizeof(*b))) == NULL)
		return;
	c->backends = b;
	b = &c->backends[c->nbackends];
	memset(b, 0, sizeof(*b));
	if ((b->name = strdup(name)) == NULL) {
		conf_nomem(ctx);
		return;
	}
	b->line = ctx->lineno;
	conf_backend_defaults(b);
	ctx->idx = c->nbackends++;
	conf_enter(ctx, CONF_SECT_BACKEND, b, "backend", name);
}

/* Opens the section of a header line p ("[...]"); may modify p. */
static void
conf_section(struct conf_ctx *ctx, char *p)
{
	char	*end, *kind, *name, text[sizeof(ctx->show)];

	conf_close(ctx);
	if ((end = strchr(p, ']')) == NULL) {
		conf_err(ctx, ctx->lineno, "section header without ], "
		    "expected [global], [server NAME] or [backend NAME]");
		return;
	}
	if (end[1] != '\0')
		conf_err(ctx, ctx->lineno, "unexpected \"%s\" after ], "
		    "expected nothing or a comment",
		    conf_show(ctx, NULL, end + 1));
	*end = '\0';
	(void)snprintf(text, sizeof(text), "%s", conf_show(ctx, NULL, p + 1));
	kind = p + 1 + strspn(p + 1, CONF_SPACE);
	name = kind + strcspn(kind, CONF_SPACE);
	if (*name != '\0') {
		*name++ = '\0';
		name += strspn(name, CONF_SPACE);
	}
	end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (strcmp(kind, "global") == 0)
		conf_open_global(ctx, name);
	else if (strcmp(kind, "server") == 0)
		conf_open_server(ctx, name);
	else if (strcmp(kind, "backend") == 0)
		conf_open_backend(ctx, name);
	else
		conf_err(ctx, ctx->lineno, "unknown section [%s], expected "
		    "[global], [server NAME] or [backend NAME]", text);
}

/*
 * The reader and the handler inih calls.
 */

/*
 * Reads one line into str (at most num - 1 bytes, the rest swallowed).
 * Returns its length, or -1 at the end of the file.
 */
static int
conf_getline(struct conf_ctx *ctx, char *str, int num, int *long_r,
    int *nul_r)
{
	int	c, len = 0;

	*long_r = *nul_r = 0;
	while ((c = getc(ctx->fp)) != EOF && c != '\n') {
		if (c == '\0')
			*nul_r = 1;
		if (len < num - 1)
			str[len++] = c;
		else
			*long_r = 1;
	}
	str[len] = '\0';
	if (ferror(ctx->fp)) {
		conf_err(ctx, ctx->lineno + 1, "cannot read: %s",
		    strerror(errno));
		return (-1);
	}
	if (c == EOF && len == 0 && !*long_r)
		return (-1);
	if (len > 0 && str[len - 1] == '\r')
		str[--len] = '\0';
	return (len);
}

/* Cuts a `;` or `#` comment that starts s or follows white space. */
static void
conf_uncomment(char *s)
{
	char	*p, *e;

	for (p = s; *p != '\0'; p++)
		if ((*p == ';' || *p == '#') &&
		    (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
}

/*
 * Tells an indented section header from a continuation line that starts
 * with an IPv6 address in brackets ("  [::1]:143").
 */
static int
conf_is_header(const char *p)
{
	return (p[strlen(p) - 1] == ']' &&
	    isalpha((unsigned char)p[1 + strspn(p + 1, CONF_SPACE)]));
}

/* A key line is NAME = VALUE, NAME being CONF_NAME_CHARS. */
static int
conf_is_keyline(const char *p)
{
	size_t	n = strspn(p, CONF_NAME_CHARS);

	if (n == 0)
		return (0);
	p += n;
	p += strspn(p, CONF_SPACE);
	return (*p == '=');
}

/*
 * Turns the raw line in str into what inih should see: a section
 * header, a key line, an indented continuation, or nothing.
 */
static void
conf_line(struct conf_ctx *ctx, char *str, int len, int max)
{
	char	*p;

	if (ctx->lineno == 1 && strncmp(str, "\xef\xbb\xbf", 3) == 0)
		memmove(str, str + 3, strlen(str + 3) + 1);
	p = str + strspn(str, " \t\r\f\v");
	if (len > max && *p != ';' && *p != '#') {
		conf_err(ctx, ctx->lineno, "line too long (at most %d "
		    "characters)", max);
		if (*p == '[')
			conf_close(ctx);
		ctx->prev = 0;
		str[0] = '\0';
		return;
	}
	conf_uncomment(p);
	if (*p == '\0') {
		str[0] = '\0';
	} else if (*p == '[' && (p == str || !ctx->prev ||
	    conf_is_header(p))) {
		conf_section(ctx, p);
		ctx->prev = 0;
		(void)snprintf(str, max, "[s]");
	} else if (conf_is_keyline(p)) {
		memmove(str, p, strlen(p) + 1);
		ctx->prev = 1;
	} else if (p > str && ctx->prev) {
		ctx->cont = 1;
		memmove(str + 1, p, strlen(p) + 1);
		str[0] = ' ';
	} else {
		conf_err(ctx, ctx->lineno, "expected KEY = VALUE, a [section] "
		    "or a comment, got \"%s\"", conf_show(ctx, NULL, p));
		ctx->prev = 0;
		str[0] = '\0';
	}
}

/* The ini_reader: one line of the file at a time, cleaned up for inih. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_ctx	*ctx = stream;
	int		 len, toolong, nul;

	if (num < 8 || (len = conf_getline(ctx, str, num, &toolong,
	    &nul)) == -1)
		return (NULL);
	ctx->lineno++;
	ctx->cont = 0;
	if (nul) {
		conf_err(ctx, ctx->lineno, "NUL byte, expected text");
		ctx->prev = 0;
		str[0] = '\0';
		return (str);
	}
	/* inih needs room for CR, LF and NUL after the text. */
	conf_line(ctx, str, toolong ? num : len, num - 3);
	return (str);
}

static int
conf_is_set(void *obj, const struct conf_key *key)
{
	void	*f = conf_field(obj, key->off);

	if (key->parse == conf_p_duration)
		return (*(double *)f != 0);
	if (key->parse == conf_p_domain)
		return (*(char **)f != NULL);
	return (*(unsigned int *)f != 0);
}

/* Parses a value, then refuses what is not supported yet. */
static void
conf_apply(struct conf_ctx *ctx, const struct conf_key *key, const char *v)
{
	if (key->parse(ctx, key, v, ctx->obj) == -1) {
		ctx->bad[key - conf_keys] = 1;
		return;
	}
	if (ctx->cont)
		return;
	if (key->flags & CONF_K_TODO)
		conf_kerr(ctx, key, "not supported yet");
	else if ((key->flags & CONF_K_TODO_SET) && conf_is_set(ctx->obj, key))
		conf_kerr(ctx, key, "%s not supported yet, only %s",
		    conf_show(ctx, key, v), key->parse == conf_p_bool ? "no" :
		    key->parse == conf_p_domain ? "an empty value" : "0");
}

/* Reports a key that is not in the table for this section. */
static void
conf_unknown(struct conf_ctx *ctx, const char *name)
{
	static const char *const where[] = {
		"", "[global]", "[server NAME]", "[backend NAME]"
	};
	char	 buf[128];
	size_t	 n = 0;
	int	 s;

	buf[0] = '\0';
	for (s = CONF_SECT_GLOBAL; s <= CONF_SECT_BACKEND; s++)
		if (conf_key_find(name, s) != NULL)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s",
			    n > 0 ? " or " : "", where[s]);
	if (n == 0)
		conf_err(ctx, ctx->lineno, "[%s] %s: unknown key", ctx->label,
		    name);
	else
		conf_err(ctx, ctx->lineno, "[%s] %s: not allowed here, only "
		    "in %s", ctx->label, name, buf);
}

static void
conf_continue(struct conf_ctx *ctx, const char *value)
{
	const struct conf_key	*key = ctx->last;

	if (key == NULL)
		return;		/* its key line was refused */
	if (!(key->flags & CONF_K_LIST)) {
		conf_kerr(ctx, key, "continuation line, only lists may go on "
		    "over indented lines");
		ctx->last = NULL;
		return;
	}
	conf_apply(ctx, key, value);
}

/* The ini_handler; every mistake is reported, so it never fails. */
static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_ctx		*ctx = user;
	const struct conf_key	*key;
	size_t			 i;

	if (ctx->sect == CONF_SECT_BAD || name == NULL || value == NULL)
		return (1);	/* NULL: builds that report new sections */
	if (ctx->cont) {
		conf_continue(ctx, value);
		return (1);
	}
	ctx->last = NULL;
	if (ctx->sect == CONF_SECT_NONE) {
		conf_err(ctx, ctx->lineno, "%s: key outside a section, "
		    "expected [global], [server NAME] or [backend NAME] "
		    "before it", name);
		return (1);
	}
	if ((key = conf_key_find(name, ctx->sect)) == NULL) {
		conf_unknown(ctx, name);
		return (1);
	}
	i = key - conf_keys;
	if (ctx->seen[i] != 0 && !(key->flags & CONF_K_REPEAT)) {
		conf_kerr(ctx, key, "repeated, first set at line %d",
		    ctx->seen[i]);
		return (1);
	}
	if (ctx->seen[i] == 0) {
		ctx->seen[i] = ctx->lineno;
		if (key->lineoff != 0)
			*(int *)conf_field(ctx->obj, key->lineoff) =
			    ctx->lineno;
	}
	ctx->last = key;
	conf_apply(ctx, key, value);
	return (1);
}

/*
 * Rules between sections, once the whole file is read.
 */

/* Whether some back end is in the pool name. */
static int
conf_pool_exists(const struct conf *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nbackends; i++)
		if (c->backends[i].pool != NULL &&
		    strcmp(c->backends[i].pool, name) == 0)
			return (1);
	return (0);
}

static void
conf_check_backend(struct conf_ctx *ctx, struct conf_server *srv, size_t i)
{
	struct conf	*c = ctx->conf;

	if (srv->default_backend == NULL) {
		if (ctx->dbad[i] || c->nbackends == 0)
			return;
		if (c->nbackends > 1 && srv->routes != NULL)
			return;		/* users with no route: UNAVAILABLE */
		if (c->nbackends > 1) {
			conf_err(ctx, srv->line, "[server %s] default_backend: "
			    "required when there are several back ends and no "
			    "routes", srv->name);
			return;
		}
		srv->backend = &c->backends[0];
		(void)conf_set_str(ctx, &srv->default_backend,
		    srv->backend->name);
		return;
	}
	if (strncmp(srv->default_backend, "pool:", 5) == 0) {
		if (!conf_pool_exists(c, srv->default_backend + 5))
			conf_err(ctx, srv->line_default_backend, "[server %s] "
			    "default_backend: no [backend] has pool = %s",
			    srv->name, srv->default_backend + 5);
		return;
	}
	if ((srv->backend = conf_backend_find(c,
	    srv->default_backend)) == NULL)
		conf_err(ctx, srv->line_default_backend, "[server %s] "
		    "default_backend: no [backend %s] in this file",
		    srv->name, srv->default_backend);
}

static const struct conf_listen *
conf_earlier_listen(const struct conf *c, const struct conf_listen *l)
{
	const struct conf_listen	*m;
	size_t				 i, j;

	for (i = 0; i < c->nservers; i++)
		for (j = 0; j < c->servers[i].nlisten; j++) {
			m = &c->servers[i].listen[j];
			if (m == l)
				return (NULL);
			if (m->addrlen == l->addrlen &&
			    memcmp(&m->addr, &l->addr, l->addrlen) == 0)
				return (m);
		}
	return (NULL);
}

/* Two listeners on one address and port cannot both bind. */
static void
conf_check_dups(struct conf_ctx *ctx)
{
	const struct conf		*c = ctx->conf;
	const struct conf_listen	*l, *m;
	size_t				 i, j;

	for (i = 0; i < c->nservers; i++)
		for (j = 0; j < c->servers[i].nlisten; j++) {
			l = &c->servers[i].listen[j];
			if ((m = conf_earlier_listen(c, l)) != NULL)
				conf_err(ctx, l->line, "[server %s] listen: "
				    "%s already used at line %d",
				    c->servers[i].name, l->name, m->line);
		}
}

/* A `proxy` listener trusts nobody without proxy_protocol_from. */
static void
conf_check_proxy(struct conf_ctx *ctx, const struct conf_server *srv)
{
	size_t	j;

	if (srv->nproxy_from > 0)
		return;
	for (j = 0; j < srv->nlisten; j++)
		if (srv->listen[j].flags & CONF_LISTEN_PROXY) {
			conf_err(ctx, srv->listen[j].line, "[server %s] listen: "
			    "%s proxy: needs proxy_protocol_from, the balancers "
			    "allowed to send the header", srv->name,
			    srv->listen[j].name);
			return;
		}
}

static void
conf_finish(struct conf_ctx *ctx)
{
	struct conf	*c = ctx->conf;
	int		 last = ctx->lineno > 0 ? ctx->lineno : 1;
	size_t		 i;

	conf_close(ctx);
	if (c->nservers == 0)
		conf_err(ctx, last, "no [server NAME] section, at least one "
		    "is required");
	if (c->nbackends == 0)
		conf_err(ctx, last, "no [backend NAME] section, at least one "
		    "is required");
	for (i = 0; i < c->nservers; i++) {
		conf_check_backend(ctx, &c->servers[i], i);
		conf_check_proxy(ctx, &c->servers[i]);
	}
	conf_check_dups(ctx);
}

/* Sets c->dir to the absolute folder of path. */
static int
conf_dir(struct conf_ctx *ctx, const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, slash - path);
	if (dir == NULL) {
		conf_nomem(ctx);
		return (-1);
	}
	ctx->conf->dir = realpath(dir, NULL);
	free(dir);
	if (ctx->conf->dir == NULL) {
		conf_err(ctx, 0, "cannot find its folder: %s",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * Exported functions.
 */

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_ctx	 ctx;
	struct conf	*c;
	int		 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	errbuf_init(&ctx.errs, err, errlen);
	ctx.sect = CONF_SECT_NONE;
	if ((c = ctx.conf = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		conf_nomem(&ctx);
		goto fail;
	}
	conf_global_defaults(c);
	if ((ctx.fp = fopen(path, "r")) == NULL) {
		conf_err(&ctx, 0, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if (conf_dir(&ctx, path) == -1)
		goto fail;
	rc = ini_parse_stream(conf_reader, &ctx, conf_handler, &ctx);
	if (rc == -2)
		conf_nomem(&ctx);
	else if (rc != 0 && ctx.errs.n == 0)
		conf_err(&ctx, rc, "syntax error");
	conf_finish(&ctx);
	if (ctx.errs.n > 0)
		goto fail;
	(void)fclose(ctx.fp);
	return (c);
fail:
	if (ctx.fp != NULL)
		(void)fclose(ctx.fp);
	conf_free(&c);
	return (NULL);
}

static void
conf_free_strv(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
conf_free_server(struct conf_server *srv)
{
	size_t	i;

	for (i = 0; i < srv->ncerts; i++) {
		free(srv->certs[i].cert);
		free(srv->certs[i].key);
	}
	free(srv->certs);
	free(srv->listen);
	free(srv->proxy_from);
	free(srv->name);
	free(srv->acl);
	free(srv->routes);
	free(srv->default_backend);
	free(srv->default_domain);
	free(srv->greeting);
}

static void
conf_free_backend(struct conf_backend *b)
{
	free(b->name);
	free(b->host);
	free(b->tls_ca);
	free(b->tls_server_name);
	free(b->pool);
}

void
conf_free(struct conf **confp)
{
	struct conf	*c;
	size_t		 i;

	if (confp == NULL || (c = *confp) == NULL)
		return;
	for (i = 0; i < c->nservers; i++)
		conf_free_server(&c->servers[i]);
	for (i = 0; i < c->nbackends; i++)
		conf_free_backend(&c->backends[i]);
	free(c->servers);
	free(c->backends);
	conf_free_strv(c->geoip_db, c->ngeoip_db);
	conf_free_strv(c->dns_servers, c->ndns_servers);
	free(c->path);
	free(c->dir);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->stats_socket);
	free(c->stats_socket_group);
	free(c->log_file);
	free(c->log_facility);
	free(c);
	*confp = NULL;
}

size_t
conf_listen_count(const struct conf *c)
{
	size_t	i, n = 0;

	for (i = 0; i < c->nservers; i++)
		n += c->servers[i].nlisten;
	return (n);
}

const struct conf_listen *
conf_listen_at(const struct conf *c, size_t k)
{
	size_t	i;

	for (i = 0; i < c->nservers; i++) {
		if (k < c->servers[i].nlisten)
			return (&c->servers[i].listen[k]);
		k -= c->servers[i].nlisten;
	}
	return (NULL);
}

struct conf_backend *
conf_backend_find(const struct conf *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nbackends; i++)
		if (strcmp(c->backends[i].name, name) == 0)
			return (&c->backends[i]);
	return (NULL);
}

int
conf_parse_duration(const char *text, double *seconds_r)
{
	static const struct {
		const char	*unit;
		double		 mult;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "m", CONF_MINUTE },
		{ "h", CONF_HOUR }, { "d", CONF_DAY }
	};
	unsigned long long	 n = 0;
	const char		*p = text;
	size_t			 i;
	double			 s;

	if (text == NULL || !isdigit((unsigned char)*p))
		return (-1);
	for (; isdigit((unsigned char)*p); p++) {
		if (n > CONF_MAX_DURATION * 1000ULL)
			return (-1);
		n = n * 10 + (*p - '0');
	}
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if ((s = n * units[i].mult) > CONF_MAX_DURATION)
			return (-1);
		*seconds_r = s;
		return (0);
	}
	return (-1);
}
