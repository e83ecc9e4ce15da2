/*
 * Startup chores: daemonizing, the pid file, privileges, rlimits.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process.h"

int
process_daemonize(char *err, size_t len)
{
	pid_t	pid;
	int	fd;

	if ((pid = fork()) == -1) {
		snprintf(err, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid != 0)
		_exit(0);
	if (setsid() == -1) {
		snprintf(err, len, "setsid: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") == -1) {
		snprintf(err, len, "chdir /: %s", strerror(errno));
		return -1;
	}
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

int
process_write_pidfile(const char *path, char *err, size_t len)
{
	char	buf[32];
	int	fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, len, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		snprintf(err, len, "pidfile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
process_remove_pidfile(const char *path)
{
	if (path != NULL)
		(void)unlink(path);
}

int
process_drop_privileges(const char *user, const char *group, char *err,
    size_t len)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	if (user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, len, "user %s: no such user", user);
		return -1;
	}
	gid = pw->pw_gid;
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, len, "group %s: no such group", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, len, "dropping privileges to %s: %s", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

unsigned long
process_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}
