/*
 * imapproxyd: the front-end IMAP proxy daemon (SPEC.md section 2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ares.h>
#include <ev.h>
#include <maxminddb.h>
#include <openssl/crypto.h>

#include "bounds.h"
#include "conf.h"
#include "log.h"
#include "process.h"
#include "runtime.h"
#include "stats.h"
#include "supervisor.h"

#define DEFAULT_CONF	"/etc/imapproxy/imapproxy.conf"

#define EXIT_CONFIG	1
#define EXIT_RUNTIME	2

static void
usage(void)
{
	fprintf(stderr, "usage: imapproxyd [-c FILE] [-t] [-f] [-v]\n"
	    "  -c FILE   configuration (default " DEFAULT_CONF ")\n"
	    "  -t        check the configuration and every file it names\n"
	    "  -f        stay in the foreground\n"
	    "  -v        print version and library versions\n");
	exit(EXIT_CONFIG);
}

static void
print_versions(void)
{
	printf("imapproxyd %s\n", IMAPPROXY_VERSION);
	printf("  OpenSSL      %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("  libev        %d.%d\n", ev_version_major(),
	    ev_version_minor());
	printf("  inih         r%s\n", INIH_VERSION);
	printf("  libmaxminddb %s\n", MMDB_lib_version());
	printf("  c-ares       %s\n", ares_version(NULL));
}

/* Loads and checks everything; prints every problem; NULL on failure. */
static struct runtime *
load(const char *path)
{
	static char	 err[CONF_MAX_ERRTEXT];
	struct conf	*conf;
	struct runtime	*rt;

	err[0] = '\0';
	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	if ((rt = runtime_new(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	return rt;
}

static int
open_log(const struct conf *conf, int foreground)
{
	char		 dest[4096];
	const char	*d = foreground ? "stderr" : "syslog";

	if (conf->log_dest_set) {
		if (conf->log_dest == CONF_LOG_FILE)
			d = conf->log_file;
		else if (conf->log_dest == CONF_LOG_STDERR)
			d = "stderr";
		else if (conf->log_facility != NULL) {
			snprintf(dest, sizeof(dest), "syslog:%s",
			    conf->log_facility);
			d = dest;
		} else
			d = "syslog";
	}
	if (log_open(d, conf->log_level, "imapproxyd") == -1) {
		fprintf(stderr, "imapproxyd: log %s: %s\n", d,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char		*path = DEFAULT_CONF;
	struct runtime		*rt;
	struct supervisor	*sv = NULL;
	char			 err[1024];
	int			 ch, check = 0, foreground = 0, status;

	while ((ch = getopt(argc, argv, "c:tfvh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			print_versions();
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((rt = load(path)) == NULL) {
		status = EXIT_CONFIG;
		goto done;
	}
	if (check) {
		fprintf(stderr, "%s: configuration is valid\n", path);
		status = 0;
		goto done;
	}
	status = EXIT_RUNTIME;
	if (open_log(rt->conf, foreground) == -1)
		goto done;
	process_raise_nofile();
	if ((sv = supervisor_new(rt, path, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		fprintf(stderr, "imapproxyd: %s\n", err);
		goto done;
	}
	if ((!foreground && process_daemonize(err, sizeof(err)) == -1) ||
	    (rt->conf->pidfile != NULL && process_write_pidfile(
	    rt->conf->pidfile, err, sizeof(err)) == -1) ||
	    process_drop_privileges(rt->conf->user, rt->conf->group, err,
	    sizeof(err)) == -1) {
		log_error("%s", err);
		goto done;
	}
	status = supervisor_run(sv);
	supervisor_free(&sv);
	process_remove_pidfile(rt->conf->pidfile);
done:
	/* Everything is freed, so LeakSanitizer can vouch for a clean stop. */
	supervisor_free(&sv);
	runtime_free(&rt);
	stats_free_all();
	log_close();
	return status;
}
