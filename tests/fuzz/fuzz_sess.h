/*
 * Hosting real sessions in a fuzz target (fuzz_preauth.c, fuzz_backend.c):
 * a worker set up as worker_init() does, without listening sockets; one
 * end of a socketpair handed to sess_accept(); the loop run in bounded
 * steps while what the proxy says is read from the other end; the
 * session freed by the worker's own reap; and the checks both targets
 * make on the outcome.  Include after fuzz.h.
 */
#ifndef FUZZ_SESS_H
#define FUZZ_SESS_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>

#include <ev.h>

#include "conf.h"
#include "imap.h"
#include "log.h"
#include "runtime.h"
#include "sess.h"
#include "stats.h"
#include "worker.h"

/* Loop iterations after the client has gone, before calling it a stall. */
#define DRAIN_ITERATIONS	2000
/* Chunks written one by one; the rest of the input goes in one write. */
#define MAX_CHUNKS		64
/* Output kept for the checks; more is read and counted. */
#define OUT_MAX			(256 * 1024)
/* Commands whose answers check_replies() matches up. */
#define MAX_TAGS		4096

struct out {
	char	 buf[OUT_MAX];
	size_t	 len;		/* kept */
	size_t	 total;		/* read */
	int	 eof;
};

static char	 fs_tags[MAX_TAGS][IMAP_MAX_TAG + 1];
static int	 fs_trace, fs_lax;

/*
 * What every hosting target does first: SIGPIPE ignored as
 * supervisor_run() does, the daemon's log at debug level into
 * /dev/null (formatted, so its code runs) or FUZZ_LOG, and the
 * FUZZ_PREAUTH_TRACE and FUZZ_PREAUTH_LAX switches.
 */
static __attribute__((unused)) void
fs_init(const char *ident)
{
	const char	*logto = getenv("FUZZ_LOG");

	signal(SIGPIPE, SIG_IGN);
	fs_trace = getenv("FUZZ_PREAUTH_TRACE") != NULL;
	fs_lax = getenv("FUZZ_PREAUTH_LAX") != NULL;
	if (log_open(logto != NULL ? logto : "/dev/null", LOG_LEVEL_DEBUG,
	    ident) == -1)
		FUZZ_FATAL("cannot open the log");
}

/* Loads the configuration at path and builds its runtime. */
static __attribute__((unused)) struct runtime *
fs_runtime(const char *path)
{
	static char	 err[CONF_MAX_ERRTEXT];
	struct runtime	*rt;
	struct conf	*conf;

	if ((conf = conf_load(path, err, sizeof(err))) == NULL)
		FUZZ_FATAL("configuration:\n%s", err);
	if ((rt = runtime_new(conf, err, sizeof(err))) == NULL)
		FUZZ_FATAL("runtime:\n%s", err);
	return rt;
}

/* Reads what the proxy has said so far. */
static __attribute__((unused)) void
fs_drain(int fd, struct out *o)
{
	char	tmp[16384];
	ssize_t	n;
	size_t	keep;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			o->eof = 1;
		if (n <= 0)
			return;
		keep = (size_t)n;
		if (keep > sizeof(o->buf) - o->len)
			keep = sizeof(o->buf) - o->len;
		memcpy(o->buf + o->len, tmp, keep);
		o->len += keep;
		o->total += (size_t)n;
	}
}

/* Runs the loop up to n times while the session lives, reading fd. */
static __attribute__((unused)) void
fs_pump(struct worker *w, int fd, struct out *o, int n)
{
	while (n-- > 0 && w->nsessions > 0) {
		ev_run(w->loop, EVRUN_NOWAIT);
		fs_drain(fd, o);
	}
}

/* What changes while a session makes progress. */
static __attribute__((unused)) uint64_t
fs_signature(const struct worker *w, const struct out *o, uint64_t extra)
{
	const struct sess	*s = TAILQ_FIRST(&w->sessions);
	uint64_t		 h = o->total * 1000003u + extra;

	h = h * 31 + w->nsessions;
	if (s != NULL) {
		h = h * 31 + (uint64_t)s->state;
		h = h * 31 + s->bytes_in;
		if (s->pa != NULL)
			h = (h * 31 + s->pa->inlen) * 31 + s->pa->outlen;
	}
	return h;
}

/*
 * A worker with its loop and one session on a socketpair, accepted on
 * listen of srv from 127.0.0.1:40143; returns the client's end.
 */
static __attribute__((unused)) int
fs_start(struct worker *w, struct runtime *rt, struct runtime_server *srv,
    const struct conf_listen *listen, struct out *o)
{
	static char		 err[512];
	struct sockaddr_in	 peer;
	int			 sv[2];

	if (worker_init(w, 0, rt, NULL, 0, err, sizeof(err)) == -1)
		FUZZ_FATAL("worker_init: %s", err);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		FUZZ_FATAL("socketpair: %s", strerror(errno));
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40143);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o->len = o->total = 0;
	o->eof = 0;
	sess_accept(w, srv, listen, sv[0], (struct sockaddr *)&peer,
	    sizeof(peer));
	return sv[1];
}

static __attribute__((unused)) void
fs_report_stall(struct worker *w, size_t size)
{
	struct sess	*s;

	TAILQ_FOREACH(s, &w->sessions, entry)
		fprintf(stderr, "fuzz: session still open after the client "
		    "left (%zu input bytes): state %s, inlen %zu, outlen %zu, "
		    "held %d, starttls_pending %d, link %p\n",
		    size, sess_state_name(s->state),
		    s->pa != NULL ? s->pa->inlen : 0,
		    s->pa != NULL ? s->pa->outlen - s->pa->outoff : 0,
		    s->pa != NULL ? s->pa->held : 0, s->starttls_pending,
		    (void *)s->link);
}

/*
 * After the client has gone: a session still open is a stall (reported,
 * and a crash unless FUZZ_PREAUTH_LAX); then whatever is left is closed,
 * the reap frees it, the worker goes, and every count must be back to
 * zero.  Returns whether the session had closed by itself.
 */
static __attribute__((unused)) int
fs_finish(struct worker *w, struct runtime *rt, int fd, struct out *o,
    size_t size)
{
	struct sess	*s;
	size_t		 i;
	int		 closed_itself = w->nsessions == 0;

	if (!closed_itself) {
		fs_report_stall(w, size);
		if (!fs_lax)
			FUZZ_CHECK(!"the session outlived its client");
	}
	while ((s = TAILQ_FIRST(&w->sessions)) != NULL)
		sess_close(s, "fuzz teardown");
	ev_run(w->loop, EVRUN_NOWAIT);	/* the reap frees the session */
	FUZZ_CHECK(TAILQ_EMPTY(&w->dead));
	fs_drain(fd, o);
	if (fs_trace)
		fprintf(stderr, "--- %zu bytes out%s ---\n%.*s\n---\n",
		    o->total, closed_itself ? "" : " (stalled)", (int)o->len,
		    o->buf);
	close(fd);
	worker_cleanup(w);

	FUZZ_CHECK(sess_count() == 0);
	for (i = 0; i < rt->nservers; i++)
		FUZZ_CHECK(STATS_GET(rt->servers[i].st->active) == 0);
	for (i = 0; i < rt->nbackends; i++)
		FUZZ_CHECK(STATS_GET(rt->backends[i].st->sessions) == 0);
	return closed_itself;
}

static __attribute__((unused)) int
fs_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '+' &&
	    strchr("(){%*\"\\", c) == NULL;
}

static __attribute__((unused)) int
fs_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t	k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/*
 * What the proxy itself said, before any relaying: lines of printable
 * ASCII, each "* ", "+ " or a tag; nothing after "* BYE" but LOGOUT's
 * OK; after "OK Begin TLS negotiation now." only TLS records.
 * complete: the session ended and all was read, so no line is cut.
 */
static __attribute__((unused)) void
fs_check_output(const struct out *o, int complete)
{
	const char	*b = o->buf, *line, *crlf, *sp;
	size_t		 p = 0, n, i, after_bye = 0;
	int		 bye = 0;

	while (p < o->len) {
		line = b + p;
		crlf = memmem(line, o->len - p, "\r\n", 2);
		if (crlf == NULL) {
			/* Only a cut-off copy may end mid-line. */
			FUZZ_CHECK(!complete || o->total > o->len);
			return;
		}
		n = (size_t)(crlf - line);
		FUZZ_CHECK(n > 0);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(line[i] >= 0x20 && line[i] < 0x7f);
		sp = memchr(line, ' ', n);
		FUZZ_CHECK(sp != NULL && sp > line);
		if (!((sp - line == 1 && (line[0] == '*' || line[0] == '+'))))
			for (i = 0; i < (size_t)(sp - line); i++)
				FUZZ_CHECK(fs_tag_char((unsigned char)line[i]));
		if (bye) {
			/* LOGOUT says BYE, then its tagged OK; then silence. */
			FUZZ_CHECK(++after_bye == 1 && line[0] != '*' &&
			    fs_ends_with(line, n, " OK Logout completed."));
		} else if (n >= 6 && memcmp(line, "* BYE ", 6) == 0)
			bye = 1;
		p += n + 2;
		if (line[0] != '*' && line[0] != '+' &&
		    fs_ends_with(line, n, " OK Begin TLS negotiation now.")) {
			/* From here on TLS records only (alert, handshake). */
			FUZZ_CHECK(p == o->len || (b[p] >= 0x14 &&
			    b[p] <= 0x17));
			return;
		}
	}
}

/*
 * For inputs of simple commands only (no AUTHENTICATE, STARTTLS or
 * LOGOUT, nothing fatal): the tags the answers must carry, in order,
 * from the same tokenizer over the same 16 KiB window the session reads
 * into.  Returns the count, or -1 when the input is outside that model.
 */
static __attribute__((unused)) long
fs_expected_tags(const uint8_t *in, size_t len)
{
	static struct imap_cmd	 mcmd;
	enum imap_result	 r;
	size_t			 off = 0, w;
	long			 n = 0;

	while (off < len) {
		w = len - off < IMAP_MAX_CMD ? len - off : IMAP_MAX_CMD;
		r = imap_parse(&mcmd, (const char *)in + off, w);
		if (r == IMAP_AGAIN)
			break;
		if (r == IMAP_OK && (strcmp(mcmd.name, "AUTHENTICATE") == 0 ||
		    strcmp(mcmd.name, "STARTTLS") == 0 ||
		    strcmp(mcmd.name, "LOGOUT") == 0))
			return -1;
		if ((r == IMAP_BAD && mcmd.fatal) || n == MAX_TAGS)
			return -1;
		snprintf(fs_tags[n++], sizeof(fs_tags[0]), "%s", mcmd.tag);
		off += mcmd.len;
	}
	return n;
}

/*
 * Once the proxy has gone quiet with the client still connected, every
 * command the client sent has its tagged answer (the proxy's own, or a
 * back end's refusal), in order: nothing waits for the client to send
 * more or for login_timeout.  Only for sessions that never relayed and
 * were not ended by a BYE.
 */
static __attribute__((unused)) void
fs_check_replies(const uint8_t *in, size_t len, const struct out *o)
{
	const char	*b = o->buf, *line, *crlf, *sp;
	size_t		 p, n, tl;
	long		 want, got = 0, i;

	if ((want = fs_expected_tags(in, len)) < 0 || o->total > o->len)
		return;
	if (memmem(b, o->len, "\r\n* BYE ", 8) != NULL)
		return;			/* too many bad commands */
	/* The greeting, then one line per answer or untagged datum. */
	for (p = 0; p < o->len; p += n + 2) {
		line = b + p;
		if ((crlf = memmem(line, o->len - p, "\r\n", 2)) == NULL)
			break;
		n = (size_t)(crlf - line);
		if (p == 0 || (sp = memchr(line, ' ', n)) == NULL)
			continue;
		tl = (size_t)(sp - line);
		if (n - tl < 3 || (memcmp(sp, " OK", 3) != 0 &&
		    memcmp(sp, " NO", 3) != 0 && (n - tl < 4 ||
		    memcmp(sp, " BAD", 4) != 0)))
			continue;
		if (got < want && (strlen(fs_tags[got]) != tl ||
		    memcmp(fs_tags[got], line, tl) != 0)) {
			fprintf(stderr, "answer %ld has tag %.*s, expected "
			    "%s\n", got + 1, (int)tl, line, fs_tags[got]);
			FUZZ_CHECK(!"answers out of order");
		}
		got++;
	}
	if (got != want) {
		fprintf(stderr, "%ld commands read, %ld answered", want, got);
		for (i = got; i < want && i < got + 3; i++)
			fprintf(stderr, "%s %s", i == got ? "; missing:" : ",",
			    fs_tags[i]);
		fputc('\n', stderr);
		FUZZ_CHECK(!"a command went unanswered");
	}
}

#endif
