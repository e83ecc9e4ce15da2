/*
 * Live reload: load and check everything, hand listening sockets over,
 * then switch the workers, health checks and the main thread's runtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "errbuf.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "reload.h"
#include "runtime.h"
#include "stats.h"
#include "supervisor.h"
#include "worker.h"

/* A reload between loading and the workers' answer. */
struct reload {
	struct supervisor	*sv;
	struct runtime		*rt;		/* the new one */
	int			*fds;		/* nworkers x nlisten, new */
	size_t			 nlisten;
	struct reload_report	*report;
	reload_done_cb		*cb;
	void			*arg;
};

/*
 * Appends one line to a report field, cut with a last "... more
 * errors" line when the field is full.
 */
#define REPORT_ADD(r, field, ...) \
	errbuf_appendf((r)->field, sizeof((r)->field), __VA_ARGS__)

static int
reload_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
reload_same_dns_servers(const struct conf *old, const struct conf *new)
{
	size_t	i;

	if (old->ndns_servers != new->ndns_servers)
		return 0;
	for (i = 0; i < new->ndns_servers; i++)
		if (strcmp(old->dns_servers[i], new->dns_servers[i]) != 0)
			return 0;
	return 1;
}

/* Keys read once at start: a change is reported, not applied. */
static void
reload_check_fixed(const struct conf *old, const struct conf *new,
    struct reload_report *r)
{
	static const char	*const fmt = "%s: [global] %s: changed; "
	    "takes effect after a restart";
	int			 log_same;

	log_same = old->log_dest == new->log_dest &&
	    old->log_dest_set == new->log_dest_set &&
	    reload_same_str(old->log_file, new->log_file) &&
	    reload_same_str(old->log_facility, new->log_facility);
	if (old->workers != new->workers)
		REPORT_ADD(r, warnings, fmt, new->path, "workers");
	if (!reload_same_str(old->user, new->user))
		REPORT_ADD(r, warnings, fmt, new->path, "user");
	if (!reload_same_str(old->group, new->group))
		REPORT_ADD(r, warnings, fmt, new->path, "group");
	if (!reload_same_str(old->pidfile, new->pidfile))
		REPORT_ADD(r, warnings, fmt, new->path, "pidfile");
	if (!reload_same_str(old->stats_socket, new->stats_socket) ||
	    old->stats_socket_mode != new->stats_socket_mode ||
	    !reload_same_str(old->stats_socket_group, new->stats_socket_group))
		REPORT_ADD(r, warnings, fmt, new->path, "stats_socket");
	if (!log_same)
		REPORT_ADD(r, warnings, fmt, new->path, "log");
	if (!reload_same_dns_servers(old, new))
		REPORT_ADD(r, warnings, fmt, new->path, "dns_servers");
	if (old->dns_timeout != new->dns_timeout)
		REPORT_ADD(r, warnings, fmt, new->path, "dns_timeout");
}

/* Lists the files a reload read, for the caller. */
static void
reload_list_files(const struct conf *conf, struct reload_report *r)
{
	size_t	i, j;

	REPORT_ADD(r, files, "%s", conf->path);
	for (i = 0; i < conf->ngeoip_db; i++)
		REPORT_ADD(r, files, "%s", conf->geoip_db[i]);
	for (i = 0; i < conf->nservers; i++) {
		const struct conf_server	*srv = &conf->servers[i];

		if (srv->acl != NULL)
			REPORT_ADD(r, files, "%s", srv->acl);
		if (srv->routes != NULL)
			REPORT_ADD(r, files, "%s", srv->routes);
		for (j = 0; j < srv->ncerts; j++)
			REPORT_ADD(r, files, "%s", srv->certs[j].cert);
	}
}

static int
reload_same_addr(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* The old entry with l's address, or -1. */
static long
reload_find_old(const struct conf *old, size_t nold,
    const struct conf_listen *l)
{
	size_t	k;

	for (k = 0; k < nold; k++)
		if (reload_same_addr(conf_listen_at(old, k), l))
			return (long)k;
	return -1;
}

/* Opens one socket per worker for a new address; -1 with an error. */
static int
reload_open(struct reload *rl, size_t k, const struct conf_listen *l)
{
	struct supervisor	*sv = rl->sv;
	char			 err[512];
	size_t			 w;

	if (listener_probe(l, err, sizeof(err)) == -1)
		goto fail;
	for (w = 0; w < sv->nworkers; w++)
		if ((rl->fds[w * rl->nlisten + k] = listener_socket(l, err,
		    sizeof(err))) == -1)
			goto fail;
	REPORT_ADD(rl->report, opened, "%s", l->name);
	return 0;
fail:
	REPORT_ADD(rl->report, errors, "%s:%d: [server] listen: %s",
	    rl->rt->conf->path, l->line, err);
	return -1;
}

/*
 * Fills rl->fds: the old socket where an address stays, a new one
 * where it is new.  Returns -1 (having closed only new sockets) when
 * one cannot be opened.
 */
static int
reload_listeners(struct reload *rl)
{
	struct supervisor	*sv = rl->sv;
	const struct conf	*old = sv->rt->conf;
	const struct conf_listen *l;
	size_t			 k, w, n;
	long			 o;

	rl->nlisten = conf_listen_count(rl->rt->conf);
	n = sv->nworkers * rl->nlisten;
	if ((rl->fds = malloc((n > 0 ? n : 1) * sizeof(int))) == NULL) {
		REPORT_ADD(rl->report, errors, "out of memory");
		return -1;
	}
	for (k = 0; k < n; k++)
		rl->fds[k] = -1;
	for (k = 0; k < rl->nlisten; k++) {
		l = conf_listen_at(rl->rt->conf, k);
		if ((o = reload_find_old(old, sv->nlisten, l)) == -1) {
			if (reload_open(rl, k, l) == -1)
				return -1;
			continue;
		}
		for (w = 0; w < sv->nworkers; w++)
			rl->fds[w * rl->nlisten + k] =
			    sv->fds[w * sv->nlisten + (size_t)o];
	}
	return 0;
}

/* Closes the sockets of rl->fds that are not in the running table. */
static void
reload_close_new(struct reload *rl)
{
	struct supervisor	*sv = rl->sv;
	size_t			 i, j;

	for (i = 0; rl->fds != NULL && i < sv->nworkers * rl->nlisten; i++) {
		if (rl->fds[i] == -1)
			continue;
		for (j = 0; j < sv->nworkers * sv->nlisten; j++)
			if (sv->fds[j] == rl->fds[i])
				break;
		if (j == sv->nworkers * sv->nlisten)
			close(rl->fds[i]);
	}
}

/* Closes the running sockets the new table dropped, and reports them. */
static void
reload_close_old(struct reload *rl)
{
	struct supervisor	*sv = rl->sv;
	const struct conf	*old = sv->rt->conf;
	size_t			 i, j, n = sv->nworkers * rl->nlisten;

	for (i = 0; i < sv->nworkers * sv->nlisten; i++) {
		if (sv->fds[i] == -1)
			continue;
		for (j = 0; j < n; j++)
			if (rl->fds[j] == sv->fds[i])
				break;
		if (j < n)
			continue;
		if (i < sv->nlisten)
			REPORT_ADD(rl->report, closed, "%s",
			    conf_listen_at(old, i)->name);
		close(sv->fds[i]);
	}
}

static void
reload_finish(struct reload *rl)
{
	struct supervisor	*sv = rl->sv;

	if (rl->report->ok)
		STATS_ADD(stats_global.reloads_ok, 1);
	else
		STATS_ADD(stats_global.reloads_failed, 1);
	if (rl->cb != NULL)
		rl->cb(sv, rl->report, rl->arg);
	sv->reloading = 0;
	runtime_unref(&rl->rt);
	free(rl->fds);
	free(rl->report);
	free(rl);
}

/* Logs each line of a report field. */
static void
reload_log_lines(const char *text, int warn)
{
	const char	*p, *nl;

	for (p = text; *p != '\0'; p = *nl != '\0' ? nl + 1 : nl) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if (warn)
			log_warnx("reload: %.*s", (int)(nl - p), p);
		else
			log_error("reload: %.*s", (int)(nl - p), p);
	}
}

static void
reload_fail(struct reload *rl)
{
	reload_log_lines(rl->report->errors, 0);
	log_error("reload failed: the running configuration stays in force");
	reload_close_new(rl);
	rl->report->ok = 0;
	reload_finish(rl);
}

/* Every worker has the new runtime: the main thread follows. */
static void
reload_switched(struct supervisor *sv, struct worker_job *jobs, size_t n,
    void *arg)
{
	struct reload	*rl = arg;

	(void)jobs;
	(void)n;
	reload_close_old(rl);
	free(sv->fds);
	sv->fds = rl->fds;
	rl->fds = NULL;
	sv->nlisten = rl->nlisten;
	health_stop(&sv->health);
	runtime_unref(&sv->rt);
	sv->rt = runtime_ref(rl->rt);
	log_set_level(sv->rt->conf->log_level);
	if ((sv->health = health_start(sv->loop, sv->rt)) == NULL)
		log_error("reload: cannot restart the health checks: out of "
		    "memory");
	reload_log_lines(rl->report->warnings, 1);
	log_info("reloaded %s", sv->conf_path);
	rl->report->ok = 1;
	reload_finish(rl);
}

/* Loads the configuration and everything it names; -1 on a mistake. */
static int
reload_load(struct reload *rl)
{
	struct reload_report	*r = rl->report;
	struct conf		*conf;

	if ((conf = conf_load(rl->sv->conf_path, r->errors,
	    sizeof(r->errors))) == NULL)
		return -1;
	if ((rl->rt = runtime_new(conf, r->errors, sizeof(r->errors))) ==
	    NULL)
		return -1;
	reload_check_fixed(rl->sv->rt->conf, rl->rt->conf, r);
	reload_list_files(rl->rt->conf, r);
	return 0;
}

int
reload_start(struct supervisor *sv, reload_done_cb *cb, void *arg)
{
	struct worker_job	 job;
	struct reload		*rl;

	if (sv->reloading || sv->stopping)
		return -1;
	if ((rl = calloc(1, sizeof(*rl))) == NULL ||
	    (rl->report = calloc(1, sizeof(*rl->report))) == NULL) {
		free(rl);
		log_error("reload: out of memory");
		return -1;
	}
	sv->reloading = 1;
	rl->sv = sv;
	rl->cb = cb;
	rl->arg = arg;
	if (reload_load(rl) == -1 || reload_listeners(rl) == -1) {
		reload_fail(rl);
		return 0;
	}
	memset(&job, 0, sizeof(job));
	job.kind = WORKER_JOB_RELOAD;
	job.rt = rl->rt;
	job.fds = rl->fds;
	job.nfds = rl->nlisten;
	if (supervisor_broadcast(sv, &job, reload_switched, rl) == -1) {
		REPORT_ADD(rl->report, errors, "out of memory");
		reload_fail(rl);
	}
	return 0;
}
