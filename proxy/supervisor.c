/*
 * Signals and worker threads, on the main thread's default loop.
 */
#include <errno.h>
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
#include "runtime.h"
#include "sess.h"
#include "supervisor.h"
#include "worker.h"

struct supervisor {
	struct runtime	*rt;
	struct worker	*workers;
	size_t		 nworkers;
	int		*fds;		/* nworkers x nlisten, before start */
	size_t		 nlisten;
	struct ev_loop	*loop;
	ev_signal	 sigterm, sigint, sighup, sigusr1;
	ev_async	 worker_done;
	ev_timer	 deadline;	/* shutdown_timeout */
	struct health	*health;	/* back-end checks, on this loop */
	int		 stopping;
};

static size_t
supervisor_nlisten(const struct conf *conf)
{
	size_t	i, n = 0;

	for (i = 0; i < conf->nservers; i++)
		n += conf->servers[i].nlisten;
	return n;
}

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

struct supervisor *
supervisor_new(struct runtime *rt, char *err, size_t errlen)
{
	struct supervisor	*sv;
	size_t			 i;

	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		goto nomem;
	sv->rt = rt;
	sv->nworkers = supervisor_nworkers(rt->conf);
	sv->nlisten = supervisor_nlisten(rt->conf);
	sv->workers = calloc(sv->nworkers, sizeof(*sv->workers));
	sv->fds = calloc(sv->nworkers * sv->nlisten, sizeof(*sv->fds));
	if (sv->workers == NULL || sv->fds == NULL)
		goto nomem;
	for (i = 0; i < sv->nworkers * sv->nlisten; i++)
		sv->fds[i] = -1;
	if (supervisor_open(sv, err, errlen) == -1) {
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
supervisor_all_done(const struct supervisor *sv)
{
	size_t	i;

	for (i = 0; i < sv->nworkers; i++)
		if (sv->workers[i].started && !sv->workers[i].done)
			return 0;
	return 1;
}

static void
supervisor_done_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct supervisor	*sv = ev_userdata(loop);

	(void)a;
	(void)revents;
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
	for (i = 0; i < sv->nworkers; i++)
		worker_stop(&sv->workers[i]);
	ev_timer_init(&sv->deadline, supervisor_deadline_cb,
	    sv->rt->conf->shutdown_timeout, 0.);
	ev_timer_start(loop, &sv->deadline);
}

static void
supervisor_hup_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	(void)loop;
	(void)sig;
	(void)revents;
	log_warnx("SIGHUP: reloading is not supported yet; configuration "
	    "unchanged");
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
	size_t		 i;
	int		 failed = 0;

	err[0] = '\0';
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < sv->nworkers && !failed; i++) {
		if (worker_init(&sv->workers[i], (unsigned int)i, sv->rt,
		    sv->fds + i * sv->nlisten, sv->nlisten, err,
		    sizeof(err)) == -1 ||
		    worker_start(&sv->workers[i], sv->loop,
		    &sv->worker_done) == -1)
			failed = 1;
		else
			memset(sv->fds + i * sv->nlisten, -1,
			    sv->nlisten * sizeof(int));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (failed)
		log_error("worker %zu: %s", i - 1, err[0] != '\0' ? err :
		    "cannot start");
	return failed ? -1 : 0;
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
	ev_signal_init(&sv->sigterm, supervisor_stop_cb, SIGTERM);
	ev_signal_init(&sv->sigint, supervisor_stop_cb, SIGINT);
	ev_signal_init(&sv->sighup, supervisor_hup_cb, SIGHUP);
	ev_signal_init(&sv->sigusr1, supervisor_usr1_cb, SIGUSR1);
	ev_signal_start(loop, &sv->sigterm);
	ev_signal_start(loop, &sv->sigint);
	ev_signal_start(loop, &sv->sighup);
	ev_signal_start(loop, &sv->sigusr1);
	if (supervisor_start_workers(sv) == -1) {
		log_error("cannot start the worker threads");
		return 2;
	}
	if ((sv->health = health_start(loop, sv->rt)) == NULL) {
		log_error("cannot start the health checks: out of memory");
		return 2;
	}
	log_info("imapproxyd %s started: %zu workers, %zu listeners each",
	    IMAPPROXY_VERSION, sv->nworkers, sv->nlisten);
	ev_run(loop, 0);
	if (!supervisor_all_done(sv)) {
		/* Threads still hold sessions: no cleanup may race them. */
		process_remove_pidfile(sv->rt->conf->pidfile);
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
	if (sv->workers != NULL && supervisor_all_done(sv))
		for (i = 0; i < sv->nworkers; i++)
			worker_cleanup(&sv->workers[i]);
	for (i = 0; sv->fds != NULL && i < sv->nworkers * sv->nlisten; i++)
		if (sv->fds[i] != -1)
			close(sv->fds[i]);
	free(sv->fds);
	free(sv->workers);
	free(sv);
	*svp = NULL;
}
