/*
 * imapproxyctl: the admin client (SPEC.md section 6).  It sends one
 * command line to the daemon's stats socket (ctlsock.c) and prints the
 * JSON answer for people (ctlshow.c, ctlwho.c, ctlstats.c) or, with
 * --json, as it came.  The ACL commands also work offline (ctlacl.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bounds.h"
#include "conf.h"
#include "ctlacl.h"
#include "ctlshow.h"
#include "ctlsock.h"
#include "ctlstats.h"
#include "ctlwho.h"
#include "statsock.h"

#define DEFAULT_CONF	"/etc/imapproxy/imapproxy.conf"

/* Exit statuses of SPEC.md section 6. */
#define CTL_EXIT_OK		0
#define CTL_EXIT_ERROR		1	/* refused, an error, a usage error */
#define CTL_EXIT_UNREACHABLE	2	/* the socket cannot be reached */

struct ctl_opts {
	const char	*sock;		/* -s, or NULL */
	const char	*conf;		/* -c, or DEFAULT_CONF */
	int		 json;
};

struct ctl_cmd {
	const char	*word;
	const char	*sub;		/* second word, or NULL */
	int		 minargs;	/* after the words */
	int		 maxargs;
	const char	*ask;		/* request sent instead of the words */
	int		 offline;	/* may be answered without the daemon */
	int		(*show)(const json_t *, const char *);
					/* NULL: text, printed as is */
	const char	*usage;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "sessions", NULL, 0, 0, NULL, 0, ctlshow_sessions, "sessions" },
	{ "who", NULL, 0, 1, "sessions", 0, ctlwho_show, "who [PATTERN]" },
	{ "stats", NULL, 0, 0, NULL, 0, ctlstats_show, "stats" },
	{ "backends", NULL, 0, 0, NULL, 0, ctlshow_backends, "backends" },
	{ "backend", "enable", 1, 1, NULL, 0, ctlshow_backend,
	    "backend enable NAME" },
	{ "backend", "disable", 1, 1, NULL, 0, ctlshow_backend,
	    "backend disable NAME" },
	{ "kick", NULL, 1, 1, NULL, 0, ctlshow_kick, "kick USER|ID" },
	{ "reload", NULL, 0, 0, NULL, 0, ctlshow_reload, "reload" },
	{ "acl", "test", 2, 3, NULL, 1, ctlshow_acl_test,
	    "acl test SERVER IP [USER]" },
	{ "metrics", NULL, 0, 0, NULL, 0, NULL, "metrics" }
};

static const char ctl_help[] =
"NAME\n"
"    imapproxyctl - query and control a running imapproxyd\n"
"\n"
"SYNOPSIS\n"
"    imapproxyctl [-s SOCKET | -c CONFIG] [--json] COMMAND [ARGS] [--json]\n"
"    imapproxyctl acl check FILE [--json]\n"
"    imapproxyctl -h | --help\n"
"\n"
"DESCRIPTION\n"
"    Sends COMMAND to the stats socket of imapproxyd and prints the answer\n"
"    as a table for people, or with --json as the daemon's JSON document,\n"
"    byte for byte.  Tables have a header line and columns as wide as\n"
"    their data; \"-\" means none (null), \"?\" a value the daemon did not\n"
"    send or sent in an unexpected form.  Control characters, invalid\n"
"    UTF-8 and bidirectional overrides in names are shown as \\xNN or\n"
"    \\uNNNN, and a backslash as \\\\.  Byte counts use binary units\n"
"    (1.2K = 1.2 * 1024); ages read 3s, 5m, 2h05m, 3d04h.\n"
"\n"
"COMMANDS\n"
"    sessions\n"
"        One row per session: ID USER CLIENT COUNTRY SERVER BACKEND TLS\n"
"        STATE AGE IN OUT.  USER is \"-\" before login; AGE is the time\n"
"        since the client connected; IN and OUT are the bytes relayed\n"
"        from and to the client.\n"
"    who [PATTERN]\n"
"        One row per user, sorted by name: USER SESSIONS CLIENTS\n"
"        COUNTRIES BACKENDS TLS OLDEST.  CLIENTS are the distinct client\n"
"        addresses (no ports), COUNTRIES their GeoIP countries, BACKENDS\n"
"        the distinct back ends, TLS the protocols of the encrypted\n"
"        sessions, OLDEST the age of the user's oldest session (\"-\":\n"
"        none).  Without PATTERN, sessions not logged in yet are\n"
"        counted on a last row with USER \"-\".  PATTERN is a shell glob\n"
"        matched against user names ignoring case (quote it: 'alice*',\n"
"        '*@example.org'), or an exact session id; sessions not logged\n"
"        in match only by id.\n"
"    stats\n"
"        Uptime, reloads, connections accepted/active/refused, logins\n"
"        ok/failed, bytes in and out, TLS handshake failures; then a\n"
"        table per server, one per back end, and the count of clients\n"
"        each ACL rule denied (SERVER RULE COUNT).\n"
"    backends\n"
"        NAME ADDRESS POOL STATE SESSIONS LAST-CHECK, where STATE is up,\n"
"        down or disabled and LAST-CHECK the age of the last health\n"
"        check (\"-\": none yet, or checks disabled).\n"
"    backend enable NAME, backend disable NAME\n"
"        A disabled back end gets no new sessions; existing ones stay.\n"
"        Prints \"NAME: STATE\", the back end's state afterwards.\n"
"    kick USER|ID\n"
"        Closes every session of USER (named as the server's rules\n"
"        see it), or the session ID, with \"* BYE Session terminated\n"
"        by administrator\".  Prints \"kicked N sessions\"; none\n"
"        matching is an error.\n"
"    reload\n"
"        Like SIGHUP.  Prints the files reloaded and the listeners\n"
"        opened and closed; warnings go to stderr.  On failure the\n"
"        running configuration stays, and each error goes to stderr.\n"
"    acl test SERVER IP [USER]\n"
"        The ACL decision for a client of SERVER at IP logging in as\n"
"        USER, on two lines: \"DECISION<TAB>RULE\" (RULE is\n"
"        FILE:LINE: TEXT, or default), then the facts it used.  When\n"
"        no stats_socket is configured, or the daemon cannot be\n"
"        reached (a note says so on stderr), it is decided offline\n"
"        from CONFIG, with the same DNS and GeoIP lookups.\n"
"    acl check FILE\n"
"        Validates an ACL file offline; errors as FILE:LINE: messages.\n"
"    metrics\n"
"        The Prometheus text exposition, unchanged (also with --json).\n"
"\n"
"OPTIONS\n"
"    -s SOCKET   the daemon's stats socket\n"
"    -c CONFIG   the configuration naming it (stats_socket), and the\n"
"                one acl test decides from offline; default\n"
"                " DEFAULT_CONF "\n"
"    --json      print the daemon's JSON document unchanged, and exit\n"
"                by its \"ok\"; may also follow the command.  An answer\n"
"                that is not JSON is not printed (exit 1)\n"
"    -h, --help  this text\n"
"\n"
"SOCKET\n"
"    -s SOCKET when given; otherwise stats_socket of CONFIG, which must\n"
"    then be a valid configuration (its errors are printed, exit 1).  A\n"
"    CONFIG without stats_socket is exit 2 (acl test decides offline\n"
"    instead).  -s and -c may be given together: -s names the socket,\n"
"    -c the configuration acl test falls back on.  The whole exchange\n"
"    is bounded by 30 seconds and a 64 MiB answer.\n"
"\n"
"EXIT STATUS\n"
"    0   success\n"
"    1   the daemon refused or reported an error (\"ok\": false), its\n"
"        answer was missing, late or unparsable, or a usage error\n"
"    2   the socket cannot be reached (missing, refused, no permission,\n"
"        or no stats_socket configured)\n"
"\n"
"EXAMPLES\n"
"    imapproxyctl who 'alice*'\n"
"    imapproxyctl -s /run/imapproxy/stats.sock backend disable store1\n"
"    imapproxyctl sessions --json | jq -r '.sessions[].user'\n";

static void
usage(void)
{
	fprintf(stderr,
	    "usage: imapproxyctl [-s SOCKET | -c CONFIG] COMMAND [ARGS] "
	    "[--json]\n"
	    "commands: sessions, who [PATTERN], stats, backends,\n"
	    "  backend enable|disable NAME, kick USER|ID, reload, metrics,\n"
	    "  acl test SERVER IP [USER], acl check FILE\n"
	    "'imapproxyctl --help' explains each.\n");
}

/* Parses the options; -1 to exit with *rc_r, or the first operand. */
static int
ctl_options(int argc, char *argv[], struct ctl_opts *o, int *rc_r)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	o->conf = DEFAULT_CONF;
	/* "+": what follows the command is its own, "-x" user names too. */
	while ((ch = getopt_long(argc, argv, "+c:s:h", longopts, NULL)) != -1)
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			fputs(ctl_help, stdout);
			*rc_r = CTL_EXIT_OK;
			return -1;
		default:
			usage();
			*rc_r = CTL_EXIT_ERROR;
			return -1;
		}
	return optind;
}

/* Drops every "--json" from argv, noting it; returns the new argc. */
static int
ctl_json_args(int argc, char *argv[], struct ctl_opts *o)
{
	int	i, n = 0;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else
			argv[n++] = argv[i];
	return n;
}

/* The command argv names; NULL after saying what is wrong. */
static const struct ctl_cmd *
ctl_find(int argc, char *argv[])
{
	const struct ctl_cmd	*c;
	size_t			 i;
	int			 nwords;

	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		c = &ctl_cmds[i];
		nwords = c->sub != NULL ? 2 : 1;
		if (strcmp(argv[0], c->word) != 0 || (c->sub != NULL &&
		    (argc < 2 || strcmp(argv[1], c->sub) != 0)))
			continue;
		if (argc - nwords >= c->minargs && argc - nwords <= c->maxargs)
			return c;
		fprintf(stderr, "usage: imapproxyctl [-s SOCKET | -c CONFIG] "
		    "%s [--json]\n", c->usage);
		return NULL;
	}
	fprintf(stderr, "imapproxyctl: unknown command: %s%s%s\n", argv[0],
	    argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	usage();
	return NULL;
}

/*
 * The socket to ask into *path_r: -s, else CONFIG's stats_socket; NULL
 * when an offline command is to be answered offline.  A configuration
 * read goes to *conf_r for the caller to free.  Returns 0, or the exit
 * status after saying why not.
 */
static int
ctl_socket(const struct ctl_opts *o, const struct ctl_cmd *cmd,
    struct conf **conf_r, const char **path_r)
{
	static char	err[CONF_MAX_ERRTEXT];

	*path_r = o->sock;
	/* With -s, the configuration only serves an offline fallback. */
	if (o->sock != NULL && !cmd->offline)
		return 0;
	*conf_r = conf_load(o->conf, err, sizeof(err));
	if (o->sock != NULL)
		return 0;
	if (*conf_r == NULL) {
		fprintf(stderr, "%s\n", err);
		return CTL_EXIT_ERROR;
	}
	if ((*path_r = (*conf_r)->stats_socket) == NULL && !cmd->offline) {
		fprintf(stderr, "imapproxyctl: %s: no stats_socket configured; "
		    "name the socket with -s\n", o->conf);
		return CTL_EXIT_UNREACHABLE;
	}
	return 0;
}

/* The offline answer of acl test: argv is "acl test SERVER IP [USER]". */
static int
ctl_offline(const struct ctl_opts *o, int argc, char *argv[])
{
	return ctlacl_test(o->conf, argv[2], argv[3], argc == 5 ? argv[4] :
	    NULL, o->json);
}

/*
 * Prints the answer; returns the exit status.  Under --json the answer
 * is printed only once it parses, so stdout never holds half a document
 * for a script to choke on.
 */
static int
ctl_answer(const struct ctl_opts *o, const struct ctl_cmd *cmd,
    const char *answer, size_t len, const char *arg)
{
	json_t	*doc;
	int	 rc;

	/* metrics: text, unless the daemon had to say it failed */
	if (cmd->show == NULL && answer[0] != '{') {
		fwrite(answer, 1, len, stdout);
		return CTL_EXIT_OK;
	}
	if ((doc = ctlshow_parse(answer, len)) == NULL)
		return CTL_EXIT_ERROR;
	if (o->json) {
		fwrite(answer, 1, len, stdout);
		rc = json_is_true(json_object_get(doc, "ok")) ? CTL_EXIT_OK :
		    CTL_EXIT_ERROR;
	} else if (!ctlshow_ok(doc))
		rc = CTL_EXIT_ERROR;
	else if (cmd->show == NULL) {
		fwrite(answer, 1, len, stdout);
		rc = CTL_EXIT_OK;
	} else
		rc = cmd->show(doc, arg);
	json_decref(doc);
	return rc;
}

/* The request line for cmd: its ask, or the words as typed. */
static int
ctl_request(const struct ctl_cmd *cmd, int argc, char *argv[], char *line,
    size_t len)
{
	char	ask[32], *words[] = { ask }, err[256];

	if (cmd->ask != NULL) {
		snprintf(ask, sizeof(ask), "%s", cmd->ask);
		argv = words;
		argc = 1;
	}
	if (ctlsock_request(argv, argc, line, len, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "imapproxyctl: %s\n", err);
	return -1;
}

/* Asks the daemon at path; returns the exit status. */
static int
ctl_ask(const struct ctl_opts *o, const struct ctl_cmd *cmd,
    const struct conf *conf, const char *path, int argc, char *argv[])
{
	enum ctlsock_status	 st;
	char			 line[STATS_MAX_REQUEST + 1], err[512];
	char			*answer = NULL;
	size_t			 len;
	int			 rc, nwords = cmd->sub != NULL ? 2 : 1;

	if (ctl_request(cmd, argc, argv, line, sizeof(line)) == -1)
		return CTL_EXIT_ERROR;
	st = ctlsock_query(path, line, &answer, &len, err, sizeof(err));
	if (st == CTLSOCK_UNREACHABLE && cmd->offline && conf != NULL) {
		fprintf(stderr, "imapproxyctl: daemon not reachable; deciding "
		    "offline from %s\n", o->conf);
		return ctl_offline(o, argc, argv);
	}
	if (st == CTLSOCK_UNREACHABLE) {
		fprintf(stderr, "imapproxyctl: cannot reach %s: %s\n", path,
		    err);
		return CTL_EXIT_UNREACHABLE;
	}
	if (st == CTLSOCK_FAILED) {
		fprintf(stderr, "imapproxyctl: %s: %s\n", path, err);
		return CTL_EXIT_ERROR;
	}
	rc = ctl_answer(o, cmd, answer, len, argc > nwords ? argv[nwords] :
	    NULL);
	free(answer);
	return rc;
}

static int
ctl_run(const struct ctl_opts *o, int argc, char *argv[])
{
	const struct ctl_cmd	*cmd;
	struct conf		*conf = NULL;
	const char		*path;
	int			 rc;

	/* Offline only: no socket, no configuration. */
	if (argc >= 2 && strcmp(argv[0], "acl") == 0 &&
	    strcmp(argv[1], "check") == 0) {
		if (argc == 3)
			return ctlacl_check(argv[2], o->json);
		fprintf(stderr, "usage: imapproxyctl acl check FILE "
		    "[--json]\n");
		return CTL_EXIT_ERROR;
	}
	if ((cmd = ctl_find(argc, argv)) == NULL)
		return CTL_EXIT_ERROR;
	rc = ctl_socket(o, cmd, &conf, &path);
	if (rc == 0 && path == NULL)
		rc = ctl_offline(o, argc, argv);
	else if (rc == 0)
		rc = ctl_ask(o, cmd, conf, path, argc, argv);
	conf_free(&conf);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct ctl_opts	o;
	int		rc = CTL_EXIT_OK, first;

	memset(&o, 0, sizeof(o));
	if ((first = ctl_options(argc, argv, &o, &rc)) == -1)
		return rc;
	argc = ctl_json_args(argc - first, argv + first, &o);
	argv += first;
	if (argc == 0) {
		usage();
		return CTL_EXIT_ERROR;
	}
	rc = ctl_run(&o, argc, argv);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("imapproxyctl: stdout");
		rc = CTL_EXIT_ERROR;
	}
	return rc;
}
