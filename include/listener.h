/*
 * Listening sockets.  Each worker binds its own socket per listen entry
 * with SO_REUSEPORT and the kernel spreads connections across them.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <ev.h>

struct worker;
struct runtime_server;
struct conf_listen;

struct listener {
	ev_io			 io;
	ev_timer		 pause;	/* EMFILE: stop accepting briefly */
	ev_tstamp		 logged; /* last "accept paused" line */
	unsigned long		 pauses; /* since that line */
	struct worker		*w;
	struct runtime_server	*srv;
	const struct conf_listen *conf;
};

/*
 * Checks that no other process holds the address (SO_REUSEPORT would
 * otherwise share it silently).  Returns 0, or -1 with a message.
 */
int	listener_probe(const struct conf_listen *l, char *err, size_t len);
/* A bound, listening, non-blocking SO_REUSEPORT socket, or -1. */
int	listener_socket(const struct conf_listen *l, char *err, size_t len);
/* Starts accepting on fd (owned from now on) in w's loop. */
void	listener_start(struct listener *ln, struct worker *w,
	    struct runtime_server *srv, const struct conf_listen *l, int fd);
/* Stops accepting; the socket stays open (a reload may hand it on). */
void	listener_stop(struct listener *ln);
/* Stops accepting and closes the socket. */
void	listener_close(struct listener *ln);

#endif
