/*
 * Non-blocking reads and writes over a plain socket or an SSL object.
 */
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>

#include "io.h"

void
conn_init(struct conn *c, int fd)
{
	c->fd = fd;
	c->ssl = NULL;
	c->rd_on = EV_READ;
	c->wr_on = EV_WRITE;
	c->ssl_errno = 0;
}

/* Maps an SSL result to CONN_AGAIN (setting *on), 0 or -1. */
static int
conn_ssl_result(struct conn *c, int r, int *on)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*on = EV_READ;
		return CONN_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*on = EV_WRITE;
		return CONN_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		c->ssl_errno = errno;
		/* OpenSSL 3 reports an EOF without close_notify here. */
		if (ERR_peek_error() == 0 && errno == 0)
			return 0;
		return -1;
	default:
		c->ssl_errno = errno;
		return -1;
	}
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	n;
	size_t	got;
	int	r;

	if (c->ssl == NULL) {
		n = recv(c->fd, buf, len, 0);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return CONN_AGAIN;
		return n;
	}
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(c->ssl, buf, len, &got) == 1) {
		c->rd_on = EV_READ;
		return (ssize_t)got;
	}
	r = conn_ssl_result(c, 0, &c->rd_on);
	return r;
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t	n;
	size_t	put;
	int	r;

	if (c->ssl == NULL) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return CONN_AGAIN;
		return n;
	}
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(c->ssl, buf, len, &put) == 1) {
		c->wr_on = EV_WRITE;
		return (ssize_t)put;
	}
	r = conn_ssl_result(c, 0, &c->wr_on);
	return r == 0 ? -1 : r;
}

int
conn_pending(const struct conn *c)
{
	return c->ssl != NULL && SSL_has_pending(c->ssl);
}

int
conn_handshake(struct conn *c)
{
	int	r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->rd_on = EV_READ;
		c->wr_on = EV_WRITE;
		return 1;
	}
	r = conn_ssl_result(c, r, &c->rd_on);
	c->wr_on = c->rd_on;
	return r == CONN_AGAIN ? CONN_AGAIN : -1;
}

void
conn_watch(struct ev_loop *loop, ev_io *io, int fd, int events)
{
	if (ev_is_active(io) && io->fd == fd &&
	    (io->events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(loop, io);
	if (io->fd == fd)
		ev_io_modify(io, events);
	else
		ev_io_set(io, fd, events);
	if (events != 0 && fd >= 0)
		ev_io_start(loop, io);
}

void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/* One-way close_notify; the peer's answer is not awaited. */
		if (SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}
