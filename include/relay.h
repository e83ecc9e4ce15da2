/*
 * The byte relay of a logged-in session: client to back end and back,
 * parsing nothing.  Each direction holds at most one RELAY_BUF_SIZE
 * buffer, or between two plaintext sockets during a bulk transfer one
 * pipe that splice(2) fills and drains; either is taken from the
 * worker's pool only while bytes are in flight, so an idle session holds
 * none.  A direction with bytes in flight stops reading from its source
 * (back-pressure), so nothing is buffered without bound.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

#include "relaypipe.h"

struct sess;
struct relay_buf;

/* One direction's bytes in flight: in buf, or in pipe, never both. */
struct relay_dir {
	struct relay_buf	*buf;
	struct relay_pipe	*pipe;
	unsigned int		 bulk : 1;	/* splice while reads fill up */
};

struct relay {
	struct relay_dir	 up;	/* client to back end */
	struct relay_dir	 down;	/* back end to client */
	unsigned int		 client_eof : 1;
	unsigned int		 backend_eof : 1;
	unsigned int		 backend_bye : 1;	/* it said BYE itself */
	unsigned int		 backend_shut : 1;	/* told the client's EOF */
};

/* A worker's free buffers and pipes. */
struct relay_pool {
	struct relay_buf	*free;
	unsigned int		 nfree;
	struct relay_pipe_pool	 pipes;
};

/*
 * Starts relaying: to_client (the back end's login answer and whatever
 * followed it) and to_backend (client bytes pipelined after the login)
 * are queued first.  client_eof: the client has closed its side, so the
 * back end is told once those bytes are out.  Returns 0, or -1 after
 * closing the session.
 */
int	relay_start(struct sess *s, const char *to_client, size_t nclient,
	    const char *to_backend, size_t nbackend, int client_eof);
/* libev events on the client or the back-end socket. */
void	relay_client_io(struct sess *s, int revents);
void	relay_backend_io(struct sess *s, int revents);
/*
 * Queues a last line (prefix, text, CRLF) for the client after what is
 * in flight (a line that would not fit is dropped), stops
 * reading both sides; the session closes once it is written.
 */
void	relay_last_words(struct sess *s, const char *prefix,
	    const char *text);
/* Writes what is queued for the client; 1 when all is out, 0, or -1. */
int	relay_flush_client(struct sess *s);
/* Returns both directions' buffers and pipes to the pool. */
void	relay_stop(struct sess *s);

void	relay_pool_free(struct relay_pool *pool);

#endif
