/*
 * Logging, after OpenBSD relayd's log.c: stderr, syslog or a file, with
 * a threshold.  Safe to call from any thread.  Never pass secrets.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/*
 * Sets the destination: "stderr", "syslog" or "syslog:FACILITY", or a
 * file path (opened for append).  Returns 0, or -1 with errno set.
 */
int	log_open(const char *dest, enum log_level level, const char *ident);
/* Reopens a log file after rotation (SIGUSR1); no-op for stderr/syslog. */
int	log_reopen(void);
/*
 * Closes the destination and frees what log_open() kept; later messages
 * go to stderr.  Call at exit, once no other thread logs.
 */
void	log_close(void);
void	log_set_level(enum log_level);
int	log_enabled(enum log_level);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copies at most srclen bytes of untrusted src into dst as printable
 * ASCII (\xNN for others), always NUL-terminated.  Returns dst.
 */
char	*log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
