/*
 * Logging to stderr, syslog or a file, after OpenBSD relayd's log.c.
 * Each message is formatted into one buffer and written with a single
 * write(2), so lines from several worker threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
	LOG_SINK_FILE
};

static struct {
	enum log_sink	 sink;
	enum log_level	 level;
	int		 fd;		/* LOG_SINK_FILE */
	char		*path;
	pthread_mutex_t	 lock;		/* guards fd across log_reopen() */
} logger = {
	LOG_SINK_STDERR, LOG_LEVEL_INFO, -1, NULL, PTHREAD_MUTEX_INITIALIZER
};

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "mail", LOG_MAIL }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static int
log_facility(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].facility;
	return -1;
}

int
log_open(const char *dest, enum log_level level, const char *ident)
{
	int	fd, facility = LOG_DAEMON;

	logger.level = level;
	if (strcmp(dest, "stderr") == 0) {
		logger.sink = LOG_SINK_STDERR;
		return 0;
	}
	if (strncmp(dest, "syslog", 6) == 0 &&
	    (dest[6] == '\0' || dest[6] == ':')) {
		if (dest[6] == ':' && (facility = log_facility(dest + 7)) < 0) {
			errno = EINVAL;
			return -1;
		}
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
		logger.sink = LOG_SINK_SYSLOG;
		return 0;
	}
	fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	free(logger.path);
	if ((logger.path = strdup(dest)) == NULL) {
		close(fd);
		return -1;
	}
	if (logger.fd != -1)
		close(logger.fd);
	logger.fd = fd;
	logger.sink = LOG_SINK_FILE;
	return 0;
}

int
log_reopen(void)
{
	int	fd;

	if (logger.sink != LOG_SINK_FILE)
		return 0;
	fd = open(logger.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640);
	if (fd == -1)
		return -1;
	pthread_mutex_lock(&logger.lock);
	close(logger.fd);
	logger.fd = fd;
	pthread_mutex_unlock(&logger.lock);
	return 0;
}

void
log_close(void)
{
	pthread_mutex_lock(&logger.lock);
	if (logger.sink == LOG_SINK_SYSLOG)
		closelog();
	if (logger.fd != -1)
		close(logger.fd);
	logger.fd = -1;
	free(logger.path);
	logger.path = NULL;
	logger.sink = LOG_SINK_STDERR;
	pthread_mutex_unlock(&logger.lock);
}

void
log_set_level(enum log_level level)
{
	logger.level = level;
}

int
log_enabled(enum log_level level)
{
	return level <= logger.level;
}

static void
log_emit(enum log_level level, const char *fmt, va_list ap, int with_errno)
{
	static const char	*names[] = { "error", "warning", "info",
				    "debug" };
	static const int	 prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
				    LOG_DEBUG };
	char			 line[LOG_LINE_MAX];
	size_t			 n = 0;
	int			 saved = errno, r;
	struct tm		 tm;
	struct timespec		 ts;

	if (!log_enabled(level))
		return;
	if (logger.sink != LOG_SINK_SYSLOG) {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ld %s: ",
		    ts.tv_nsec / 1000000, names[level]);
		n += r > 0 ? (size_t)r : 0;
	}
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (with_errno) {
		r = snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(saved));
		n = r < 0 ? n : n + (size_t)r;
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	if (logger.sink == LOG_SINK_SYSLOG) {
		syslog(prio[level], "%s", line);
	} else {
		line[n++] = '\n';
		pthread_mutex_lock(&logger.lock);
		if (write(logger.sink == LOG_SINK_FILE ? logger.fd :
		    STDERR_FILENO, line, n) == -1) {
			/* Nowhere left to report it. */
		}
		pthread_mutex_unlock(&logger.lock);
	}
	errno = saved;
}

#define LOG_FN(fn, level, with_errno)			\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	ap;					\
							\
	va_start(ap, fmt);				\
	log_emit(level, fmt, ap, with_errno);		\
	va_end(ap);					\
}

LOG_FN(log_warn, LOG_LEVEL_WARNING, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARNING, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap, 1);
	va_end(ap);
	exit(2);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap, 0);
	va_end(ap);
	exit(2);
}

char *
log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 c;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}
