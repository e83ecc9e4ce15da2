/*
 * The stats socket: accept, read one command line under a deadline,
 * answer, close.  Commands that need the sessions go to every worker as
 * a job and are answered when the last one is done, so no worker ever
 * waits for the socket or its client.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "conf.h"
#include "container_of.h"
#include "dns.h"
#include "geo.h"
#include "jsonw.h"
#include "log.h"
#include "metrics.h"
#include "reload.h"
#include "runtime.h"
#include "stats.h"
#include "statsdoc.h"
#include "statsock.h"
#include "supervisor.h"
#include "worker.h"

#define STATS_MAX_WORDS	6

struct statsock_client {
	TAILQ_ENTRY(statsock_client) entry;
	struct statsock		*st;
	ev_io			 io;
	ev_timer		 timer;
	char			 in[STATS_MAX_REQUEST + 1];
	size_t			 inlen;
	struct jsonw		 out;
	size_t			 outoff;
	char			*words[STATS_MAX_WORDS];
	size_t			 nwords;
	int			 waiting;	/* a job or reload calls back */
	int			 draining;	/* answered: reading to EOF */
	int			 orphan;	/* socket gone: free on callback */
	/* acl test */
	struct runtime		*rt;
	struct dns_query	*dnsq;
	struct sockaddr_storage	 sa;
	char			 domain[256];
	char			 country[3];
	uint32_t		 asn;
};

struct statsock {
	struct supervisor	*sv;
	struct ev_loop		*loop;
	int			 fd;
	char			*path;
	ev_io			 io;
	ev_timer		 pause;		/* out of descriptors */
	TAILQ_HEAD(, statsock_client) clients;
	unsigned int		 nclients;
	struct dns		*dns;		/* acl test, made on demand */
};

static void	statsock_client_free(struct statsock_client *);
static void	statsock_client_io_cb(struct ev_loop *, ev_io *, int);

/* Refuses to replace a live socket; removes a stale one. */
static int
statsock_clear(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat	sb;
	int		fd, r;

	if (lstat(sun->sun_path, &sb) == -1)
		return 0;
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "stats_socket %s: exists and is not a "
		    "socket", sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "stats_socket %s: in use by a running "
		    "daemon", sun->sun_path);
		return -1;
	}
	(void)unlink(sun->sun_path);
	return 0;
}

/* Mode and group as configured; the file is ours until then. */
static int
statsock_own(const struct conf *conf, const char *path, char *err,
    size_t errlen)
{
	struct group	*gr;

	if (chmod(path, (mode_t)conf->stats_socket_mode) == -1) {
		snprintf(err, errlen, "stats_socket %s: chmod: %s", path,
		    strerror(errno));
		return -1;
	}
	if (conf->stats_socket_group == NULL)
		return 0;
	if ((gr = getgrnam(conf->stats_socket_group)) == NULL) {
		snprintf(err, errlen, "stats_socket_group %s: no such group",
		    conf->stats_socket_group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) == -1) {
		snprintf(err, errlen, "stats_socket %s: chown: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
statsock_bind(const struct conf *conf, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf->stats_socket) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "stats_socket %s: path too long",
		    conf->stats_socket);
		return -1;
	}
	memcpy(sun.sun_path, conf->stats_socket, strlen(conf->stats_socket));
	if (statsock_clear(&sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	/* Nobody may connect before the mode is set. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1 || listen(fd, STATS_MAX_CLIENTS) == -1)
		goto fail;
	if (statsock_own(conf, sun.sun_path, err, errlen) == -1) {
		close(fd);
		(void)unlink(sun.sun_path);
		return -1;
	}
	return fd;
fail:
	snprintf(err, errlen, "stats_socket %s: %s", conf->stats_socket,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

struct statsock *
statsock_open(struct supervisor *sv, const struct conf *conf, char *err,
    size_t errlen)
{
	struct statsock	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(conf->stats_socket)) == NULL) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->sv = sv;
	TAILQ_INIT(&st->clients);
	if ((st->fd = statsock_bind(conf, err, errlen)) == -1) {
		free(st->path);
		free(st);
		return NULL;
	}
	return st;
}

/*
 * Closing with unread input would reset the connection and could
 * destroy the answer in flight: after it, read to EOF (briefly).
 */
static void
statsock_drain(struct statsock_client *c)
{
	struct ev_loop	*loop = c->st->loop;

	(void)shutdown(c->io.fd, SHUT_WR);
	c->draining = 1;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->io.fd, EV_READ);
	ev_io_start(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, STATS_DRAIN_TIMEOUT, 0.);
	ev_timer_start(loop, &c->timer);
}

/* Sends what is queued; then drains. */
static void
statsock_flush(struct statsock_client *c)
{
	ssize_t	n;

	while (c->outoff < c->out.len) {
		n = send(c->io.fd, c->out.buf + c->outoff,
		    c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			statsock_client_free(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	statsock_drain(c);
}

/* The answer is in c->out: write it, within the answer deadline. */
static void
statsock_answer(struct statsock_client *c)
{
	struct ev_loop	*loop = c->st->loop;

	c->waiting = 0;
	if (c->out.failed) {
		jsonw_free(&c->out);
		jsonw_raw(&c->out, "{\"ok\":false,\"error\":\"out of "
		    "memory\"}\n");
	}
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->io.fd, EV_WRITE);
	ev_io_start(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, STATS_ANSWER_TIMEOUT, 0.);
	ev_timer_start(loop, &c->timer);
	statsock_flush(c);
}

static void
statsock_error(struct statsock_client *c, const char *why)
{
	jsonw_free(&c->out);
	jsonw_raw(&c->out, "{\"ok\":false,\"error\":");
	jsonw_str(&c->out, why);
	jsonw_raw(&c->out, "}\n");
	statsock_answer(c);
}

/* A job's or reload's callback: 1 when c is still to be answered. */
static int
statsock_claim(struct statsock_client *c)
{
	if (!c->orphan)
		return 1;
	free(c);
	return 0;
}

static void
statsock_sessions_done(struct supervisor *sv, struct worker_job *jobs,
    size_t n, void *arg)
{
	struct statsock_client	*c = arg;
	size_t			 i;

	if (!statsock_claim(c))
		return;
	for (i = 0; i < n; i++)
		if (jobs[i].failed) {
			statsock_error(c, "out of memory");
			return;
		}
	if (strcmp(c->words[0], "sessions") == 0)
		statsdoc_sessions(&c->out, jobs, n);
	else if (strcmp(c->words[0], "stats") == 0)
		statsdoc_stats(&c->out, sv->rt, jobs, n);
	else
		metrics_write(&c->out, sv->rt, jobs, n);
	statsock_answer(c);
}

static void
statsock_kick_done(struct supervisor *sv, struct worker_job *jobs, size_t n,
    void *arg)
{
	struct statsock_client	*c = arg;
	unsigned int		 kicked = 0;
	size_t			 i;

	(void)sv;
	if (!statsock_claim(c))
		return;
	for (i = 0; i < n; i++)
		kicked += jobs[i].kicked;
	if (kicked == 0) {
		jsonw_raw(&c->out, "{\"ok\":false,\"kicked\":0,\"error\":");
		jsonw_str(&c->out, "no session matches");
		jsonw_raw(&c->out, "}\n");
	} else
		jsonw_raw(&c->out, "{\"ok\":true,\"kicked\":%u}\n", kicked);
	log_info("stats socket: kick %s: %u sessions", c->words[1], kicked);
	statsock_answer(c);
}

static void
statsock_reload_done(struct supervisor *sv, const struct reload_report *r,
    void *arg)
{
	struct statsock_client	*c = arg;

	(void)sv;
	if (!statsock_claim(c))
		return;
	statsdoc_reload(&c->out, r);
	statsock_answer(c);
}

/* Hands a job to the workers; the callback answers. */
static void
statsock_broadcast(struct statsock_client *c, enum worker_job_kind kind,
    supervisor_jobs_cb *cb)
{
	struct worker_job	job;

	memset(&job, 0, sizeof(job));
	job.kind = kind;
	job.match = c->nwords > 1 ? c->words[1] : NULL;
	c->waiting = 1;
	if (supervisor_broadcast(c->st->sv, &job, cb, c) == -1) {
		c->waiting = 0;
		statsock_error(c, "out of memory");
	}
}

static void
statsock_backend(struct statsock_client *c)
{
	struct runtime_backend	*rb;
	int			 enable;

	if (c->nwords != 3 || (strcmp(c->words[1], "enable") != 0 &&
	    strcmp(c->words[1], "disable") != 0)) {
		statsock_error(c, "usage: backend enable|disable NAME");
		return;
	}
	if ((rb = runtime_backend_find(c->st->sv->rt, c->words[2])) == NULL) {
		statsock_error(c, "no such backend");
		return;
	}
	enable = strcmp(c->words[1], "enable") == 0;
	atomic_store(&rb->st->enabled, enable);
	log_info("stats socket: backend %s %s", rb->conf->name,
	    enable ? "enabled" : "disabled: existing sessions stay");
	jsonw_raw(&c->out, "{\"ok\":true,\"backend\":");
	jsonw_str(&c->out, rb->conf->name);
	jsonw_raw(&c->out, ",\"state\":\"%s\"}\n",
	    statsdoc_backend_state(rb->st));
	statsock_answer(c);
}

/* The facts are in: decide and answer. */
static void
statsock_acl_decide(struct statsock_client *c)
{
	static const char		*names[] = { "allow", "deny", "unknown" };
	struct runtime_server		*rs;
	const struct conf_server	*srv;
	const struct acl_rule		*rule = NULL;
	struct acl_client		 ac;
	char				 canon[AUTH_MAX_USER * 2 + 2];
	char				 where[4096];
	const char			*user = c->nwords == 5 ? c->words[4] :
					    NULL;
	enum acl_verdict		 v;

	rs = runtime_server_find(c->rt, c->words[2]);
	srv = rs->conf;
	memset(&ac, 0, sizeof(ac));
	(void)acl_client_addr(&ac, (struct sockaddr *)&c->sa);
	if (user != NULL && acl_canon_user(user, srv->username_case ==
	    CONF_USERNAME_LOWER, srv->default_domain, canon,
	    sizeof(canon)) == -1) {
		statsock_error(c, "user name too long");
		return;
	}
	ac.user = user != NULL ? canon : NULL;
	ac.domain = c->domain[0] != '\0' ? c->domain : NULL;
	ac.country = c->country[0] != '\0' ? c->country : NULL;
	ac.asn = c->asn;
	v = rs->acl != NULL ? acl_eval(rs->acl, &ac, &rule) : ACL_VERDICT_ALLOW;
	jsonw_raw(&c->out, "{\"ok\":true,\"server\":");
	jsonw_str(&c->out, srv->name);
	jsonw_raw(&c->out, ",\"client\":");
	jsonw_str(&c->out, c->words[3]);
	jsonw_raw(&c->out, ",\"user\":");
	jsonw_str(&c->out, ac.user);
	jsonw_raw(&c->out, ",\"decision\":\"%s\",\"rule\":", names[v]);
	jsonw_str(&c->out, v == ACL_VERDICT_UNKNOWN ? NULL :
	    statsdoc_rule(rule, where, sizeof(where)));
	jsonw_raw(&c->out, ",\"domain\":");
	jsonw_str(&c->out, ac.domain);
	jsonw_raw(&c->out, ",\"country\":");
	jsonw_str(&c->out, ac.country);
	if (c->asn != 0)
		jsonw_raw(&c->out, ",\"asn\":%u}\n", c->asn);
	else
		jsonw_raw(&c->out, ",\"asn\":null}\n");
	statsock_answer(c);
}

static void
statsock_acl_dns_cb(void *arg, const char *name, const char *why)
{
	struct statsock_client	*c = arg;

	(void)why;
	c->dnsq = NULL;
	c->waiting = 0;
	if (name != NULL)
		snprintf(c->domain, sizeof(c->domain), "%s", name);
	statsock_acl_decide(c);
}

static void
statsock_acl_test(struct statsock_client *c)
{
	struct statsock		*st = c->st;
	struct runtime_server	*rs;
	char			 err[512];
	int			 needs;

	if (c->nwords < 4 || c->nwords > 5 ||
	    strcmp(c->words[1], "test") != 0) {
		statsock_error(c, "usage: acl test SERVER IP [USER]");
		return;
	}
	c->rt = runtime_ref(st->sv->rt);
	if ((rs = runtime_server_find(c->rt, c->words[2])) == NULL) {
		statsock_error(c, "no such server");
		return;
	}
	if (addr_parse_ip(c->words[3], &c->sa) == -1) {
		statsock_error(c, "not an IP address");
		return;
	}
	needs = rs->acl != NULL ? rs->acl_needs : 0;
	if (needs & (ACL_NEEDS_COUNTRY | ACL_NEEDS_ASN))
		(void)geo_lookup(c->rt->geo, (struct sockaddr *)&c->sa,
		    c->country, &c->asn);
	if ((needs & ACL_NEEDS_DOMAIN) == 0) {
		statsock_acl_decide(c);
		return;
	}
	if (st->dns == NULL && (st->dns = dns_new(st->loop, c->rt->conf, err,
	    sizeof(err))) == NULL) {
		statsock_error(c, err);
		return;
	}
	c->waiting = 1;
	/* A cached answer calls back before dns_lookup() returns. */
	c->dnsq = dns_lookup(st->dns, (struct sockaddr *)&c->sa,
	    statsock_acl_dns_cb, c);
}

static void
statsock_reload(struct statsock_client *c)
{
	c->waiting = 1;
	if (reload_start(c->st->sv, statsock_reload_done, c) == -1) {
		c->waiting = 0;
		statsock_error(c, "a reload is already under way");
	}
}

/* Splits the request into words; -1 when there are too many. */
static int
statsock_split(struct statsock_client *c)
{
	char	*p = c->in, *word;

	c->nwords = 0;
	while ((word = strsep(&p, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (c->nwords == STATS_MAX_WORDS)
			return -1;
		c->words[c->nwords++] = word;
	}
	return 0;
}

static void
statsock_dispatch(struct statsock_client *c)
{
	const char	*cmd;

	if (statsock_split(c) == -1 || c->nwords == 0) {
		statsock_error(c, "unknown command");
		return;
	}
	cmd = c->words[0];
	if (c->nwords == 1 && (strcmp(cmd, "sessions") == 0 ||
	    strcmp(cmd, "stats") == 0 || strcmp(cmd, "metrics") == 0))
		statsock_broadcast(c, WORKER_JOB_SESSIONS,
		    statsock_sessions_done);
	else if (c->nwords == 1 && strcmp(cmd, "backends") == 0) {
		statsdoc_backends(&c->out, c->st->sv->rt);
		statsock_answer(c);
	} else if (strcmp(cmd, "backend") == 0)
		statsock_backend(c);
	else if (c->nwords == 2 && strcmp(cmd, "kick") == 0)
		statsock_broadcast(c, WORKER_JOB_KICK, statsock_kick_done);
	else if (c->nwords == 1 && strcmp(cmd, "reload") == 0)
		statsock_reload(c);
	else if (strcmp(cmd, "acl") == 0)
		statsock_acl_test(c);
	else
		statsock_error(c, "unknown command");
}

/* Reads the request line; answers once it is whole. */
static void
statsock_read(struct statsock_client *c)
{
	char	*nl;
	ssize_t	 n;

	n = recv(c->io.fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		statsock_client_free(c);
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if ((nl = memchr(c->in, '\n', c->inlen)) == NULL) {
		if (c->inlen == sizeof(c->in) - 1)
			statsock_error(c, "request too long");
		return;
	}
	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	if (strlen(c->in) != (size_t)(nl - c->in) &&
	    strlen(c->in) + 1 != (size_t)(nl - c->in)) {
		statsock_error(c, "NUL byte in the request");
		return;
	}
	ev_io_stop(c->st->loop, &c->io);
	statsock_dispatch(c);
}

static void
statsock_discard(struct statsock_client *c)
{
	char	buf[4096];
	ssize_t	n;

	while ((n = recv(c->io.fd, buf, sizeof(buf), 0)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		statsock_client_free(c);
}

static void
statsock_client_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct statsock_client	*c = container_of(io, struct statsock_client,
				    io);

	(void)loop;
	if (c->draining)
		statsock_discard(c);
	else if (revents & EV_READ)
		statsock_read(c);
	else if (revents & EV_WRITE)
		statsock_flush(c);
}

static void
statsock_client_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct statsock_client	*c = container_of(t, struct statsock_client,
				    timer);

	(void)loop;
	(void)revents;
	if (c->draining)
		statsock_client_free(c);
	else if (c->out.len == 0 && !c->waiting)
		statsock_error(c, "no request line in time");
	else if (!c->waiting)
		statsock_client_free(c);	/* it does not read its answer */
}

static void
statsock_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct statsock		*st = container_of(io, struct statsock, io);
	struct statsock_client	*c;
	int			 fd;

	(void)revents;
	if (st->nclients >= STATS_MAX_CLIENTS)
		return;		/* they wait in the queue */
	if ((fd = accept4(st->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		/* The client waits in the queue; retrying at once would spin. */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			ev_io_stop(loop, &st->io);
			ev_timer_set(&st->pause, STATS_ACCEPT_PAUSE, 0.);
			ev_timer_start(loop, &st->pause);
		}
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->st = st;
	jsonw_init(&c->out);
	ev_io_init(&c->io, statsock_client_io_cb, fd, EV_READ);
	ev_timer_init(&c->timer, statsock_client_timer_cb,
	    STATS_REQUEST_TIMEOUT, 0.);
	ev_io_start(loop, &c->io);
	ev_timer_start(loop, &c->timer);
	TAILQ_INSERT_TAIL(&st->clients, c, entry);
	if (++st->nclients == STATS_MAX_CLIENTS)
		ev_io_stop(loop, &st->io);
}

static void
statsock_pause_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct statsock	*st = container_of(t, struct statsock, pause);

	(void)revents;
	if (st->nclients < STATS_MAX_CLIENTS)
		ev_io_start(loop, &st->io);
}

void
statsock_start(struct statsock *st, struct ev_loop *loop)
{
	st->loop = loop;
	ev_io_init(&st->io, statsock_accept_cb, st->fd, EV_READ);
	ev_timer_init(&st->pause, statsock_pause_cb, STATS_ACCEPT_PAUSE, 0.);
	ev_io_start(loop, &st->io);
}

/*
 * Closes the client.  One with a job or reload in flight is unlinked
 * and left for that callback to free.
 */
static void
statsock_client_free(struct statsock_client *c)
{
	struct statsock	*st = c->st;

	ev_io_stop(st->loop, &c->io);
	ev_timer_stop(st->loop, &c->timer);
	if (c->io.fd >= 0)
		close(c->io.fd);
	c->io.fd = -1;
	if (c->dnsq != NULL) {
		dns_cancel(c->dnsq);	/* its callback will not come */
		c->dnsq = NULL;
		c->waiting = 0;
	}
	runtime_unref(&c->rt);
	jsonw_free(&c->out);
	TAILQ_REMOVE(&st->clients, c, entry);
	if (st->nclients-- == STATS_MAX_CLIENTS && st->fd >= 0 &&
	    !ev_is_active(&st->pause))
		ev_io_start(st->loop, &st->io);
	if (c->waiting) {
		c->orphan = 1;
		return;
	}
	free(c);
}

void
statsock_close(struct statsock **stp)
{
	struct statsock		*st = *stp;
	struct statsock_client	*c;

	if (st == NULL)
		return;
	while ((c = TAILQ_FIRST(&st->clients)) != NULL)
		statsock_client_free(c);
	if (st->loop != NULL) {
		ev_io_stop(st->loop, &st->io);
		ev_timer_stop(st->loop, &st->pause);
	}
	close(st->fd);
	st->fd = -1;
	(void)unlink(st->path);
	dns_free(&st->dns);
	free(st->path);
	free(st);
	*stp = NULL;
}
