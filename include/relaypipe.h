/*
 * Kernel-side copying for the plaintext relay: splice(2) moves a
 * socket's bytes into a pipe and from the pipe into the other socket,
 * so bulk data never crosses into the proxy's memory.  A pipe is taken
 * from the worker's pool only while it holds bytes in flight, like the
 * relay's buffers, so an idle session holds no descriptor for it.
 */
#ifndef RELAYPIPE_H
#define RELAYPIPE_H

#include <sys/types.h>

struct relay_pipe {
	struct relay_pipe	*next;		/* pool free list */
	int			 rfd;
	int			 wfd;
	size_t			 len;		/* bytes in the pipe */
};

struct relay_pipe_pool {
	struct relay_pipe	*free;
	unsigned int		 nfree;
};

/* An empty pipe from the pool or a new one; NULL (errno set) if none. */
struct relay_pipe *relay_pipe_get(struct relay_pipe_pool *pool);
/*
 * Gives *pp back and sets it to NULL: an empty pipe returns to the
 * pool (up to RELAY_POOL_MAX), one still holding bytes is closed.
 */
void	relay_pipe_put(struct relay_pipe_pool *pool, struct relay_pipe **pp);
void	relay_pipe_pool_free(struct relay_pipe_pool *pool);
/*
 * Moves up to max bytes from socket fd into the pipe.  Returns the
 * count, 0 at end of stream, CONN_AGAIN, or -1 (errno set).
 */
ssize_t	relay_pipe_fill(struct relay_pipe *p, int fd, size_t max);
/* Moves the pipe's bytes into socket fd: count, CONN_AGAIN or -1. */
ssize_t	relay_pipe_drain(struct relay_pipe *p, int fd);

#endif
