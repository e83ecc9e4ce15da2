/*
 * One side of a session: a non-blocking socket, with or without TLS.
 * conn_read() and conn_write() hide SSL's WANT_READ/WANT_WRITE: after
 * CONN_AGAIN, rd_on/wr_on say which libev event (EV_READ or EV_WRITE)
 * the blocked operation waits for, since a TLS read may need the socket
 * writable and a TLS write may need it readable.
 */
#ifndef IO_H
#define IO_H

#include <sys/types.h>

#include <ev.h>
#include <openssl/ssl.h>

#define CONN_AGAIN	(-2)

struct conn {
	int	 fd;
	SSL	*ssl;		/* NULL: plaintext */
	int	 rd_on;		/* EV_READ or EV_WRITE */
	int	 wr_on;
	int	 ssl_errno;	/* errno seen by the last failed SSL call */
};

/* Sets up c over fd (plaintext); takes no ownership of anything. */
void	conn_init(struct conn *c, int fd);
/*
 * Reads up to len bytes.  Returns the count, 0 at end of stream,
 * CONN_AGAIN, or -1 on error (errno set; for TLS see tls_error()).
 */
ssize_t	conn_read(struct conn *c, void *buf, size_t len);
/* Writes up to len bytes; returns the count, CONN_AGAIN or -1. */
ssize_t	conn_write(struct conn *c, const void *buf, size_t len);
/* Whether decrypted bytes wait inside the SSL object. */
int	conn_pending(const struct conn *c);
/*
 * Attaches ssl (ownership passes to c) and drives its handshake.
 * Returns 1 when done, CONN_AGAIN, or -1 on failure.
 */
int	conn_handshake(struct conn *c);
/*
 * Makes io watch fd for events (0: stop), touching libev only on a
 * change.  For the same fd the epoll registration is modified, never
 * re-added: ev_io_set() would cost a failed EPOLL_CTL_ADD each time.
 * A watcher whose fd was closed must be set to -1 before its number is
 * watched again.
 */
void	conn_watch(struct ev_loop *loop, ev_io *io, int fd, int events);
/* Sends a TLS close_notify if possible, frees the SSL, closes fd. */
void	conn_close(struct conn *c);

#endif
