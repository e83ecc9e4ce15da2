/*
 * A growing output buffer with JSON string escaping, for the stats
 * socket's answers.  Any byte may come from a client (user names), so
 * strings are escaped and invalid UTF-8 becomes U+FFFD: the output is
 * always valid JSON.  Allocation failures are sticky: check ->failed
 * once at the end.
 */
#ifndef JSONW_H
#define JSONW_H

#include <stddef.h>

struct jsonw {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

void	jsonw_init(struct jsonw *j);
void	jsonw_free(struct jsonw *j);
/* Appends text as is. */
void	jsonw_raw(struct jsonw *j, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string, or null when s is NULL. */
void	jsonw_str(struct jsonw *j, const char *s);
/* Appends "key": before a value; comma handling is the caller's. */
void	jsonw_key(struct jsonw *j, const char *key);
/* Appends s escaped as a Prometheus label value (\\, \" and \n). */
void	jsonw_label(struct jsonw *j, const char *s);

#endif
