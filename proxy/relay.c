/*
 * Copying bytes between a logged-in client and its back end.
 *
 * Each direction reads only into an empty buffer and writes it out
 * before reading again, so a slow reader stops its source from being
 * read and at most RELAY_BUF_SIZE bytes per direction are held.  A
 * buffer goes back to the worker's pool as soon as it is empty, so an
 * idle session holds none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	while ((b = pool->free) != NULL) {
		pool->free = b->next;
		free(b);
	}
	pool->nfree = 0;
}

static int
relay_has_data(const struct relay_buf *b)
{
	return b != NULL && b->off < b->len;
}

static void
relay_watch(struct sess *s, ev_io *io, int events)
{
	if (io->fd < 0)
		return;
	if (ev_is_active(io) && (io->events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(s->w->loop, io);
	if (events != 0) {
		ev_io_set(io, io->fd, events);
		ev_io_start(s->w->loop, io);
	}
}

static void
relay_update_events(struct sess *s)
{
	struct relay	*r = &s->relay;
	int		 cev = 0, bev = 0;

	if (!relay_has_data(r->up) && !r->client_eof)
		cev |= s->cconn.rd_on;
	if (relay_has_data(r->down))
		cev |= s->cconn.wr_on;
	if (!relay_has_data(r->down) && !r->backend_eof)
		bev |= s->bconn.rd_on;
	if (relay_has_data(r->up))
		bev |= s->bconn.wr_on;
	relay_watch(s, &s->cio, cev);
	relay_watch(s, &s->bio, bev);
}

/* One direction of the relay; see the file comment. */
struct relay_way {
	struct conn		*src;
	struct conn		*dst;
	struct relay_buf       **buf;
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
	if (way->from_backend && !s->relay.backend_bye) {
		sess_bye(s, "Connection to the mail store lost", n == 0 ?
		    way->src_closed : way->src_failed);
		return;
	}
	sess_close(s, n == 0 ? way->src_closed : way->src_failed);
}

/*
 * Writes what is buffered, then reads at most once more when allowed
 * (or while TLS holds decrypted bytes) and writes that at once.
 * Returns 0, or -1 after closing the session.
 */
static int
relay_move(struct sess *s, const struct relay_way *way, int can_read,
    int can_write)
{
	struct relay_buf	*b = *way->buf;
	ssize_t			 n;

	for (;;) {
		while (relay_has_data(b) && can_write) {
			n = conn_write(way->dst, b->data + b->off,
			    b->len - b->off);
			if (n == CONN_AGAIN)
				return 0;
			if (n < 0) {
				sess_close(s, way->dst_failed);
				return -1;
			}
			b->off += (size_t)n;
		}
		if (relay_has_data(b))
			return 0;
		if (!can_read && !conn_pending(way->src)) {
			relay_buf_put(s->w, way->buf);
			return 0;
		}
		if (b == NULL && (b = *way->buf = relay_buf_get(s->w)) ==
		    NULL) {
			sess_close(s, "out of memory");
			return -1;
		}
		n = conn_read(way->src, b->data, sizeof(b->data));
		if (n == CONN_AGAIN) {
			relay_buf_put(s->w, way->buf);
			return 0;
		}
		if (n <= 0) {
			relay_src_gone(s, way, n);
			return -1;
		}
		b->off = 0;
		b->len = (size_t)n;
		if (way->from_backend)
			relay_note_bye(s, b);
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
	up->buf = &s->relay.up;
	up->count = &s->bytes_in;
	up->src_closed = "client closed";
	up->src_failed = "client read failed";
	up->dst_failed = "back end write failed";
	up->from_backend = 0;
	down->src = &s->bconn;
	down->dst = &s->cconn;
	down->buf = &s->relay.down;
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
	if (!relay_has_data(s->relay.down) && conn_pending(&s->bconn) &&
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
	if (!relay_has_data(s->relay.up) && conn_pending(&s->cconn) &&
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
    const char *to_backend, size_t nbackend)
{
	if (relay_queue(s, &s->relay.down, to_client, nclient) == -1 ||
	    relay_queue(s, &s->relay.up, to_backend, nbackend) == -1) {
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
	relay_buf_put(s->w, &s->relay.up);
	n = snprintf(line, sizeof(line), "%s%s\r\n", prefix, text);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)relay_queue(s, &s->relay.down, line, (size_t)n);
}

int
relay_flush_client(struct sess *s)
{
	struct relay_buf	*b = s->relay.down;
	ssize_t			 n;

	while (relay_has_data(b)) {
		n = conn_write(&s->cconn, b->data + b->off, b->len - b->off);
		if (n == CONN_AGAIN) {
			relay_watch(s, &s->cio, s->cconn.wr_on);
			return 0;
		}
		if (n < 0) {
			sess_close(s, "client write failed");
			return -1;
		}
		b->off += (size_t)n;
		s->bytes_out += (uint64_t)n;
	}
	return 1;
}

void
relay_stop(struct sess *s)
{
	relay_buf_put(s->w, &s->relay.up);
	relay_buf_put(s->w, &s->relay.down);
}
