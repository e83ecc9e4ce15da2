/*
 * Copying bytes between a logged-in client and its back end.
 *
 * Each direction reads only when nothing of it is in flight and writes
 * that out before reading again, so a slow reader stops its source from
 * being read and at most one buffer or pipe per direction is held.  A
 * buffer or pipe goes back to the worker's pool as soon as it is empty,
 * so an idle session holds none.
 *
 * Between two plaintext sockets, a read of RELAY_BULK_MIN or more marks
 * a bulk transfer: the following reads splice(2) through a pipe, so the
 * bytes stay in the kernel, until one comes back short.  Small
 * exchanges (commands, replies, IDLE) keep to the buffer, where one
 * recv and one send cost less than two splices, and where the back
 * end's last words can be seen.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "relay.h"
#include "sess.h"
#include "worker.h"

struct relay_buf {
	struct relay_buf	*next;		/* pool free list */
	size_t			 off;
	size_t			 len;
	char			 data[RELAY_BUF_SIZE];
};

static struct relay_buf *
relay_buf_get(struct worker *w)
{
	struct relay_buf	*b = w->pool.free;

	if (b != NULL) {
		w->pool.free = b->next;
		w->pool.nfree--;
	} else if ((b = malloc(sizeof(*b))) == NULL) {
		return NULL;
	}
	b->next = NULL;
	b->off = b->len = 0;
	return b;
}

static void
relay_buf_put(struct worker *w, struct relay_buf **bp)
{
	struct relay_buf	*b = *bp;

	if (b == NULL)
		return;
	*bp = NULL;
	if (w->pool.nfree >= RELAY_POOL_MAX) {
		free(b);
		return;
	}
	b->next = w->pool.free;
	w->pool.free = b;
	w->pool.nfree++;
}

void
relay_pool_free(struct relay_pool *pool)
{
	struct relay_buf	*b;

	relay_pipe_pool_free(&pool->pipes);
	while ((b = pool->free) != NULL) {
		pool->free = b->next;
		free(b);
	}
	pool->nfree = 0;
}

static int
relay_buf_has_data(const struct relay_buf *b)
{
	return b != NULL && b->off < b->len;
}

static int
relay_has_data(const struct relay_dir *d)
{
	return relay_buf_has_data(d->buf) ||
	    (d->pipe != NULL && d->pipe->len > 0);
}

/* After the client's end of stream, once its last bytes are out. */
static void
relay_backend_shut_write(struct sess *s)
{
	if (!s->relay.client_eof || relay_has_data(&s->relay.up) ||
	    s->relay.backend_shut)
		return;
	s->relay.backend_shut = 1;
	if (s->bconn.ssl != NULL)
		(void)SSL_shutdown(s->bconn.ssl);	/* close_notify */
	(void)shutdown(s->bconn.fd, SHUT_WR);
}

static void
relay_watch(struct sess *s, ev_io *io, int events)
{
	conn_watch(s->w->loop, io, io->fd, events);
}

static void
relay_update_events(struct sess *s)
{
	struct relay	*r = &s->relay;
	int		 cev = 0, bev = 0;

	if (!relay_has_data(&r->up) && !r->client_eof)
		cev |= s->cconn.rd_on;
	if (relay_has_data(&r->down))
		cev |= s->cconn.wr_on;
	if (!relay_has_data(&r->down) && !r->backend_eof)
		bev |= s->bconn.rd_on;
	if (relay_has_data(&r->up))
		bev |= s->bconn.wr_on;
	relay_watch(s, &s->cio, cev);
	relay_watch(s, &s->bio, bev);
	relay_backend_shut_write(s);
}

/* One direction of the relay; see the file comment. */
struct relay_way {
	struct conn		*src;
	struct conn		*dst;
	struct relay_dir	*dir;
	uint64_t		*count;
	const char		*src_closed;
	const char		*src_failed;
	const char		*dst_failed;
	int			 from_backend;
};

/*
 * A back end says "* BYE" near the end of its last reply (LOGOUT, its
 * own idle timeout): only the tail of each read is scanned, so bulk
 * relaying pays next to nothing.
 */
#define RELAY_BYE_SCAN	512

static void
relay_note_bye(struct sess *s, const struct relay_buf *b)
{
	size_t	from = b->len > RELAY_BYE_SCAN ? b->len - RELAY_BYE_SCAN : 0;

	if (memmem(b->data + from, b->len - from, "* BYE ", 6) != NULL)
		s->relay.backend_bye = 1;
}

/*
 * The source went away.  A back end that left without a word has the
 * client told "* BYE", so it knows the session is over (mid-FETCH, the
 * line lands in the literal; what matters is that it is the last).
 */
static void
relay_src_gone(struct sess *s, const struct relay_way *way, ssize_t n)
{
	if (way->from_backend && s->relay.client_eof) {
		sess_close(s, "client closed");
		return;
	}
	if (way->from_backend && !s->relay.backend_bye) {
		sess_bye(s, "Connection to the mail store lost", n == 0 ?
		    way->src_closed : way->src_failed);
		return;
	}
	sess_close(s, n == 0 ? way->src_closed : way->src_failed);
}

/* Returns the direction's buffer and pipe to the pool. */
static void
relay_dir_put(struct worker *w, struct relay_dir *d)
{
	relay_buf_put(w, &d->buf);
	relay_pipe_put(&w->pool.pipes, &d->pipe);
}

/*
 * Writes what is in flight, the pipe's bytes before the buffer's (a
 * last line is queued behind spliced bytes).  Returns 1 when all is
 * out, 0 when the destination is full, -1 after closing the session.
 */
static int
relay_write(struct sess *s, const struct relay_way *way)
{
	struct relay_dir	*d = way->dir;
	struct relay_buf	*b = d->buf;
	ssize_t			 n;

	while (d->pipe != NULL && d->pipe->len > 0) {
		n = relay_pipe_drain(d->pipe, way->dst->fd);
		if (n == CONN_AGAIN)
			return 0;
		if (n < 0) {
			sess_close(s, way->dst_failed);
			return -1;
		}
	}
	while (relay_buf_has_data(b)) {
		n = conn_write(way->dst, b->data + b->off, b->len - b->off);
		if (n == CONN_AGAIN)
			return 0;
		if (n < 0) {
			sess_close(s, way->dst_failed);
			return -1;
		}
		b->off += (size_t)n;
	}
	return 1;
}

/*
 * Whether the next read from the back end may splice, and how much:
 * the last RELAY_BYE_SCAN bytes it has sent so far are left for a
 * copying read, so its last words are seen (relay_note_bye()) however
 * the bulk before them travelled.  0: copy instead.
 */
static size_t
relay_splice_max(const struct relay_way *way)
{
	int	avail;

	if (!way->from_backend)
		return RELAY_PIPE_MAX;
	if (ioctl(way->src->fd, FIONREAD, &avail) == -1 ||
	    avail < RELAY_BULK_MIN + RELAY_BYE_SCAN)
		return 0;
	avail -= RELAY_BYE_SCAN;
	return (size_t)avail < RELAY_PIPE_MAX ? (size_t)avail : RELAY_PIPE_MAX;
}

/* relay_read() could not take a buffer from the pool. */
#define RELAY_NOMEM	(-3)

/*
 * Reads once into the direction's pipe during a bulk transfer, else
 * into its buffer.  Returns what conn_read() does, or RELAY_NOMEM.
 */
static ssize_t
relay_read(struct sess *s, const struct relay_way *way)
{
	struct relay_dir	*d = way->dir;
	struct relay_buf	*b;
	size_t			 max = 0;
	ssize_t			 n;

	if (d->bulk && (max = relay_splice_max(way)) > 0 && d->pipe == NULL &&
	    (d->pipe = relay_pipe_get(&s->w->pool.pipes)) == NULL)
		max = 0;	/* no descriptor to spare: copy instead */
	if (max > 0) {
		n = relay_pipe_fill(d->pipe, way->src->fd, max);
		if (n > 0 && (size_t)n < RELAY_BULK_MIN)
			d->bulk = 0;
		return n;
	}
	if ((b = d->buf) == NULL && (b = d->buf = relay_buf_get(s->w)) ==
	    NULL)
		return RELAY_NOMEM;
	n = conn_read(way->src, b->data, sizeof(b->data));
	if (n <= 0)
		return n;
	b->off = 0;
	b->len = (size_t)n;
	if (way->from_backend)
		relay_note_bye(s, b);
	d->bulk = (size_t)n >= RELAY_BULK_MIN && way->src->ssl == NULL &&
	    way->dst->ssl == NULL;
	return n;
}

/*
 * Writes what is in flight, then reads at most once more when allowed
 * (or while TLS holds decrypted bytes) and writes that at once.
 * Returns 0, or -1 after closing the session.
 */
static int
relay_move(struct sess *s, const struct relay_way *way, int can_read,
    int can_write)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if (can_write && (r = relay_write(s, way)) != 1)
			return r;
		if (relay_has_data(way->dir))
			return 0;
		if (!can_read && !conn_pending(way->src)) {
			relay_dir_put(s->w, way->dir);
			return 0;
		}
		n = relay_read(s, way);
		if (n == CONN_AGAIN) {
			relay_dir_put(s->w, way->dir);
			return 0;
		}
		if (n == RELAY_NOMEM) {
			sess_close(s, "out of memory");
			return -1;
		}
		if (n == 0 && !way->from_backend) {
			/*
			 * The client closed its side (a script piping its
			 * commands in) but may still read: the back end is
			 * told once the queued bytes are out (relay_update_
			 * events()), and replies flow until it closes.  The
			 * idle timeout bounds a back end that never does.
			 */
			s->relay.client_eof = 1;
			relay_dir_put(s->w, way->dir);
			return 0;
		}
		if (n <= 0) {
			relay_src_gone(s, way, n);
			return -1;
		}
		*way->count += (uint64_t)n;
		s->last_active = ev_now(s->w->loop);
		can_read = 0;
		can_write = 1;
	}
}

static void
relay_ways(struct sess *s, struct relay_way *up, struct relay_way *down)
{
	up->src = &s->cconn;
	up->dst = &s->bconn;
	up->dir = &s->relay.up;
	up->count = &s->bytes_in;
	up->src_closed = "client closed";
	up->src_failed = "client read failed";
	up->dst_failed = "back end write failed";
	up->from_backend = 0;
	down->src = &s->bconn;
	down->dst = &s->cconn;
	down->dir = &s->relay.down;
	down->count = &s->bytes_out;
	down->src_closed = "back end closed";
	down->src_failed = "back end read failed";
	down->dst_failed = "client write failed";
	down->from_backend = 1;
}

void
relay_client_io(struct sess *s, int revents)
{
	struct relay_way	up, down;

	relay_ways(s, &up, &down);
	if (relay_move(s, &down, 0, (revents & s->cconn.wr_on) != 0) == -1)
		return;
	if (relay_move(s, &up, (revents & s->cconn.rd_on) != 0, 1) == -1)
		return;
	/* Room was made for the back end's bytes. */
	if (!relay_has_data(&s->relay.down) && conn_pending(&s->bconn) &&
	    relay_move(s, &down, 1, 1) == -1)
		return;
	relay_update_events(s);
}

void
relay_backend_io(struct sess *s, int revents)
{
	struct relay_way	up, down;

	relay_ways(s, &up, &down);
	if (relay_move(s, &up, 0, (revents & s->bconn.wr_on) != 0) == -1)
		return;
	if (relay_move(s, &down, (revents & s->bconn.rd_on) != 0, 1) == -1)
		return;
	if (!relay_has_data(&s->relay.up) && conn_pending(&s->cconn) &&
	    relay_move(s, &up, 1, 1) == -1)
		return;
	relay_update_events(s);
}

/* Copies bytes into a direction's buffer; -1 when they don't fit. */
static int
relay_queue(struct sess *s, struct relay_buf **bp, const char *p, size_t n)
{
	struct relay_buf	*b = *bp;

	if (n == 0)
		return 0;
	if (b == NULL && (b = *bp = relay_buf_get(s->w)) == NULL)
		return -1;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (n > sizeof(b->data) - b->len)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
relay_start(struct sess *s, const char *to_client, size_t nclient,
    const char *to_backend, size_t nbackend, int client_eof)
{
	/* The client may have closed its side during the login. */
	s->relay.client_eof = client_eof != 0;
	if (relay_queue(s, &s->relay.down.buf, to_client, nclient) == -1 ||
	    relay_queue(s, &s->relay.up.buf, to_backend, nbackend) == -1) {
		sess_close(s, "out of memory");
		return -1;
	}
	/* Both sockets are most likely writable: try at once. */
	relay_client_io(s, s->cconn.wr_on);
	if (s->closed)
		return -1;
	relay_backend_io(s, s->bconn.wr_on);
	return s->closed ? -1 : 0;
}

void
relay_last_words(struct sess *s, const char *prefix, const char *text)
{
	char	line[SESS_MAX_REPLY];
	int	n;

	s->relay.client_eof = s->relay.backend_eof = 1;
	ev_io_stop(s->w->loop, &s->bio);
	relay_dir_put(s->w, &s->relay.up);
	n = snprintf(line, sizeof(line), "%s%s\r\n", prefix, text);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    relay_queue(s, &s->relay.down.buf, line, (size_t)n) == 0)
		s->bytes_out += (uint64_t)n;
}

int
relay_flush_client(struct sess *s)
{
	struct relay_way	up, down;
	int			r;

	relay_ways(s, &up, &down);
	if ((r = relay_write(s, &down)) == 0)
		relay_watch(s, &s->cio, s->cconn.wr_on);
	return r;
}

void
relay_stop(struct sess *s)
{
	relay_dir_put(s->w, &s->relay.up);
	relay_dir_put(s->w, &s->relay.down);
}
