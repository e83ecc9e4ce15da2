/*
 * imapproxyctl: the admin client (SPEC.md section 6).  The commands that
 * talk to the stats socket come with it; the ACL commands work offline.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctlacl.h"

#define DEFAULT_CONF	"/etc/imapproxy/imapproxy.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: imapproxyctl [-s SOCKET | -c CONFIG] COMMAND [--json]\n"
	    "\n"
	    "Offline commands:\n"
	    "  acl check FILE              validate an ACL file; exit 1 with\n"
	    "                              FILE:LINE messages on mistakes\n"
	    "  acl test SERVER IP [USER]   the decision for a client of SERVER\n"
	    "                              (from CONFIG) at IP, logging in as\n"
	    "                              USER, and the deciding rule; does\n"
	    "                              the DNS and GeoIP lookups it needs\n"
	    "\n"
	    "Stats socket commands (not supported yet): sessions, who,\n"
	    "  stats, backends, backend enable|disable NAME, kick USER|ID,\n"
	    "  reload, metrics\n"
	    "\n"
	    "Options:\n"
	    "  -c CONFIG   configuration (default " DEFAULT_CONF ")\n"
	    "  -s SOCKET   the daemon's stats socket\n"
	    "  --json      JSON instead of a table\n"
	    "\n"
	    "Exit status: 0 success, 1 refused or an error, 2 the socket\n"
	    "cannot be reached.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*conf = DEFAULT_CONF;
	int		 ch, json = 0;

	while ((ch = getopt_long(argc, argv, "+c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	/* --json may also follow the command. */
	if (argc > 0 && strcmp(argv[argc - 1], "--json") == 0) {
		json = 1;
		argc--;
	}
	if (argc == 3 && strcmp(argv[0], "acl") == 0 &&
	    strcmp(argv[1], "check") == 0)
		return ctlacl_check(argv[2], json);
	if ((argc == 4 || argc == 5) && strcmp(argv[0], "acl") == 0 &&
	    strcmp(argv[1], "test") == 0)
		return ctlacl_test(conf, argv[2], argv[3],
		    argc == 5 ? argv[4] : NULL, json);
	if (argc == 0) {
		usage(stderr);
		return 1;
	}
	fprintf(stderr, "imapproxyctl: %s: the stats socket is not "
	    "supported yet\n", argv[0]);
	return 2;
}
