/*
 * The main thread: signals, the worker threads, health checks, the
 * stats socket and reloads, all on the default loop.  The workers are
 * reached only through worker jobs (worker.h); supervisor_broadcast()
 * hands one to every worker and calls back once all have done it.
 */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <stddef.h>

#include <ev.h>

struct runtime;
struct worker;
struct worker_job;
struct health;
struct statsock;
struct supervisor_bcast;

struct supervisor {
	struct runtime		*rt;		/* in force; a reference */
	char			*conf_path;	/* absolute, for reloads */
	char			*pidfile;	/* as started; NULL: none */
	struct worker		*workers;
	size_t			 nworkers;
	int			*fds;		/* nworkers x nlisten */
	size_t			 nlisten;
	struct ev_loop		*loop;
	ev_signal		 sigterm, sigint, sighup, sigusr1;
	ev_async		 worker_done;
	ev_async		 job_done;
	ev_timer		 deadline;	/* shutdown_timeout */
	struct health		*health;	/* back-end checks */
	struct statsock		*stats;		/* NULL without stats_socket */
	struct supervisor_bcast	*bcasts;	/* head is with the workers */
	int			 reloading;
	int			 stopping;
	int			 started;	/* workers running */
};

/*
 * Called once every worker has done its job (or has ended without);
 * jobs[i] went to worker i.  Whatever the jobs still hold afterwards
 * (session copies, a runtime reference, listeners) is freed for them.
 */
typedef void	 supervisor_jobs_cb(struct supervisor *sv,
		    struct worker_job *jobs, size_t njobs, void *arg);

/* Takes a reference to rt; opens the listening and stats sockets. */
struct supervisor *supervisor_new(struct runtime *rt, const char *conf_path,
		    char *err, size_t errlen);
int		 supervisor_run(struct supervisor *sv);
void		 supervisor_free(struct supervisor **svp);
/*
 * Gives every worker a copy of job; cb runs on the main loop when all
 * are done.  Jobs queue behind each other.  Returns 0, or -1 when out
 * of memory or stopping.
 */
int		 supervisor_broadcast(struct supervisor *sv,
		    const struct worker_job *job, supervisor_jobs_cb *cb,
		    void *arg);

#endif
