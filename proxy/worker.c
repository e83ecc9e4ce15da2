/*
 * Worker threads: one libev loop each, with its own listeners and
 * sessions.  Closed sessions are freed by a prepare watcher, once the
 * callbacks that might still hold them have returned and before the
 * loop blocks (so a stopping loop ends as soon as its last one goes).
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "conf.h"
#include "dns.h"
#include "imap.h"
#include "listener.h"
#include "log.h"
#include "runtime.h"
#include "sess.h"
#include "sessinfo.h"
#include "worker.h"

static void	worker_job_cb(struct ev_loop *, ev_async *, int);

static void
worker_reap_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct worker	*w = ev_userdata(loop);
	struct sess	*s;

	(void)p;
	(void)revents;
	while ((s = TAILQ_FIRST(&w->dead)) != NULL) {
		TAILQ_REMOVE(&w->dead, s, entry);
		sess_free(s);
	}
	ev_prepare_stop(loop, &w->reap);
}

#if defined(__SANITIZE_ADDRESS__)	/* gcc */
#define WORKER_ASAN	1
#elif defined(__has_feature)		/* clang */
#if __has_feature(address_sanitizer)
#define WORKER_ASAN	1
#endif
#endif

static void
worker_trim_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	ev_timer_stop(loop, t);
#if !defined(WORKER_ASAN)
	/*
	 * Under AddressSanitizer malloc() is the sanitizer's, and glibc's
	 * first malloc_trim() would set up glibc's own unused arena, racing
	 * with another worker's: the sanitized daemon died of it.
	 */
	(void)malloc_trim(0);
#endif
}

void
worker_heap_released(struct worker *w)
{
	if (!w->stopping)
		ev_timer_again(w->loop, &w->trim);
}

static void
worker_stop_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct worker	*w = ev_userdata(loop);
	struct sess	*s, *next;
	size_t		 i;

	(void)a;
	(void)revents;
	w->stopping = 1;
	ev_async_stop(loop, &w->stop_async);
	ev_timer_stop(loop, &w->trim);
	for (i = 0; i < w->nlisteners; i++)
		listener_close(&w->listeners[i]);
	for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		sess_shutdown(s);
	}
	/* Sessions waiting on DNS are gone; its watchers must not hold the loop. */
	dns_free(&w->dns);
}

/* Starts listeners[k] on fds[k] for the k-th listen entry of w->rt. */
static size_t
worker_listen(struct worker *w, struct listener *listeners, const int *fds,
    size_t nfds)
{
	const struct conf	*conf = w->rt->conf;
	size_t			 i, j, k = 0;

	for (i = 0; i < conf->nservers; i++)
		for (j = 0; j < conf->servers[i].nlisten && k < nfds; j++, k++)
			listener_start(&listeners[k], w, &w->rt->servers[i],
			    &conf->servers[i].listen[j], fds[k]);
	return k;
}

/* Copies out every session; the main thread formats them. */
static void
worker_job_sessions(struct worker *w, struct worker_job *job)
{
	struct sess_infos	*si = &job->sessions;
	struct sess		*s;

	if (w->nsessions == 0)
		return;
	if ((si->v = malloc(w->nsessions * sizeof(*si->v))) == NULL) {
		job->failed = 1;
		return;
	}
	TAILQ_FOREACH(s, &w->sessions, entry)
		if (sess_infos_add(si, s) == -1) {
			job->failed = 1;
			break;
		}
	sess_infos_finish(si);
}

static void
worker_job_kick(struct worker *w, struct worker_job *job)
{
	struct sess	*s, *next;

	for (s = TAILQ_FIRST(&w->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == SESS_CLOSING || !sess_info_matches(s,
		    job->match))
			continue;
		job->kicked++;
		sess_bye(s, "Session terminated by administrator",
		    "kicked by administrator");
	}
}

/*
 * Takes the new runtime and listeners.  The old listening sockets stay
 * open: the main thread closes those the new configuration dropped.
 * Sessions keep the runtime they were accepted under.
 */
static void
worker_job_reload(struct worker *w, struct worker_job *job)
{
	char	err[512];
	size_t	i;

	for (i = 0; i < w->nlisteners; i++)
		listener_stop(&w->listeners[i]);
	free(w->listeners);
	runtime_unref(&w->rt);
	w->rt = job->rt;
	job->rt = NULL;
	w->listeners = job->listeners;
	job->listeners = NULL;
	w->nlisteners = worker_listen(w, w->listeners, job->fds, job->nfds);
	if ((w->rt->needs & ACL_NEEDS_DOMAIN) && w->dns == NULL &&
	    (w->dns = dns_new(w->loop, w->rt->conf, err, sizeof(err))) == NULL)
		log_error("worker %u: reverse DNS unavailable: %s", w->id, err);
}

static void
worker_job_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	static const char	*const names[] = { "sessions", "kick", "reload" };
	struct worker		*w = ev_userdata(loop);
	struct worker_job	*job;
	ev_tstamp		 t0 = ev_time();
	struct timespec		 c0, c1;

	(void)a;
	(void)revents;
	if ((job = atomic_exchange(&w->job, NULL)) == NULL)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	switch (job->kind) {
	case WORKER_JOB_SESSIONS:
		worker_job_sessions(w, job);
		break;
	case WORKER_JOB_KICK:
		worker_job_kick(w, job);
		break;
	case WORKER_JOB_RELOAD:
		worker_job_reload(w, job);
		break;
	}
	/* How long relaying waited for the main thread's job. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	log_debug("worker %u: %s job: %u sessions, %.3f ms (%.3f ms CPU)",
	    w->id, names[job->kind], w->nsessions, (ev_time() - t0) * 1e3,
	    ((double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) /
	    1e9) * 1e3);
	atomic_store(&job->done, 1);
	ev_async_send(w->main_loop, w->job_done_async);
}

void
worker_post(struct worker *w, struct worker_job *job)
{
	atomic_store(&job->done, 0);
	atomic_store(&w->job, job);
	ev_async_send(w->loop, &w->job_async);
}

int
worker_init(struct worker *w, unsigned int id, struct runtime *rt,
    const int *fds, size_t nfds, char *err, size_t errlen)
{
	const struct conf	*conf = rt->conf;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->rt = runtime_ref(rt);
	TAILQ_INIT(&w->sessions);
	TAILQ_INIT(&w->dead);
	if ((w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK)) == NULL ||
	    (w->cmd = malloc(sizeof(*w->cmd))) == NULL ||
	    (w->listeners = calloc(nfds, sizeof(*w->listeners))) == NULL) {
		worker_cleanup(w);
		return -1;
	}
	ev_set_userdata(w->loop, w);
	ev_async_init(&w->stop_async, worker_stop_cb);
	ev_async_start(w->loop, &w->stop_async);
	/* Jobs may come at any time, but must not keep a stopping loop up. */
	ev_async_init(&w->job_async, worker_job_cb);
	ev_async_start(w->loop, &w->job_async);
	ev_unref(w->loop);
	ev_prepare_init(&w->reap, worker_reap_cb);
	ev_init(&w->trim, worker_trim_cb);
	w->trim.repeat = WORKER_TRIM_QUIET;
	if ((rt->needs & ACL_NEEDS_DOMAIN) && (w->dns = dns_new(w->loop,
	    conf, err, errlen)) == NULL) {
		worker_cleanup(w);
		return -1;
	}
	w->nlisteners = worker_listen(w, w->listeners, fds, nfds);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	ev_run(w->loop, 0);
	atomic_store(&w->done, 1);
	ev_async_send(w->main_loop, w->done_async);
	return NULL;
}

int
worker_start(struct worker *w, struct ev_loop *main_loop,
    ev_async *done_async, ev_async *job_done_async)
{
	w->main_loop = main_loop;
	w->done_async = done_async;
	w->job_done_async = job_done_async;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

void
worker_stop(struct worker *w)
{
	ev_async_send(w->loop, &w->stop_async);
}

void
worker_cleanup(struct worker *w)
{
	size_t	i;

	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
	for (i = 0; i < w->nlisteners; i++)
		listener_close(&w->listeners[i]);
	free(w->listeners);
	w->listeners = NULL;
	free(w->cmd);
	w->cmd = NULL;
	relay_pool_free(&w->pool);
	dns_free(&w->dns);
	if (w->loop != NULL) {
		ev_ref(w->loop);
		ev_async_stop(w->loop, &w->job_async);
		ev_loop_destroy(w->loop);
	}
	w->loop = NULL;
	runtime_unref(&w->rt);
}

void
worker_add_sess(struct worker *w, struct sess *s)
{
	TAILQ_INSERT_TAIL(&w->sessions, s, entry);
	w->nsessions++;
}

void
worker_remove_sess(struct worker *w, struct sess *s)
{
	TAILQ_REMOVE(&w->sessions, s, entry);
	w->nsessions--;
	TAILQ_INSERT_TAIL(&w->dead, s, entry);
	if (!ev_is_active(&w->reap))
		ev_prepare_start(w->loop, &w->reap);
}
