/*
 * Listening sockets and accept().  On EMFILE/ENFILE a listener pauses
 * briefly instead of spinning on a connection it cannot take.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "container_of.h"
#include "listener.h"
#include "log.h"
#include "sess.h"
#include "worker.h"

/* accept() calls per readiness event, so one listener cannot starve. */
#define LISTENER_ACCEPT_BATCH	64
/* How long to stop accepting when out of file descriptors. */
#define LISTENER_PAUSE		0.1
/* How often a descriptor shortage is logged, at most. */
#define LISTENER_LOG_EVERY	10.0
#define LISTENER_BACKLOG	1024

static int
listener_new_socket(const struct conf_listen *l, int reuseport, char *err,
    size_t len)
{
	int	fd, one = 1;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, len, "listen %s: socket: %s", l->name,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)
		goto fail;
	/* [::]:143 and 0.0.0.0:143 are separate listen entries. */
	if (l->addr.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, len, "listen %s: %s", l->name, strerror(errno));
	close(fd);
	return -1;
}

int
listener_probe(const struct conf_listen *l, char *err, size_t len)
{
	int	fd;

	if ((fd = listener_new_socket(l, 0, err, len)) == -1)
		return -1;
	close(fd);
	return 0;
}

int
listener_socket(const struct conf_listen *l, char *err, size_t len)
{
	int	fd;

	if ((fd = listener_new_socket(l, 1, err, len)) == -1)
		return -1;
	if (listen(fd, LISTENER_BACKLOG) == -1) {
		snprintf(err, len, "listen %s: %s", l->name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
listener_pause_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct listener	*ln = container_of(t, struct listener, pause);

	(void)revents;
	if (!ln->w->stopping)
		ev_io_start(loop, &ln->io);
}

/* One line per LISTENER_LOG_EVERY at most: a long shortage, not a flood. */
static void
listener_log_pause(struct listener *ln, ev_tstamp now)
{
	int	saved = errno;

	ln->pauses++;
	if (ln->logged != 0. && now - ln->logged < LISTENER_LOG_EVERY)
		return;
	errno = saved;
	log_warn("listen %s: accept paused %lu times since the last report",
	    ln->conf->name, ln->pauses);
	ln->logged = now;
	ln->pauses = 0;
}

static void
listener_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct listener		*ln = container_of(io, struct listener, io);
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	int			 fd, i;

	(void)revents;
	for (i = 0; i < LISTENER_ACCEPT_BATCH; i++) {
		peerlen = sizeof(peer);
		fd = accept4(io->fd, (struct sockaddr *)&peer, &peerlen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				listener_log_pause(ln, ev_now(loop));
				ev_io_stop(loop, io);
				ev_timer_set(&ln->pause, LISTENER_PAUSE, 0.);
				ev_timer_start(loop, &ln->pause);
			}
			/* EAGAIN, or an aborted connection: nothing to do. */
			return;
		}
		sess_accept(ln->w, ln->srv, ln->conf, fd,
		    (struct sockaddr *)&peer, peerlen);
	}
}

void
listener_start(struct listener *ln, struct worker *w,
    struct runtime_server *srv, const struct conf_listen *l, int fd)
{
	ln->w = w;
	ln->srv = srv;
	ln->conf = l;
	ev_io_init(&ln->io, listener_accept_cb, fd, EV_READ);
	ev_timer_init(&ln->pause, listener_pause_cb, LISTENER_PAUSE, 0.);
	ev_io_start(w->loop, &ln->io);
}

void
listener_stop(struct listener *ln)
{
	if (ln->w == NULL || ln->io.fd < 0)
		return;
	ev_io_stop(ln->w->loop, &ln->io);
	ev_timer_stop(ln->w->loop, &ln->pause);
}

void
listener_close(struct listener *ln)
{
	if (ln->w == NULL || ln->io.fd < 0)
		return;
	listener_stop(ln);
	close(ln->io.fd);
	ev_io_set(&ln->io, -1, 0);
}
