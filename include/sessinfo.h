/*
 * A copy of what the stats socket shows of one session, taken by the
 * session's own worker so the main thread can format it at leisure,
 * after the session may be gone.  Kept small, because the copy is what
 * the worker's relaying waits for: names point into the runtimes the
 * copy holds references to, and user names into one shared arena.
 */
#ifndef SESSINFO_H
#define SESSINFO_H

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

struct runtime;
struct sess;

struct sess_info {
	char		 id[17];
	char		 country[3];		/* "" unknown */
	char		 client[INET6_ADDRSTRLEN + 8];
	const char	*user;			/* NULL: not logged in */
	const char	*server;
	const char	*listener;
	const char	*backend;		/* NULL: none */
	const char	*tls;			/* NULL: plaintext */
	const char	*state;
	long long	 since;			/* unix seconds */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
};

/* Every session of a worker, and what their pointers point into. */
struct sess_infos {
	struct sess_info	*v;
	size_t			 n;
	char			*users;		/* arena of user names */
	size_t			 userslen;
	size_t			 userscap;
	struct runtime	       **rts;		/* references held */
	size_t			 nrts;
	size_t			 rtscap;
};

/* Appends a copy of s; -1 when out of memory.  v has room (cap). */
int	sess_infos_add(struct sess_infos *si, const struct sess *s);
/* Once every session is in: user names become pointers. */
void	sess_infos_finish(struct sess_infos *si);
/* Frees everything and drops the references; from any thread. */
void	sess_infos_clear(struct sess_infos *si);
/*
 * Whether match names s: its id, or its user (compared as the server
 * canonicalises names for its rules).
 */
int	sess_info_matches(const struct sess *s, const char *match);

#endif
