/*
 * Signals, worker threads and the jobs handed to them, on the main
 * thread's default loop.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "bounds.h"
#include "conf.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "process.h"
#include "reload.h"
#include "runtime.h"
#include "sess.h"
#include "sessinfo.h"
#include "statsock.h"
#include "supervisor.h"
#include "tls.h"
#include "worker.h"

/* One job for every worker, and who wants to know when all are done. */
struct supervisor_bcast {
	struct supervisor_bcast	*next;
	struct worker_job	*jobs;
	supervisor_jobs_cb	*cb;
	void			*arg;
};

static void	supervisor_post_head(struct supervisor *);
static void	supervisor_job_clear(struct worker_job *);
static void	supervisor_bcast_free(struct supervisor *,
		    struct supervisor_bcast *);

static unsigned int
supervisor_nworkers(const struct conf *conf)
{
	long	n = conf->workers;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > WORKER_MAX ? WORKER_MAX : (unsigned int)n;
}

/* Opens every worker's sockets; -1 with a message on the first failure. */
static int
supervisor_open(struct supervisor *sv, char *err, size_t errlen)
{
	const struct conf	*conf = sv->rt->conf;
	size_t			 w, i, j, k;

	for (i = 0; i < conf->nservers; i++)
		for (j = 0; j < conf->servers[i].nlisten; j++)
			if (listener_probe(&conf->servers[i].listen[j], err,
			    errlen) == -1)
				return -1;
	for (w = 0, k = 0; w < sv->nworkers; w++)
		for (i = 0; i < conf->nservers; i++)
			for (j = 0; j < conf->servers[i].nlisten; j++, k++) {
				sv->fds[k] = listener_socket(
				    &conf->servers[i].listen[j], err, errlen);
				if (sv->fds[k] == -1)
					return -1;
			}
	return 0;
}

/* The configuration's path as it will still work after chdir("/"). */
static char *
supervisor_abs_path(const struct conf *conf, const char *path)
{
	char	*copy, *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	if ((copy = strdup(path)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", conf->dir, basename(copy)) == -1)
		out = NULL;
	free(copy);
	return out;
}

struct supervisor *
supervisor_new(struct runtime *rt, const char *conf_path, char *err,
    size_t errlen)
{
	struct supervisor	*sv;
	size_t			 i;

	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		goto nomem;
	sv->rt = runtime_ref(rt);
	sv->nworkers = supervisor_nworkers(rt->conf);
	sv->nlisten = conf_listen_count(rt->conf);
	sv->workers = calloc(sv->nworkers, sizeof(*sv->workers));
	sv->fds = calloc(sv->nworkers * sv->nlisten, sizeof(*sv->fds));
	sv->conf_path = supervisor_abs_path(rt->conf, conf_path);
	if (sv->workers == NULL || sv->fds == NULL || sv->conf_path == NULL)
		goto nomem;
	if (rt->conf->pidfile != NULL &&
	    (sv->pidfile = strdup(rt->conf->pidfile)) == NULL)
		goto nomem;
	for (i = 0; i < sv->nworkers * sv->nlisten; i++)
		sv->fds[i] = -1;
	if (supervisor_open(sv, err, errlen) == -1 ||
	    (rt->conf->stats_socket != NULL &&
	    (sv->stats = statsock_open(sv, rt->conf, err, errlen)) == NULL)) {
		supervisor_free(&sv);
		return NULL;
	}
	return sv;
nomem:
	snprintf(err, errlen, "out of memory");
	supervisor_free(&sv);
	return NULL;
}

static int
supervisor_worker_ended(const struct worker *w)
{
	return !w->started || atomic_load(&w->done);
}

static int
supervisor_all_done(const struct supervisor *sv)
{
	size_t	i;

	for (i = 0; i < sv->nworkers; i++)
		if (!supervisor_worker_ended(&sv->workers[i]))
			return 0;
	return 1;
}

/* Frees what a job still holds once its callback has seen it. */
static void
supervisor_job_clear(struct worker_job *job)
{
	sess_infos_clear(&job->sessions);
	free(job->listeners);
	job->listeners = NULL;
	runtime_unref(&job->rt);
}

/* Finishes the broadcast at the head if every worker is through. */
static void
supervisor_check_jobs(struct supervisor *sv)
{
	struct supervisor_bcast	*b = sv->bcasts;
	size_t			 i;

	if (b == NULL)
		return;
	for (i = 0; i < sv->nworkers; i++)
		if (!atomic_load(&b->jobs[i].done) &&
		    !supervisor_worker_ended(&sv->workers[i]))
			return;
	sv->bcasts = b->next;
	b->cb(sv, b->jobs, sv->nworkers, b->arg);
	supervisor_bcast_free(sv, b);
	supervisor_post_head(sv);
}

static void
supervisor_post_head(struct supervisor *sv)
{
	struct supervisor_bcast	*b = sv->bcasts;
	size_t			 i;

	if (b == NULL)
		return;
	for (i = 0; i < sv->nworkers; i++)
		if (!supervisor_worker_ended(&sv->workers[i]))
			worker_post(&sv->workers[i], &b->jobs[i]);
	/* Ended workers answer nothing: maybe we are done already. */
	supervisor_check_jobs(sv);
}

static void
supervisor_bcast_free(struct supervisor *sv, struct supervisor_bcast *b)
{
	size_t	i;

	for (i = 0; i < sv->nworkers; i++)
		supervisor_job_clear(&b->jobs[i]);
	free(b->jobs);
	free(b);
}

/* Worker i's part of job: a reload's fds are per worker. */
static int
supervisor_job_copy(struct worker_job *dst, const struct worker_job *job,
    size_t i)
{
	dst->kind = job->kind;
	dst->match = job->match;
	if (job->kind != WORKER_JOB_RELOAD)
		return 0;
	dst->nfds = job->nfds;
	dst->fds = job->fds + i * job->nfds;
	dst->rt = runtime_ref(job->rt);
	if (job->nfds > 0 && (dst->listeners = calloc(job->nfds,
	    sizeof(*dst->listeners))) == NULL)
		return -1;
	return 0;
}

int
supervisor_broadcast(struct supervisor *sv, const struct worker_job *job,
    supervisor_jobs_cb *cb, void *arg)
{
	struct supervisor_bcast	*b, **tail;
	size_t			 i;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->jobs = calloc(sv->nworkers, sizeof(*b->jobs))) == NULL) {
		free(b);
		return -1;
	}
	for (i = 0; i < sv->nworkers; i++)
		if (supervisor_job_copy(&b->jobs[i], job, i) == -1) {
			supervisor_bcast_free(sv, b);
			return -1;
		}
	b->cb = cb;
	b->arg = arg;
	for (tail = &sv->bcasts; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = b;
	if (sv->bcasts == b)
		supervisor_post_head(sv);
	return 0;
}

static void
supervisor_job_done_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)a;
	(void)revents;
	supervisor_check_jobs(ev_userdata(loop));
}

static void
supervisor_done_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct supervisor	*sv = ev_userdata(loop);

	(void)a;
	(void)revents;
	supervisor_check_jobs(sv);
	if (supervisor_all_done(sv))
		ev_break(loop, EVBREAK_ALL);
}

static void
supervisor_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	log_warnx("shutdown_timeout expired with %u sessions open; exiting",
	    sess_count());
	ev_break(loop, EVBREAK_ALL);
}

static void
supervisor_stop_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct supervisor	*sv = ev_userdata(loop);
	size_t			 i;

	(void)revents;
	if (sv->stopping)
		return;
	sv->stopping = 1;
	log_info("signal %d: shutting down, %u sessions open", sig->signum,
	    sess_count());
	health_stop(&sv->health);
	statsock_close(&sv->stats);
	/* The workers close their listening sockets themselves. */
	for (i = 0; i < sv->nworkers * sv->nlisten; i++)
		sv->fds[i] = -1;
	for (i = 0; i < sv->nworkers; i++)
		worker_stop(&sv->workers[i]);
	ev_timer_init(&sv->deadline, supervisor_deadline_cb,
	    sv->rt->conf->shutdown_timeout, 0.);
	ev_timer_start(loop, &sv->deadline);
}

static void
supervisor_hup_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	(void)sig;
	(void)revents;
	log_info("SIGHUP: reloading %s", ((struct supervisor *)
	    ev_userdata(loop))->conf_path);
	if (reload_start(ev_userdata(loop), NULL, NULL) == -1)
		log_warnx("SIGHUP: a reload is already under way");
}

static void
supervisor_usr1_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	(void)loop;
	(void)sig;
	(void)revents;
	if (log_reopen() == -1)
		log_warn("SIGUSR1: cannot reopen the log");
}

/* Starts the workers with the signals blocked, so the main thread gets them. */
static int
supervisor_start_workers(struct supervisor *sv)
{
	sigset_t	all, old;
	char		 err[512];
	size_t		 i, k;
	int		 failed = 0;

	err[0] = '\0';
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < sv->nworkers && !failed; i++) {
		if (worker_init(&sv->workers[i], (unsigned int)i, sv->rt,
		    sv->fds + i * sv->nlisten, sv->nlisten, err,
		    sizeof(err)) == -1 ||
		    worker_start(&sv->workers[i], sv->loop,
		    &sv->worker_done, &sv->job_done) == -1)
			failed = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Listeners started on fds own them now; cleanup closes those. */
	for (k = 0; failed && k < sv->nworkers; k++)
		if (sv->workers[k].nlisteners > 0)
			memset(sv->fds + k * sv->nlisten, -1,
			    sv->nlisten * sizeof(int));
	if (failed)
		log_error("worker %zu: %s", i - 1, err[0] != '\0' ? err :
		    "cannot start");
	sv->started = !failed;
	return failed ? -1 : 0;
}

static void
supervisor_watch_signals(struct supervisor *sv)
{
	struct ev_loop	*loop = sv->loop;

	ev_signal_init(&sv->sigterm, supervisor_stop_cb, SIGTERM);
	ev_signal_init(&sv->sigint, supervisor_stop_cb, SIGINT);
	ev_signal_init(&sv->sighup, supervisor_hup_cb, SIGHUP);
	ev_signal_init(&sv->sigusr1, supervisor_usr1_cb, SIGUSR1);
	ev_signal_start(loop, &sv->sigterm);
	ev_signal_start(loop, &sv->sigint);
	ev_signal_start(loop, &sv->sighup);
	ev_signal_start(loop, &sv->sigusr1);
}

int
supervisor_run(struct supervisor *sv)
{
	struct ev_loop	*loop;

	signal(SIGPIPE, SIG_IGN);
	if ((loop = sv->loop = ev_default_loop(EVFLAG_AUTO)) == NULL) {
		log_error("cannot start the event loop");
		return 2;
	}
	ev_set_userdata(loop, sv);
	ev_async_init(&sv->worker_done, supervisor_done_cb);
	ev_async_start(loop, &sv->worker_done);
	ev_async_init(&sv->job_done, supervisor_job_done_cb);
	ev_async_start(loop, &sv->job_done);
	supervisor_watch_signals(sv);
	if (supervisor_start_workers(sv) == -1) {
		log_error("cannot start the worker threads");
		return 2;
	}
	if ((sv->health = health_start(loop, sv->rt)) == NULL) {
		log_error("cannot start the health checks: out of memory");
		return 2;
	}
	if (sv->stats != NULL)
		statsock_start(sv->stats, loop);
	log_info("imapproxyd %s started: %zu workers, %zu listeners each, "
	    "kernel TLS %s", IMAPPROXY_VERSION, sv->nworkers, sv->nlisten,
	    tls_kernel_offers_ktls() ? "offered" :
	    "not offered (records done by OpenSSL)");
	ev_run(loop, 0);
	if (!supervisor_all_done(sv)) {
		/* Threads still hold sessions: no cleanup may race them. */
		process_remove_pidfile(sv->pidfile);
		_exit(0);
	}
	log_info("imapproxyd stopped");
	return 0;
}

void
supervisor_free(struct supervisor **svp)
{
	struct supervisor	*sv = *svp;
	size_t			 i;

	if (sv == NULL)
		return;
	health_stop(&sv->health);
	statsock_close(&sv->stats);
	/* Workers still running (one failed to start): stop, then join. */
	for (i = 0; sv->workers != NULL && !sv->stopping &&
	    i < sv->nworkers; i++)
		if (!supervisor_worker_ended(&sv->workers[i]))
			worker_stop(&sv->workers[i]);
	for (i = 0; sv->workers != NULL && i < sv->nworkers; i++)
		worker_cleanup(&sv->workers[i]);
	/* Workers that ran closed their own; these never reached one. */
	for (i = 0; !sv->started && sv->fds != NULL &&
	    i < sv->nworkers * sv->nlisten; i++)
		if (sv->fds[i] != -1)
			close(sv->fds[i]);
	free(sv->fds);
	free(sv->workers);
	free(sv->conf_path);
	free(sv->pidfile);
	runtime_unref(&sv->rt);
	free(sv);
	*svp = NULL;
}
