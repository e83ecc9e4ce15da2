/*
 * imapproxyctl's side of the stats socket (SPEC.md section 6, statsock.h):
 * connect, write one command line, read the answer until the daemon
 * closes.  No parsing here; ctlshow.h makes sense of the answer.
 */
#ifndef CTLSOCK_H
#define CTLSOCK_H

#include <stddef.h>

#include "bounds.h"

enum ctlsock_status {
	CTLSOCK_OK,
	CTLSOCK_UNREACHABLE,	/* could not connect: exit 2 */
	CTLSOCK_FAILED		/* connected, but no usable answer: exit 1 */
};

/*
 * Joins nwords words into the request line "W1 W2 ...\n" in line
 * (linelen bytes).  Returns 0, or -1 with a message in err when a word
 * is empty or holds a space or control character (the daemon splits on
 * spaces and reads one line), or the line would exceed what the daemon
 * accepts.
 */
int	ctlsock_request(char *const words[], int nwords, char *line,
	    size_t linelen, char *err, size_t errlen);

/*
 * Sends line to the socket at path and reads the answer until EOF,
 * within CTLSOCK_TIMEOUT seconds.  On CTLSOCK_OK, *answer_r is a new
 * NUL-terminated buffer of *len_r bytes owned by the caller (free()).
 * Otherwise err says why, without the path (the caller names it).
 */
enum ctlsock_status ctlsock_query(const char *path, const char *line,
	    char **answer_r, size_t *len_r, char *err, size_t errlen);

#endif
