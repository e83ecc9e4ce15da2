/*
 * The JSON documents of the stats socket.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "conf.h"
#include "jsonw.h"
#include "reload.h"
#include "runtime.h"
#include "sessinfo.h"
#include "stats.h"
#include "statsdoc.h"
#include "worker.h"

static void
statsdoc_session(struct jsonw *j, const struct sess_info *si)
{
	jsonw_raw(j, "{\"id\":\"%s\",\"user\":", si->id);
	jsonw_str(j, si->user);
	jsonw_raw(j, ",\"client\":");
	jsonw_str(j, si->client);
	jsonw_raw(j, ",\"country\":");
	jsonw_str(j, si->country[0] != '\0' ? si->country : NULL);
	jsonw_raw(j, ",\"server\":");
	jsonw_str(j, si->server);
	jsonw_raw(j, ",\"listener\":");
	jsonw_str(j, si->listener);
	jsonw_raw(j, ",\"backend\":");
	jsonw_str(j, si->backend);
	jsonw_raw(j, ",\"tls\":");
	jsonw_str(j, si->tls);
	jsonw_raw(j, ",\"state\":\"%s\",\"since\":%lld,\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu}", si->state, si->since,
	    (unsigned long long)si->bytes_in,
	    (unsigned long long)si->bytes_out);
}

void
statsdoc_sessions(struct jsonw *j, const struct worker_job *jobs,
    size_t njobs)
{
	size_t	i, k;
	int	first = 1;

	jsonw_raw(j, "{\"ok\":true,\"sessions\":[");
	for (i = 0; i < njobs; i++)
		for (k = 0; k < jobs[i].sessions.n; k++) {
			if (!first)
				jsonw_raw(j, ",\n");
			first = 0;
			statsdoc_session(j, &jobs[i].sessions.v[k]);
		}
	jsonw_raw(j, "]}\n");
}

void
statsdoc_live_bytes(const struct worker_job *jobs, size_t njobs,
    const char *server, const char *backend, unsigned long long *in,
    unsigned long long *out)
{
	const struct sess_info	*si;
	size_t			 i, k;

	*in = *out = 0;
	for (i = 0; i < njobs; i++)
		for (k = 0; k < jobs[i].sessions.n; k++) {
			si = &jobs[i].sessions.v[k];
			if (server != NULL && strcmp(si->server, server) != 0)
				continue;
			if (backend != NULL && (si->backend == NULL ||
			    strcmp(si->backend, backend) != 0))
				continue;
			*in += si->bytes_in;
			*out += si->bytes_out;
		}
}

const char *
statsdoc_rule(const struct acl_rule *rule, char *buf, size_t len)
{
	if (rule == NULL)
		return "default";
	snprintf(buf, len, "%s:%d: %s", acl_rule_file(rule),
	    acl_rule_line(rule), acl_rule_text(rule));
	return buf;
}

const char *
statsdoc_backend_state(const struct stats_backend *st)
{
	if (!STATS_GET(st->enabled))
		return "disabled";
	return STATS_GET(st->up) ? "up" : "down";
}

static void
statsdoc_deny(struct jsonw *j, const char *server, const char *rule,
    unsigned long n, int *first)
{
	if (n == 0)
		return;
	jsonw_raw(j, "%s{\"server\":", *first ? "" : ",");
	jsonw_str(j, server);
	jsonw_raw(j, ",\"rule\":");
	jsonw_str(j, rule);
	jsonw_raw(j, ",\"count\":%lu}", n);
	*first = 0;
}

/* Only rules that denied someone: a big ACL would drown the rest. */
static void
statsdoc_acl_denies(struct jsonw *j, struct runtime *rt)
{
	char	buf[4096];
	size_t	i, k;
	int	first = 1;

	jsonw_raw(j, ",\"acl_denies\":[");
	for (i = 0; i < rt->nservers; i++) {
		struct runtime_server	*rs = &rt->servers[i];

		if (rs->acl == NULL)
			continue;
		for (k = 0; k < acl_nrules(rs->acl); k++)
			statsdoc_deny(j, rs->conf->name, statsdoc_rule(
			    acl_rule_at(rs->acl, k), buf, sizeof(buf)),
			    STATS_GET(rs->acl_denies[k]), &first);
		statsdoc_deny(j, rs->conf->name, "default",
		    STATS_GET(rs->acl_default_denies), &first);
	}
	jsonw_raw(j, "]");
}

static void
statsdoc_counts(struct jsonw *j, unsigned long ok, unsigned long failed,
    unsigned long long in, unsigned long long out)
{
	jsonw_raw(j, "\"logins\":{\"ok\":%lu,\"failed\":%lu},"
	    "\"bytes\":{\"in\":%llu,\"out\":%llu}", ok, failed, in, out);
}

static void
statsdoc_server(struct jsonw *j, const struct worker_job *jobs,
    size_t njobs, const struct runtime_server *rs)
{
	const struct stats_server	*st = rs->st;
	unsigned long long		 in, out;

	statsdoc_live_bytes(jobs, njobs, rs->conf->name, NULL, &in, &out);
	jsonw_raw(j, "{\"name\":");
	jsonw_str(j, rs->conf->name);
	jsonw_raw(j, ",\"connections\":{\"accepted\":%lu,\"active\":%u,"
	    "\"refused\":%lu},\"tls_handshake_failures\":%lu,",
	    STATS_GET(st->accepted), STATS_GET(st->active),
	    STATS_GET(st->refused), STATS_GET(st->tls_failures));
	statsdoc_counts(j, STATS_GET(st->logins_ok),
	    STATS_GET(st->logins_failed), in + STATS_GET(st->bytes_in),
	    out + STATS_GET(st->bytes_out));
	jsonw_raw(j, "}");
}

static void
statsdoc_backend_counts(struct jsonw *j, const struct worker_job *jobs,
    size_t njobs, const struct runtime_backend *rb)
{
	const struct stats_backend	*st = rb->st;
	unsigned long long		 in, out;

	statsdoc_live_bytes(jobs, njobs, NULL, rb->conf->name, &in, &out);
	jsonw_raw(j, "{\"name\":");
	jsonw_str(j, rb->conf->name);
	jsonw_raw(j, ",\"sessions\":%u,", STATS_GET(st->sessions));
	statsdoc_counts(j, STATS_GET(st->logins_ok),
	    STATS_GET(st->logins_failed), in + STATS_GET(st->bytes_in),
	    out + STATS_GET(st->bytes_out));
	jsonw_raw(j, "}");
}

/* Sums of every server of rt. */
static void
statsdoc_totals(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	unsigned long		 acc = 0, ref = 0, ok = 0, failed = 0, tls = 0;
	unsigned long long	 in, out;
	unsigned int		 active = 0;
	size_t			 i;

	statsdoc_live_bytes(jobs, njobs, NULL, NULL, &in, &out);
	for (i = 0; i < rt->nservers; i++) {
		const struct stats_server	*st = rt->servers[i].st;

		acc += STATS_GET(st->accepted);
		ref += STATS_GET(st->refused);
		active += STATS_GET(st->active);
		ok += STATS_GET(st->logins_ok);
		failed += STATS_GET(st->logins_failed);
		tls += STATS_GET(st->tls_failures);
		in += STATS_GET(st->bytes_in);
		out += STATS_GET(st->bytes_out);
	}
	jsonw_raw(j, ",\"connections\":{\"accepted\":%lu,\"active\":%u,"
	    "\"refused\":%lu},\"tls_handshake_failures\":%lu,", acc, active,
	    ref, tls);
	statsdoc_counts(j, ok, failed, in, out);
}

void
statsdoc_stats(struct jsonw *j, struct runtime *rt,
    const struct worker_job *jobs, size_t njobs)
{
	long long	now = (long long)time(NULL);
	size_t		i;

	jsonw_raw(j, "{\"ok\":true,\"started\":%lld,\"uptime\":%lld,"
	    "\"reloads\":{\"ok\":%lu,\"failed\":%lu}", stats_global.started,
	    now - stats_global.started, STATS_GET(stats_global.reloads_ok),
	    STATS_GET(stats_global.reloads_failed));
	statsdoc_totals(j, rt, jobs, njobs);
	statsdoc_acl_denies(j, rt);
	jsonw_raw(j, ",\"servers\":[");
	for (i = 0; i < rt->nservers; i++) {
		jsonw_raw(j, i > 0 ? "," : "");
		statsdoc_server(j, jobs, njobs, &rt->servers[i]);
	}
	jsonw_raw(j, "],\"backends\":[");
	for (i = 0; i < rt->nbackends; i++) {
		jsonw_raw(j, i > 0 ? "," : "");
		statsdoc_backend_counts(j, jobs, njobs, &rt->backends[i]);
	}
	jsonw_raw(j, "]}\n");
}

void
statsdoc_backends(struct jsonw *j, struct runtime *rt)
{
	size_t	i;

	jsonw_raw(j, "{\"ok\":true,\"backends\":[");
	for (i = 0; i < rt->nbackends; i++) {
		const struct runtime_backend	*rb = &rt->backends[i];
		long long			 last;

		last = STATS_GET(rb->st->last_check);
		jsonw_raw(j, "%s{\"name\":", i > 0 ? ",\n" : "");
		jsonw_str(j, rb->conf->name);
		jsonw_raw(j, ",\"address\":");
		jsonw_str(j, rb->conf->addr_name);
		jsonw_raw(j, ",\"pool\":");
		jsonw_str(j, rb->conf->pool);
		jsonw_raw(j, ",\"state\":\"%s\",\"sessions\":%u,"
		    "\"last_check\":", statsdoc_backend_state(rb->st),
		    STATS_GET(rb->st->sessions));
		if (last != 0)
			jsonw_raw(j, "%lld}", last);
		else
			jsonw_raw(j, "null}");
	}
	jsonw_raw(j, "]}\n");
}

/* A newline-separated field as a JSON array, after a comma. */
static void
statsdoc_lines(struct jsonw *j, const char *key, const char *text,
    int comma)
{
	char		 line[CONF_MAX_MSG];
	const char	*p, *nl;
	int		 first = 1;

	jsonw_raw(j, comma ? "," : "");
	jsonw_key(j, key);
	jsonw_raw(j, "[");
	for (p = text; *p != '\0'; p = *nl != '\0' ? nl + 1 : nl) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		jsonw_raw(j, first ? "" : ",");
		jsonw_str(j, line);
		first = 0;
	}
	jsonw_raw(j, "]");
}

void
statsdoc_reload(struct jsonw *j, const struct reload_report *r)
{
	if (r->ok)
		jsonw_raw(j, "{\"ok\":true");
	else
		jsonw_raw(j, "{\"ok\":false,\"error\":\"reload failed: the "
		    "running configuration stays in force\"");
	statsdoc_lines(j, "errors", r->errors, 1);
	statsdoc_lines(j, "warnings", r->warnings, 1);
	if (r->ok) {
		statsdoc_lines(j, "reloaded", r->files, 1);
		jsonw_raw(j, ",\"listeners\":{");
		statsdoc_lines(j, "opened", r->opened, 0);
		statsdoc_lines(j, "closed", r->closed, 1);
		jsonw_raw(j, "}");
	}
	jsonw_raw(j, "}\n");
}
