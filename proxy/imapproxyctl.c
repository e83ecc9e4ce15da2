/*
 * imapproxyctl: the admin client of the stats socket (SPEC.md section 6).
 * The stats socket itself is not built yet; this says so plainly.
 */
#include <stdio.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: imapproxyctl [-s SOCKET | -c CONFIG] COMMAND "
	    "[--json]\n"
	    "commands: sessions, who [PATTERN], stats, backends,\n"
	    "  backend enable|disable NAME, kick USER|ID, reload,\n"
	    "  acl test SERVER IP [USER], acl check FILE, metrics\n");
}

int
main(int argc, char *argv[])
{
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	fprintf(stderr, "imapproxyctl: the stats socket is not supported "
	    "yet\n");
	return 2;
}
