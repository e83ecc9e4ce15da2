/*
 * Prometheus metrics.  Counters live for the process, so a reload that
 * keeps a name keeps its series; ACL deny counters belong to the rules
 * of the files in force and restart with them.
 */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "conf.h"
#include "jsonw.h"
#include "limiter.h"
#include "metrics.h"
#include "runtime.h"
#include "sessinfo.h"
#include "stats.h"
#include "statsdoc.h"
#include "worker.h"

static void
metrics_head(struct jsonw *j, const char *name, const char *type,
    const char *help)
{
	jsonw_raw(j, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"} n, with value escaped. */
static void
metrics_one(struct jsonw *j, const char *name, const char *key,
    const char *value, const char *key2, const char *value2,
    unsigned long long n)
{
	jsonw_raw(j, "%s{%s=", name, key);
	jsonw_label(j, value);
	if (key2 != NULL) {
		jsonw_raw(j, ",%s=", key2);
		jsonw_label(j, value2);
	}
	jsonw_raw(j, "} %llu\n", n);
}

static void
metrics_connections(struct jsonw *j, struct runtime *rt)
{
	size_t	i;

	metrics_head(j, "imapproxy_connections_total", "counter",
	    "Client connections: every one accepted, and of those the ones "
	    "refused by the connection limits.");
	for (i = 0; i < rt->nservers; i++) {
		const struct stats_server	*st = rt->servers[i].st;
		const char			*name = rt->servers[i].conf->name;

		metrics_one(j, "imapproxy_connections_total", "server", name,
		    "result", "accepted", STATS_GET(st->accepted));
		metrics_one(j, "imapproxy_connections_total", "server", name,
		    "result", "refused", STATS_GET(st->refused));
	}
	metrics_head(j, "imapproxy_connections_active", "gauge",
	    "Client connections open now.");
	for (i = 0; i < rt->nservers; i++)
		metrics_one(j, "imapproxy_connections_active", "server",
		    rt->servers[i].conf->name, NULL, NULL,
		    STATS_GET(rt->servers[i].st->active));
}

static long
metrics_server_index(struct runtime *rt, const char *name)
{
	size_t	i;

	for (i = 0; i < rt->nservers; i++)
		if (strcmp(rt->servers[i].conf->name, name) == 0)
			return (long)i;
	return -1;
}

/* Index of the back end, nbackends for none, -1 when not in rt. */
static long
metrics_backend_index(struct runtime *rt, const char *name)
{
	size_t	i;

	if (name == NULL)
		return (long)rt->nbackends;
	for (i = 0; i < rt->nbackends; i++)
		if (strcmp(rt->backends[i].conf->name, name) == 0)
			return (long)i;
	return -1;
}

/* Sessions by server and back end (none yet: backend=""). */
static void
metrics_sessions(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	size_t		 nb = rt->nbackends + 1, i, k;
	unsigned long	*count;
	long		 s, b;

	if ((count = calloc(rt->nservers * nb, sizeof(*count))) == NULL) {
		j->failed = 1;
		return;
	}
	for (i = 0; i < njobs; i++)
		for (k = 0; k < jobs[i].sessions.n; k++) {
			s = metrics_server_index(rt, jobs[i].sessions.v[k].server);
			b = metrics_backend_index(rt,
			    jobs[i].sessions.v[k].backend);
			if (s >= 0 && b >= 0)
				count[(size_t)s * nb + (size_t)b]++;
		}
	metrics_head(j, "imapproxy_sessions", "gauge",
	    "Sessions by server and back end (empty: not logged in).");
	for (i = 0; i < rt->nservers; i++)
		for (k = 0; k < nb; k++)
			if (count[i * nb + k] > 0 || k == nb - 1)
				metrics_one(j, "imapproxy_sessions", "server",
				    rt->servers[i].conf->name, "backend",
				    k < rt->nbackends ?
				    rt->backends[k].conf->name : "",
				    count[i * nb + k]);
	free(count);
}

static void
metrics_logins_bytes(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	unsigned long long	in, out;
	size_t			i;

	metrics_head(j, "imapproxy_logins_total", "counter",
	    "Logins by outcome at the back end or the proxy.");
	for (i = 0; i < rt->nservers; i++) {
		const struct stats_server	*st = rt->servers[i].st;
		const char			*name = rt->servers[i].conf->name;

		metrics_one(j, "imapproxy_logins_total", "server", name,
		    "result", "ok", STATS_GET(st->logins_ok));
		metrics_one(j, "imapproxy_logins_total", "server", name,
		    "result", "failed", STATS_GET(st->logins_failed));
	}
	metrics_head(j, "imapproxy_bytes_total", "counter",
	    "Bytes from clients (in) and to them (out), pre-login exchange included.");
	for (i = 0; i < rt->nservers; i++) {
		const struct stats_server	*st = rt->servers[i].st;
		const char			*name = rt->servers[i].conf->name;

		statsdoc_live_bytes(jobs, njobs, name, NULL, &in, &out);
		metrics_one(j, "imapproxy_bytes_total", "server", name,
		    "direction", "in", in + STATS_GET(st->bytes_in));
		metrics_one(j, "imapproxy_bytes_total", "server", name,
		    "direction", "out", out + STATS_GET(st->bytes_out));
	}
	metrics_head(j, "imapproxy_tls_handshake_failures_total", "counter",
	    "Client TLS handshakes that failed.");
	for (i = 0; i < rt->nservers; i++)
		metrics_one(j, "imapproxy_tls_handshake_failures_total",
		    "server", rt->servers[i].conf->name, NULL, NULL,
		    STATS_GET(rt->servers[i].st->tls_failures));
}

static void
metrics_limits(struct jsonw *j, struct runtime *rt)
{
	struct limiter_counts	c;
	size_t			i;

	metrics_head(j, "imapproxy_limit_refusals_total", "counter",
	    "Connections and logins refused by max_connections_per_ip, "
	    "max_connections_per_user and auth_fail_limit.");
	for (i = 0; i < rt->nservers; i++) {
		const char	*name = rt->servers[i].conf->name;

		limiter_counts(rt->servers[i].st->limiter, &c);
		metrics_one(j, "imapproxy_limit_refusals_total", "server", name,
		    "limit", "ip", c.ip_refused);
		metrics_one(j, "imapproxy_limit_refusals_total", "server", name,
		    "limit", "user", c.user_refused);
		metrics_one(j, "imapproxy_limit_refusals_total", "server", name,
		    "limit", "auth_fail", c.auth_blocked);
	}
}

static void
metrics_acl(struct jsonw *j, struct runtime *rt)
{
	char	buf[4096];
	size_t	i, k;

	metrics_head(j, "imapproxy_acl_denies_total", "counter",
	    "Clients denied, by the deciding rule of the ACL in force.");
	for (i = 0; i < rt->nservers; i++) {
		struct runtime_server	*rs = &rt->servers[i];

		if (rs->acl == NULL)
			continue;
		for (k = 0; k < acl_nrules(rs->acl); k++)
			if (STATS_GET(rs->acl_denies[k]) > 0)
				metrics_one(j, "imapproxy_acl_denies_total",
				    "server", rs->conf->name, "rule",
				    statsdoc_rule(acl_rule_at(rs->acl, k), buf,
				    sizeof(buf)), STATS_GET(rs->acl_denies[k]));
		metrics_one(j, "imapproxy_acl_denies_total", "server",
		    rs->conf->name, "rule", "default",
		    STATS_GET(rs->acl_default_denies));
	}
}

static void
metrics_backends(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	unsigned long long	in, out;
	size_t			i;

	metrics_head(j, "imapproxy_backend_up", "gauge",
	    "1 when the health checks find the back end up.");
	for (i = 0; i < rt->nbackends; i++)
		metrics_one(j, "imapproxy_backend_up", "backend",
		    rt->backends[i].conf->name, NULL, NULL,
		    (unsigned long long)STATS_GET(rt->backends[i].st->up));
	metrics_head(j, "imapproxy_backend_enabled", "gauge",
	    "0 when an administrator disabled the back end.");
	for (i = 0; i < rt->nbackends; i++)
		metrics_one(j, "imapproxy_backend_enabled", "backend",
		    rt->backends[i].conf->name, NULL, NULL,
		    (unsigned long long)STATS_GET(rt->backends[i].st->enabled));
	metrics_head(j, "imapproxy_backend_logins_total", "counter",
	    "Logins the back end accepted or refused.");
	for (i = 0; i < rt->nbackends; i++) {
		const struct stats_backend	*st = rt->backends[i].st;

		metrics_one(j, "imapproxy_backend_logins_total", "backend",
		    st->name, "result", "ok", STATS_GET(st->logins_ok));
		metrics_one(j, "imapproxy_backend_logins_total", "backend",
		    st->name, "result", "failed", STATS_GET(st->logins_failed));
	}
	metrics_head(j, "imapproxy_backend_bytes_total", "counter",
	    "Bytes of the back end's sessions, pre-login exchange included.");
	for (i = 0; i < rt->nbackends; i++) {
		const struct stats_backend	*st = rt->backends[i].st;

		statsdoc_live_bytes(jobs, njobs, NULL, st->name, &in, &out);
		metrics_one(j, "imapproxy_backend_bytes_total", "backend",
		    st->name, "direction", "in", in + STATS_GET(st->bytes_in));
		metrics_one(j, "imapproxy_backend_bytes_total", "backend",
		    st->name, "direction", "out",
		    out + STATS_GET(st->bytes_out));
	}
}

void
metrics_write(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	metrics_connections(j, rt);
	metrics_sessions(j, rt, jobs, njobs);
	metrics_logins_bytes(j, rt, jobs, njobs);
	metrics_limits(j, rt);
	metrics_acl(j, rt);
	metrics_backends(j, rt, jobs, njobs);
	metrics_head(j, "imapproxy_reloads_total", "counter",
	    "Reloads by outcome.");
	jsonw_raw(j, "imapproxy_reloads_total{result=\"ok\"} %lu\n"
	    "imapproxy_reloads_total{result=\"failed\"} %lu\n",
	    STATS_GET(stats_global.reloads_ok),
	    STATS_GET(stats_global.reloads_failed));
	metrics_head(j, "imapproxy_start_time_seconds", "gauge",
	    "When the daemon started, in unix seconds.");
	jsonw_raw(j, "imapproxy_start_time_seconds %lld\n",
	    stats_global.started);
}
