/*
 * A worker thread: its own libev loop, its own SO_REUSEPORT listening
 * sockets, and the sessions they accept.  Nothing moves between
 * workers; the main thread talks to one only through ev_async.
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>

#include <ev.h>

#include "relay.h"
#include "sessinfo.h"

struct runtime;
struct listener;
struct imap_cmd;
struct sess;
struct dns;

/*
 * Work the main thread hands to every worker at once (the stats socket
 * and reloads): each worker does it in its own loop, between two
 * callbacks, so it never races its sessions.
 */
enum worker_job_kind {
	WORKER_JOB_SESSIONS,	/* copy out every session */
	WORKER_JOB_KICK,	/* BYE the sessions match names */
	WORKER_JOB_RELOAD	/* new runtime and listeners */
};


struct worker_job {
	enum worker_job_kind	 kind;
	const char		*match;		/* KICK */
	struct runtime		*rt;		/* RELOAD: a reference for us */
	struct listener		*listeners;	/* RELOAD: nfds, zeroed, ours */
	const int		*fds;		/* RELOAD: one per listen entry */
	size_t			 nfds;
	struct sess_infos	 sessions;	/* SESSIONS */
	unsigned int		 kicked;
	int			 failed;	/* out of memory */
	atomic_int		 done;
};

struct worker {
	unsigned int		 id;
	pthread_t		 thread;
	struct ev_loop		*loop;
	ev_async		 stop_async;	/* main asks to stop */
	ev_async		 job_async;	/* main posted a job */
	struct worker_job	*_Atomic job;	/* posted, not yet taken */
	ev_async		*job_done_async; /* we tell main it is done */
	struct ev_loop		*main_loop;
	ev_async		*done_async;	/* we tell main we ended */
	struct runtime		*rt;
	struct listener		*listeners;
	size_t			 nlisteners;
	TAILQ_HEAD(, sess)	 sessions;
	unsigned int		 nsessions;
	TAILQ_HEAD(, sess)	 dead;		/* closed, freed by reap */
	ev_prepare		 reap;
	ev_timer		 trim;		/* heap back to the kernel */
	struct imap_cmd		*cmd;		/* parser scratch */
	struct relay_pool	 pool;
	struct dns		*dns;		/* NULL: no rule uses domain */
	int			 stopping;
	int			 started;	/* thread running */
	atomic_int		 done;		/* its loop has ended */
};

/*
 * Prepares w with one listener per fd (fds[i] serves the i-th listen
 * entry in configuration order; ownership of the fds passes to w).
 * Returns 0, or -1 with a message in err.
 */
int	worker_init(struct worker *w, unsigned int id, struct runtime *rt,
	    const int *fds, size_t nfds, char *err, size_t errlen);
/* Starts the thread; returns 0 or -1. */
int	worker_start(struct worker *w, struct ev_loop *main_loop,
	    ev_async *done_async, ev_async *job_done_async);
/*
 * From the main thread: has w do job, then set job->done and signal
 * job_done_async.  One job per worker at a time.  A worker whose loop
 * has ended never does it: check w->done.
 */
void	worker_post(struct worker *w, struct worker_job *job);
/* From the main thread: stop accepting, BYE every session. */
void	worker_stop(struct worker *w);
/* Joins the thread if it ran, then frees the loop and the rest. */
void	worker_cleanup(struct worker *w);

/*
 * A session let go of its pre-authentication buffers.  Freed in the
 * middle of the heap, glibc keeps such pages, so a burst of logins
 * would leave every idle session looking several KiB heavier.  Once no
 * session has done so for WORKER_TRIM_QUIET, the worker hands the free
 * pages back (malloc_trim).  Never while logins keep coming: the pages
 * would only be faulted in again, at a cost per login.
 */
void	worker_heap_released(struct worker *w);
void	worker_add_sess(struct worker *w, struct sess *s);
void	worker_remove_sess(struct worker *w, struct sess *s);

#endif
