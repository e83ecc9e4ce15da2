/*
 * A worker thread: its own libev loop, its own SO_REUSEPORT listening
 * sockets, and the sessions they accept.  Nothing moves between
 * workers; the main thread talks to one only through ev_async.
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>

#include <pthread.h>

#include <ev.h>

#include "relay.h"

struct runtime;
struct listener;
struct imap_cmd;
struct sess;
struct dns;

struct worker {
	unsigned int		 id;
	pthread_t		 thread;
	struct ev_loop		*loop;
	ev_async		 stop_async;	/* main asks to stop */
	struct ev_loop		*main_loop;
	ev_async		*done_async;	/* we tell main we ended */
	struct runtime		*rt;
	struct listener		*listeners;
	size_t			 nlisteners;
	TAILQ_HEAD(, sess)	 sessions;
	unsigned int		 nsessions;
	TAILQ_HEAD(, sess)	 dead;		/* closed, freed by reap */
	ev_prepare		 reap;
	struct imap_cmd		*cmd;		/* parser scratch */
	struct relay_pool	 pool;
	struct dns		*dns;		/* NULL: no rule uses domain */
	int			 stopping;
	int			 started;	/* thread running */
	volatile int		 done;		/* its loop has ended */
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
	    ev_async *done_async);
/* From the main thread: stop accepting, BYE every session. */
void	worker_stop(struct worker *w);
/* Joins the thread if it ran, then frees the loop and the rest. */
void	worker_cleanup(struct worker *w);

void	worker_add_sess(struct worker *w, struct sess *s);
void	worker_remove_sess(struct worker *w, struct sess *s);

#endif
