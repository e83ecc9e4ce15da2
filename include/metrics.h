/*
 * The stats socket's `metrics`: Prometheus text exposition (format
 * 0.0.4) of the counters and gauges of stats.h and the live sessions.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>

struct jsonw;
struct runtime;
struct worker_job;

void	metrics_write(struct jsonw *j, struct runtime *rt,
	    const struct worker_job *jobs, size_t njobs);

#endif
