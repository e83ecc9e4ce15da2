/*
 * The client end of the stats socket.  Blocking I/O bounded by one
 * deadline: imapproxyctl does nothing else while it waits.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlout.h"
#include "ctlsock.h"
#include "statsock.h"

static void
ctlsock_badword(const char *word, char *err, size_t errlen)
{
	char	*e;

	e = ctlout_escape(word, strlen(word));
	snprintf(err, errlen, "\"%s\": arguments may not hold spaces or "
	    "control characters", e != NULL ? e : "?");
	free(e);
}

int
ctlsock_request(char *const words[], int nwords, char *line,
    size_t linelen, char *err, size_t errlen)
{
	const unsigned char	*p;
	size_t			 len = 0, n;
	int			 i, sep;

	for (i = 0; i < nwords; i++) {
		if (words[i][0] == '\0') {
			snprintf(err, errlen, "empty argument");
			return -1;
		}
		for (p = (const unsigned char *)words[i]; *p != '\0'; p++)
			if (*p <= ' ' || *p == 0x7f) {
				ctlsock_badword(words[i], err, errlen);
				return -1;
			}
		sep = i > 0;
		n = strlen(words[i]);
		/* The daemon takes STATS_MAX_REQUEST bytes, "\n" included. */
		if (len + sep + n + 2 > linelen ||
		    len + sep + n + 1 > STATS_MAX_REQUEST) {
			snprintf(err, errlen, "command longer than the %d "
			    "bytes the daemon accepts", STATS_MAX_REQUEST - 1);
			return -1;
		}
		if (sep)
			line[len++] = ' ';
		memcpy(line + len, words[i], n);
		len += n;
	}
	line[len++] = '\n';
	line[len] = '\0';
	return 0;
}

/* Milliseconds left until deadline, at least 0. */
static int
ctlsock_left(const struct timespec *deadline)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/*
 * A blocking connect: SO_SNDTIMEO bounds both the wait for room in a
 * full listen queue (Linux then fails with EAGAIN) and the write.
 */
static int
ctlsock_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { CTLSOCK_TIMEOUT, 0 };
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "path longer than %zu bytes",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "%s", errno == EAGAIN ||
		    errno == EINPROGRESS ? "timed out connecting" :
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
ctlsock_send(int fd, const char *line, char *err, size_t errlen)
{
	size_t	off = 0, len = strlen(line);
	ssize_t	n;

	while (off < len) {
		/* MSG_NOSIGNAL: a daemon gone is an error, not our death. */
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "sending the command: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Makes room for more of the answer; -1 when it may not grow. */
static int
ctlsock_grow(char **buf, size_t *cap, size_t len, char *err, size_t errlen)
{
	size_t	ncap;
	char	*p;

	if (len < *cap)
		return 0;
	if (*cap > CTLSOCK_MAX_ANSWER) {
		snprintf(err, errlen, "answer larger than %d MiB",
		    CTLSOCK_MAX_ANSWER / (1024 * 1024));
		return -1;
	}
	/* One byte past the limit tells "too big" from "just fits". */
	ncap = *cap == 0 ? 65536 : *cap * 2;
	if (ncap > (size_t)CTLSOCK_MAX_ANSWER + 1)
		ncap = (size_t)CTLSOCK_MAX_ANSWER + 1;
	if ((p = realloc(*buf, ncap + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*buf = p;
	*cap = ncap;
	return 0;
}

/* Waits until fd is readable; 0, or -1 when the deadline passed. */
static int
ctlsock_wait(int fd, const struct timespec *deadline, char *err,
    size_t errlen)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	int		n;

	do
		n = poll(&pfd, 1, ctlsock_left(deadline));
	while (n == -1 && errno == EINTR);
	if (n == 0)
		snprintf(err, errlen, "no answer within %d s",
		    CTLSOCK_TIMEOUT);
	else if (n == -1)
		snprintf(err, errlen, "poll: %s", strerror(errno));
	return n == 1 ? 0 : -1;
}

/* Reads until EOF into a new buffer; -1 with err on any failure. */
static int
ctlsock_read(int fd, const struct timespec *deadline, char **answer_r,
    size_t *len_r, char *err, size_t errlen)
{
	char	*buf = NULL;
	size_t	 cap = 0, len = 0;
	ssize_t	 n;

	for (;;) {
		if (ctlsock_grow(&buf, &cap, len, err, errlen) == -1 ||
		    ctlsock_wait(fd, deadline, err, errlen) == -1)
			goto fail;
		if ((n = read(fd, buf + len, cap - len)) == 0)
			break;
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			snprintf(err, errlen, "reading the answer: %s",
			    strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len == 0) {
		snprintf(err, errlen, "the daemon closed the connection "
		    "without answering");
		goto fail;
	}
	buf[len] = '\0';
	*answer_r = buf;
	*len_r = len;
	return 0;
fail:
	free(buf);
	return -1;
}

enum ctlsock_status
ctlsock_query(const char *path, const char *line, char **answer_r,
    size_t *len_r, char *err, size_t errlen)
{
	struct timespec	deadline;
	int		fd, rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CTLSOCK_TIMEOUT;
	if ((fd = ctlsock_connect(path, err, errlen)) == -1)
		return CTLSOCK_UNREACHABLE;
	rc = ctlsock_send(fd, line, err, errlen) == -1 ? -1 :
	    ctlsock_read(fd, &deadline, answer_r, len_r, err, errlen);
	close(fd);
	return rc == 0 ? CTLSOCK_OK : CTLSOCK_FAILED;
}
