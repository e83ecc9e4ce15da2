/*
 * The documents the stats socket answers with (statsock.h has their
 * shapes): built on the main thread from the runtime in force, the
 * counters of stats.h and the session copies the workers made.
 */
#ifndef STATSDOC_H
#define STATSDOC_H

#include <stddef.h>

struct jsonw;
struct runtime;
struct worker_job;
struct reload_report;
struct acl_rule;
struct stats_backend;

void	statsdoc_sessions(struct jsonw *j, const struct worker_job *jobs,
	    size_t njobs);
void	statsdoc_stats(struct jsonw *j, struct runtime *rt,
	    const struct worker_job *jobs, size_t njobs);
void	statsdoc_backends(struct jsonw *j, struct runtime *rt);
void	statsdoc_reload(struct jsonw *j, const struct reload_report *r);
/* "file:line: text" of a rule (NULL: "default") into buf. */
const char *statsdoc_rule(const struct acl_rule *rule, char *buf,
	    size_t len);
/* "up", "down" or "disabled". */
const char *statsdoc_backend_state(const struct stats_backend *st);
/* Bytes so far of the live sessions of server (and backend, or NULL). */
void	statsdoc_live_bytes(const struct worker_job *jobs, size_t njobs,
	    const char *server, const char *backend,
	    unsigned long long *in, unsigned long long *out);

#endif
