/*
 * splice(2) through a pipe for the plaintext relay; see relaypipe.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bounds.h"
#include "io.h"
#include "relaypipe.h"

struct relay_pipe *
relay_pipe_get(struct relay_pipe_pool *pool)
{
	struct relay_pipe	*p = pool->free;
	int			 fds[2];

	if (p != NULL) {
		pool->free = p->next;
		pool->nfree--;
		p->next = NULL;
		return p;
	}
	if ((p = malloc(sizeof(*p))) == NULL)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		free(p);
		return NULL;
	}
	/*
	 * A larger pipe means fewer splices and TCP pushes per byte.  Over
	 * the user's pipe allowance (fs.pipe-user-pages-soft) the kernel
	 * refuses, and the default size does.
	 */
	(void)fcntl(fds[1], F_SETPIPE_SZ, RELAY_PIPE_MAX);
	p->next = NULL;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->len = 0;
	return p;
}

static void
relay_pipe_close(struct relay_pipe *p)
{
	close(p->rfd);
	close(p->wfd);
	free(p);
}

void
relay_pipe_put(struct relay_pipe_pool *pool, struct relay_pipe **pp)
{
	struct relay_pipe	*p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	/* Stale bytes must never reach another session. */
	if (p->len > 0 || pool->nfree >= RELAY_POOL_MAX) {
		relay_pipe_close(p);
		return;
	}
	p->next = pool->free;
	pool->free = p;
	pool->nfree++;
}

void
relay_pipe_pool_free(struct relay_pipe_pool *pool)
{
	struct relay_pipe	*p;

	while ((p = pool->free) != NULL) {
		pool->free = p->next;
		relay_pipe_close(p);
	}
	pool->nfree = 0;
}

static ssize_t
relay_pipe_result(ssize_t n)
{
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return CONN_AGAIN;
	return n;
}

ssize_t
relay_pipe_fill(struct relay_pipe *p, int fd, size_t max)
{
	ssize_t	n;

	n = splice(fd, NULL, p->wfd, NULL, max,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0)
		p->len += (size_t)n;
	return relay_pipe_result(n);
}

ssize_t
relay_pipe_drain(struct relay_pipe *p, int fd)
{
	ssize_t	n;

	n = splice(p->rfd, NULL, fd, NULL, p->len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0)
		p->len -= (size_t)n;
	return relay_pipe_result(n);
}
