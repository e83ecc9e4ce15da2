/*
 * Live reload (SIGHUP and the stats socket's `reload`): the
 * configuration, every ACL and routes file, the certificates and GeoIP
 * databases are loaded and checked whole; only then do the workers
 * switch, each between two callbacks.  New sessions get the new
 * runtime; established ones keep theirs until they end.  Listening
 * sockets whose address stays are handed over, never closed, so no
 * connection is refused during a reload.
 */
#ifndef RELOAD_H
#define RELOAD_H

#include "bounds.h"

struct supervisor;

struct reload_report {
	int	 ok;
	char	 errors[CONF_MAX_ERRTEXT];	/* FILE:LINE: ..., per line */
	char	 files[8192];		/* what was loaded, per line */
	char	 opened[2048];		/* listeners, per line */
	char	 closed[2048];
	char	 warnings[4096];	/* keys that need a restart */
};

typedef void	reload_done_cb(struct supervisor *sv,
		    const struct reload_report *report, void *arg);

/*
 * Starts a reload; cb (may be NULL) gets the outcome once the workers
 * have switched, or at once when a file fails.  Returns -1 (and calls
 * nothing) when a reload is already under way or the daemon stops.
 */
int	reload_start(struct supervisor *sv, reload_done_cb *cb, void *arg);

#endif
