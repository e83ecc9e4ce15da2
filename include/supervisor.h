/*
 * The main thread: opens every listening socket (so binding fails
 * before anything starts), runs the workers, and handles signals on the
 * default libev loop.
 */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <stddef.h>

struct runtime;
struct supervisor;

/*
 * Checks every listen address is free and opens one SO_REUSEPORT socket
 * per worker and listen entry.  Takes no ownership of rt.  Returns NULL
 * with a message when an address cannot be bound.
 */
struct supervisor *supervisor_new(struct runtime *rt, char *err,
		    size_t errlen);
/*
 * Starts the workers and runs until SIGTERM or SIGINT, then stops them
 * within shutdown_timeout.  Returns the exit status (0, or 2 when the
 * workers could not start).
 */
int		 supervisor_run(struct supervisor *sv);
void		 supervisor_free(struct supervisor **svp);

#endif
