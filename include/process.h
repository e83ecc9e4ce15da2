/*
 * The process around the daemon: detaching, the pid file, dropping
 * privileges and the file descriptor limit.  Startup only.
 */
#ifndef PROCESS_H
#define PROCESS_H

#include <stddef.h>

/* Forks into the background and detaches; returns 0 in the child. */
int	process_daemonize(char *err, size_t len);
/* Writes our pid to path; returns 0 or -1 with a message. */
int	process_write_pidfile(const char *path, char *err, size_t len);
void	process_remove_pidfile(const char *path);
/*
 * When running as root and user is set: switches to user and group
 * (group defaults to the user's).  Returns 0 or -1 with a message.
 */
int	process_drop_privileges(const char *user, const char *group,
	    char *err, size_t len);
/* Raises the soft open-files limit to the hard one; returns it. */
unsigned long process_raise_nofile(void);

#endif
