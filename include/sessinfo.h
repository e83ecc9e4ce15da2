/*
 * A copy of what the stats socket shows of one session, taken by the
 * session's own worker so the main thread can format it at leisure,
 * after the session (and its configuration) may be gone.
 */
#ifndef SESSINFO_H
#define SESSINFO_H

#include <netinet/in.h>

#include <stdint.h>

#include "bounds.h"

struct sess;

struct sess_info {
	char		 id[17];
	char		 user[AUTH_MAX_USER + 1];
	int		 has_user;		/* logged in */
	char		 client[INET6_ADDRSTRLEN + 8];
	char		 country[3];		/* "" unknown */
	char		 server[CONF_MAX_NAME + 1];
	char		 listener[64];
	char		 backend[CONF_MAX_NAME + 1]; /* "" none */
	const char	*tls;			/* static; NULL: plaintext */
	const char	*state;			/* static */
	long long	 since;			/* unix seconds */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
};

void	sess_info_fill(const struct sess *s, struct sess_info *si);
/*
 * Whether match names s: its id, or its user (compared as the server
 * canonicalises names for its rules).
 */
int	sess_info_matches(const struct sess *s, const char *match);

#endif
