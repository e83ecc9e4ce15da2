/*
 * conf.c: tables of good and bad configuration files, written into a
 * temporary folder and loaded with conf_load(); bad files must produce
 * exactly the expected messages, every one of them.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounds.h"
#include "conf.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The sections a file needs, after the lines a case is about. */
#define SRV		"[server s]\nlisten = 127.0.0.1:143\n"
#define BE		"[backend b]\naddress = 127.0.0.1:1143\n"
#define BASE		SRV BE

static char	 tmpdir[PATH_MAX];
static char	 olddir[PATH_MAX];
static char	 errbuf[CONF_MAX_ERRTEXT];

/* Writes text (len bytes) to x.conf in tmpdir and loads it. */
static struct conf *
load_len(const char *text, size_t len, char *err, size_t errlen)
{
	FILE	*f;

	assert_non_null(f = fopen("x.conf", "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return (conf_load("x.conf", err, errlen));
}

static struct conf *
load(const char *text)
{
	return (load_len(text, strlen(text), errbuf, sizeof(errbuf)));
}

/* Loads a file that must be good and shows why when it is not. */
static struct conf *
load_good(const char *text)
{
	struct conf	*c;

	if ((c = load(text)) == NULL)
		fail_msg("unexpected errors:\n%s", errbuf);
	assert_string_equal(errbuf, "");
	return (c);
}

/* Returns 0 when text fails to load with exactly want, else -1. */
static int
check_bad(const char *text, const char *want)
{
	struct conf	*c;

	if ((c = load(text)) == NULL && strcmp(errbuf, want) == 0)
		return (0);
	conf_free(&c);
	print_error("file:\n%s\nwant:\n%s\ngot:\n%s\n\n", text, want,
	    errbuf);
	return (-1);
}

static void
expect_bad(const char *text, const char *want)
{
	if (check_bad(text, want) == -1)
		fail();
}

static const struct {
	const char	*text;
	const char	*err;
} bad[] = {
	/* Structure. */
	{ "", "x.conf:1: no [server NAME] section, at least one is required\n"
	    "x.conf:1: no [backend NAME] section, at least one is required" },
	{ "[frontend]\n" BASE, "x.conf:1: unknown section [frontend], expected "
	    "[global], [server NAME] or [backend NAME]" },
	{ "[global\n" BASE, "x.conf:1: section header without ], expected "
	    "[global], [server NAME] or [backend NAME]" },
	{ "[global] x\n" BASE, "x.conf:1: unexpected \" x\" after ], expected "
	    "nothing or a comment" },
	{ "[global x]\n" BASE, "x.conf:1: [global] takes no name, got "
	    "[global x]" },
	{ "[server]\nlisten = 127.0.0.1:143\n" BE, "x.conf:1: [server] needs "
	    "a name, expected [server NAME]\n"
	    "x.conf:4: no [server NAME] section, at least one is required" },
	{ "[server a/b]\n" BASE, "x.conf:1: [server a/b]: expected a name of "
	    "1-63 letters, digits, '.', '-' or '_'" },
	{ "[global]\n[global]\nuser = x\n" BASE, "x.conf:2: [global] "
	    "repeated, first at line 1" },
	{ BASE "[server s]\nlisten = 127.0.0.2:143\n", "x.conf:5: "
	    "[server s] repeated, first at line 1" },
	{ BASE "[backend b]\naddress = 127.0.0.1:1\n", "x.conf:5: "
	    "[backend b] repeated, first at line 3" },
	{ "user = x\n" BASE, "x.conf:1: user: key outside a section, "
	    "expected [global], [server NAME] or [backend NAME] before it" },
	{ "[global]\nwokers = 2\n" BASE,
	    "x.conf:2: [global] wokers: unknown key" },
	{ "[global]\nlisten = 1.2.3.4:143\n" BASE, "x.conf:2: [global] "
	    "listen: not allowed here, only in [server NAME]" },
	{ SRV "max_connections = 5\n" BE, "x.conf:3: [server s] "
	    "max_connections: not allowed here, only in [global] or "
	    "[backend NAME]" },
	{ "[global]\nworkers = 2\nworkers = 3\n" BASE, "x.conf:3: [global] "
	    "workers: repeated, first set at line 2" },
	{ "[global]\nuser\n" BASE, "x.conf:2: expected KEY = VALUE, a "
	    "[section] or a comment, got \"user\"" },
	{ "[global]\nuser: x\n" BASE, "x.conf:2: expected KEY = VALUE, a "
	    "[section] or a comment, got \"user: x\"" },
	{ "  tls\n" BASE, "x.conf:1: expected KEY = VALUE, a [section] or a "
	    "comment, got \"tls\"" },
	{ "[global]\nuser = a\n  b\n" BASE, "x.conf:3: [global] user: "
	    "continuation line, only lists may go on over indented lines" },
	{ "[global]\nwokers = 2\n  3\n" BASE,
	    "x.conf:2: [global] wokers: unknown key" },
	{ "[global]\nuser = a\n\tb\n  c\n" BASE, "x.conf:3: [global] user: "
	    "continuation line, only lists may go on over indented lines" },

	/* Types and ranges. */
	{ SRV "require_tls = maybe\n" BE, "x.conf:3: [server s] require_tls: "
	    "expected yes or no, got \"maybe\"" },
	{ BASE "tls_verify = maybe\n", "x.conf:5: [backend b] tls_verify: "
	    "expected yes or no, got \"maybe\"" },
	{ "[global]\nmax_connections = 0\n" BASE, "x.conf:2: [global] "
	    "max_connections: must be a number 1-1000000, got \"0\"" },
	{ "[global]\nmax_connections = -1\n" BASE, "x.conf:2: [global] "
	    "max_connections: must be a number 1-1000000, got \"-1\"" },
	{ "[global]\nmax_connections = 99999999999\n" BASE, "x.conf:2: "
	    "[global] max_connections: must be a number 1-1000000, got "
	    "\"99999999999\"" },
	{ "[global]\nworkers = 0\n" BASE, "x.conf:2: [global] workers: "
	    "expected auto or a number 1-256, got \"0\"" },
	{ "[global]\nworkers = 257\n" BASE, "x.conf:2: [global] workers: "
	    "expected auto or a number 1-256, got \"257\"" },
	{ "[global]\nshutdown_timeout = 2h\n" BASE, "x.conf:2: [global] "
	    "shutdown_timeout: expected a duration from 0 to 1h (500ms, 30s, "
	    "10m, 2h, 1d), got \"2h\"" },
	{ SRV "login_timeout = -5s\n" BE, "x.conf:3: [server s] "
	    "login_timeout: expected a duration from 1s to 1h (500ms, 30s, "
	    "10m, 2h, 1d), got \"-5s\"" },
	{ SRV "idle_timeout = 10 m\n" BE, "x.conf:3: [server s] "
	    "idle_timeout: expected a duration from 1s to 7d (500ms, 30s, "
	    "10m, 2h, 1d), got \"10 m\"" },
	{ BASE "connect_timeout = 10ms\n", "x.conf:5: [backend b] "
	    "connect_timeout: expected a duration from 100ms to 5m (500ms, "
	    "30s, 10m, 2h, 1d), got \"10ms\"" },
	{ "[global]\nstats_socket_mode = 0800\n" BASE, "x.conf:2: [global] "
	    "stats_socket_mode: expected an octal mode 0000-0777, got "
	    "\"0800\"" },
	{ "[global]\nstats_socket_mode = 1777\n" BASE, "x.conf:2: [global] "
	    "stats_socket_mode: expected an octal mode 0000-0777, got "
	    "\"1777\"" },
	{ "[global]\nlog_level = verbose\n" BASE, "x.conf:2: [global] "
	    "log_level: expected error, warning, info or debug, got "
	    "\"verbose\"" },
	{ "[global]\nlog = syslog:kern\n" BASE, "x.conf:2: [global] log: "
	    "unknown syslog facility \"kern\", expected daemon, mail, user or "
	    "local0-local7" },
	{ "[global]\nlog = syslg\n" BASE, "x.conf:2: [global] log: expected "
	    "syslog, syslog:FACILITY, stderr or a file path with a /, got "
	    "\"syslg\"" },
	{ "[global]\nuser =\n" BASE,
	    "x.conf:2: [global] user: must not be empty" },
	{ SRV "greeting = a\tb\n" BE, "x.conf:3: [server s] greeting: must "
	    "not contain control characters" },
	{ SRV "username_case = upper\n" BE, "x.conf:3: [server s] "
	    "username_case: expected lower or keep, got \"upper\"" },
	{ BASE "tls = maybe\n", "x.conf:5: [backend b] tls: expected no, "
	    "starttls or yes, got \"maybe\"" },
	{ BASE "weight = 0\n", "x.conf:5: [backend b] weight: must be a "
	    "number 1-1000, got \"0\"" },
	{ BASE "tls_server_name = a b\n", "x.conf:5: [backend b] "
	    "tls_server_name: expected a host name, got \"a b\"" },
	{ BASE "pool = a:b\n", "x.conf:5: [backend b] pool: expected a name "
	    "of 1-63 letters, digits, '.', '-' or '_', got \"a:b\"" },
	{ SRV "default_domain = @example.org\n" BE, "x.conf:3: [server s] "
	    "default_domain: expected a domain such as example.org (no @), or "
	    "nothing, got \"@example.org\"" },

	/* Listeners and certificates. */
	{ "[server default]\nlisten = 0.0.0.0:70000\n" BE, "x.conf:2: "
	    "[server default] listen: port must be 1-65535, got \"70000\"" },
	{ SRV "listen = 127.0.0.1:0\n" BE, "x.conf:3: [server s] listen: "
	    "port must be 1-65535, got \"0\"" },
	{ SRV "listen = localhost:143\n" BE, "x.conf:3: [server s] listen: "
	    "expected an IPv4 address, [IPv6 address] or *, got "
	    "\"localhost\"" },
	{ SRV "listen = ::1:143\n" BE, "x.conf:3: [server s] listen: an IPv6 "
	    "address goes in brackets, [ADDR]:PORT, got \"::1:143\"" },
	{ SRV "listen = [::1]\n" BE, "x.conf:3: [server s] listen: expected "
	    "ADDR:PORT [tls|starttls|proxy], got \"[::1]\"" },
	{ SRV "listen = [1.2.3.4]:143\n" BE, "x.conf:3: [server s] listen: "
	    "expected an IPv4 address, [IPv6 address] or *, got \"1.2.3.4\"" },
	{ SRV "listen = 127.0.0.1:993 tls starttls\ntls_cert = a.pem\n" BE,
	    "x.conf:3: [server s] listen: 127.0.0.1:993: flags tls and "
	    "starttls exclude each other, use one listener for each" },
	{ SRV "listen = 127.0.0.1:993 ssl\n" BE, "x.conf:3: [server s] "
	    "listen: unknown flag \"ssl\", expected tls, starttls or proxy" },
	{ "[server s]\nlisten =\n" BE, "x.conf:2: [server s] listen: no "
	    "address, expected ADDR:PORT [tls|starttls|proxy]" },
	{ "[server s]\ngreeting = hi\n" BE, "x.conf:1: [server s] listen: "
	    "required, expected listen = ADDR:PORT [tls|starttls|proxy]" },
	{ "[server s]\nlisten = 127.0.0.1:143\nlisten = [::1]:993 tls\n" BE,
	    "x.conf:3: [server s] listen: [::1]:993 tls needs a tls_cert in "
	    "this [server]" },
	{ "[server s]\nlisten = 127.0.0.1:143, 127.0.0.1:144 starttls\n" BE,
	    "x.conf:2: [server s] listen: 127.0.0.1:144 starttls needs a "
	    "tls_cert in this [server]" },
	{ SRV "[server t]\nlisten = 127.0.0.2:143, 127.0.0.1:143\n" BE,
	    "x.conf:4: [server t] listen: 127.0.0.1:143 already used at "
	    "line 2" },
	{ SRV "listen = *:143\n[server t]\nlisten = 0.0.0.0:143\n" BE,
	    "x.conf:5: [server t] listen: 0.0.0.0:143 already used at "
	    "line 3" },
	{ SRV "tls_cert = a.pem a.key extra\n" BE, "x.conf:3: [server s] "
	    "tls_cert: expected CERTFILE [KEYFILE], one certificate a line, "
	    "got \"a.pem a.key extra\"" },
	{ SRV "tls_cert = a.pem, b.pem\n" BE, "x.conf:3: [server s] "
	    "tls_cert: expected CERTFILE [KEYFILE], one certificate a line, "
	    "got \"a.pem, b.pem\"" },
	{ SRV "tls_protocols = TLSv1.2 SSLv3\n" BE, "x.conf:3: [server s] "
	    "tls_protocols: unknown protocol \"SSLv3\", expected TLSv1, "
	    "TLSv1.1, TLSv1.2 or TLSv1.3" },
	{ SRV "tls_protocols =\n" BE, "x.conf:3: [server s] tls_protocols: "
	    "must not be empty, expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3" },
	{ SRV "auth_mechanisms = PLAIN CRAM-MD5\n" BE, "x.conf:3: [server s] "
	    "auth_mechanisms: unknown mechanism \"CRAM-MD5\", expected PLAIN, "
	    "LOGIN, XOAUTH2 or OAUTHBEARER" },
	{ SRV "auth_mechanisms = ,\n" BE, "x.conf:3: [server s] "
	    "auth_mechanisms: must not be empty, expected PLAIN, LOGIN, "
	    "XOAUTH2 or OAUTHBEARER" },

	/* Back ends and routing. */
	{ SRV "default_backend = nope\n" BE, "x.conf:3: [server s] "
	    "default_backend: no [backend nope] in this file" },
	{ SRV BE "[backend c]\naddress = 127.0.0.1:2143\n", "x.conf:1: "
	    "[server s] default_backend: required when there are several "
	    "back ends and no routes" },
	{ SRV "[backend b]\ntls = yes\n", "x.conf:3: [backend b] address: "
	    "required, expected address = HOST:PORT" },
	{ SRV "[backend b]\naddress = 10.0.0.1\n", "x.conf:4: [backend b] "
	    "address: expected HOST:PORT or [IPv6]:PORT, got \"10.0.0.1\"" },
	{ SRV "[backend b]\naddress = ::1:143\n", "x.conf:4: [backend b] "
	    "address: an IPv6 address goes in brackets, [ADDR]:PORT, got "
	    "\"::1:143\"" },
	{ SRV "[backend b]\naddress = [::1]:99999\n", "x.conf:4: [backend b] "
	    "address: port must be 1-65535, got \"99999\"" },
	{ SRV "[backend b]\naddress = [nope]:143\n", "x.conf:4: [backend b] "
	    "address: expected a host name, an IPv4 address or [IPv6 "
	    "address], got \"nope\"" },
	{ SRV "[backend b]\naddress = bad/host:143\n", "x.conf:4: "
	    "[backend b] address: expected a host name, an IPv4 address or "
	    "[IPv6 address], got \"bad/host\"" },

	/* Lists of the features not built yet: valid, then refused. */
	{ "[global]\ndns_servers = 1.2.3.4:99999\n" BASE, "x.conf:2: [global] "
	    "dns_servers: port must be 1-65535, got \"99999\"" },
	{ "[global]\ndns_servers = dns.example\n" BASE, "x.conf:2: [global] "
	    "dns_servers: expected IP or IP:PORT ([IPv6]:PORT), got "
	    "\"dns.example\"" },
	{ SRV "proxy_protocol_from = 10.0.0.0/33\n" BE, "x.conf:3: [server s] "
	    "proxy_protocol_from: prefix length must be 0-32, got "
	    "\"10.0.0.0/33\"" },
	{ SRV "proxy_protocol_from = 10.1.0.0/8\n" BE, "x.conf:3: [server s] "
	    "proxy_protocol_from: host bits set in \"10.1.0.0/8\", expected "
	    "10.0.0.0/8" },
	{ SRV "proxy_protocol_from = 10.0.0.0/255.0.255.0\n" BE, "x.conf:3: "
	    "[server s] proxy_protocol_from: mask is not contiguous, got "
	    "\"10.0.0.0/255.0.255.0\"" },
	{ SRV "proxy_protocol_from = 2001:db8::1/32\n" BE, "x.conf:3: "
	    "[server s] proxy_protocol_from: host bits set in "
	    "\"2001:db8::1/32\", expected 2001:db8::/32" },
	{ SRV "proxy_protocol_from = 10.0.0.0/ffff::\n" BE, "x.conf:3: "
	    "[server s] proxy_protocol_from: expected ADDR/PREFIX or "
	    "ADDR/MASK, got \"10.0.0.0/ffff::\"" },

	/* A PROXY listener needs the balancers it may trust. */
	{ SRV "listen = 127.0.0.1:144 proxy\n" BE, "x.conf:3: [server s] "
	    "listen: 127.0.0.1:144 proxy: needs proxy_protocol_from, the "
	    "balancers allowed to send the header" },
	{ SRV "auth_fail_delay = 16s\n" BE, "x.conf:3: [server s] "
	    "auth_fail_delay: expected a duration from 0 to 15s (500ms, 30s, "
	    "10m, 2h, 1d), got \"16s\"" },
	{ SRV "default_backend = pool:stores\n" BE, "x.conf:3: [server s] "
	    "default_backend: no [backend] has pool = stores" },
	{ BASE "pool = stores\nweight = 1001\nforward_id = maybe\n"
	    "health_check_interval = -1\nmax_connections = x\n",
	    "x.conf:6: [backend b] weight: must be a number 1-1000, got "
	    "\"1001\"\n"
	    "x.conf:7: [backend b] forward_id: expected yes or no, got "
	    "\"maybe\"\n"
	    "x.conf:8: [backend b] health_check_interval: expected a duration "
	    "from 0 to 1d (500ms, 30s, 10m, 2h, 1d), got \"-1\"\n"
	    "x.conf:9: [backend b] max_connections: must be a number "
	    "0-1000000, got \"x\"" },

	/* Several mistakes: every one is reported, in order. */
	{ "; several\n"
	    "[global]\n"
	    "workers = many\n"
	    "log_level = loud       # comment\n"
	    "[server default]\n"
	    "listen = 0.0.0.0:70000, 127.0.0.1:993 tls\n"
	    "greeting = hello\n"
	    "greeting = again\n"
	    "[backend store1]\n"
	    "address = 10.0.1.11:143\n"
	    "tls_verify = maybe\n"
	    "[backend store2]\n"
	    "bogus = 1\n",
	    "x.conf:3: [global] workers: expected auto or a number 1-256, got "
	    "\"many\"\n"
	    "x.conf:4: [global] log_level: expected error, warning, info or "
	    "debug, got \"loud\"\n"
	    "x.conf:6: [server default] listen: port must be 1-65535, got "
	    "\"70000\"\n"
	    "x.conf:8: [server default] greeting: repeated, first set at "
	    "line 7\n"
	    "x.conf:6: [server default] listen: 127.0.0.1:993 tls needs a "
	    "tls_cert in this [server]\n"
	    "x.conf:11: [backend store1] tls_verify: expected yes or no, got "
	    "\"maybe\"\n"
	    "x.conf:13: [backend store2] bogus: unknown key\n"
	    "x.conf:12: [backend store2] address: required, expected "
	    "address = HOST:PORT\n"
	    "x.conf:5: [server default] default_backend: required when there "
	    "are several back ends and no routes" },
};

static void
test_bad(void **state)
{
	size_t	i;
	int	failed = 0;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		if (check_bad(bad[i].text, bad[i].err) == -1)
			failed++;
	assert_int_equal(failed, 0);
}

static void
test_defaults(void **state)
{
	struct conf		*c;
	struct conf_server	*s;
	struct conf_backend	*b;

	(void)state;
	c = load_good(BASE);
	assert_string_equal(c->path, "x.conf");
	assert_string_equal(c->dir, tmpdir);
	assert_null(c->user);
	assert_null(c->pidfile);
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->log_dest, CONF_LOG_SYSLOG);
	assert_int_equal(c->log_dest_set, 0);
	assert_null(c->log_facility);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_true(c->dns_timeout == 2);
	assert_int_equal(c->max_connections, 50000);
	assert_true(c->shutdown_timeout == 30);
	assert_int_equal(c->stats_socket_mode, 0660);
	assert_int_equal(c->nservers, 1);
	s = &c->servers[0];
	assert_string_equal(s->name, "s");
	assert_int_equal(s->line, 1);
	assert_int_equal(s->nlisten, 1);
	assert_string_equal(s->listen[0].name, "127.0.0.1:143");
	assert_int_equal(s->listen[0].flags, 0);
	assert_int_equal(s->listen[0].line, 2);
	assert_int_equal(s->line_listen, 2);
	assert_int_equal(s->tls_protocols, CONF_TLS_V1_2 | CONF_TLS_V1_3);
	assert_int_equal(s->require_tls, 1);
	assert_int_equal(s->auth_mechanisms, CONF_AUTH_PLAIN | CONF_AUTH_LOGIN);
	assert_int_equal(s->username_case, CONF_USERNAME_LOWER);
	assert_null(s->default_domain);
	assert_string_equal(s->greeting, "IMAP proxy ready");
	assert_true(s->login_timeout == 60);
	assert_true(s->idle_timeout == 1800);
	assert_int_equal(s->max_connections_per_ip, 1000);
	assert_int_equal(s->max_connections_per_user, 50);
	assert_int_equal(s->auth_fail_limit, 10);
	assert_true(s->auth_fail_window == 600);
	assert_true(s->auth_fail_delay == 2);
	assert_string_equal(s->default_backend, "b");
	b = conf_backend_find(c, "b");
	assert_ptr_equal(s->backend, b);
	assert_null(conf_backend_find(c, "nope"));
	assert_string_equal(b->host, "127.0.0.1");
	assert_string_equal(b->addr_name, "127.0.0.1:1143");
	assert_int_equal(b->addr.ss_family, AF_INET);
	assert_int_equal(b->line_address, 4);
	assert_int_equal(b->tls, CONF_BACKEND_TLS_NO);
	assert_int_equal(b->tls_verify, 1);
	assert_null(b->tls_ca);
	assert_int_equal(b->weight, 1);
	assert_int_equal(b->forward_id, 1);
	assert_true(b->connect_timeout == 5);
	assert_true(b->health_check_interval == 10);
	assert_int_equal(b->max_connections, 0);
	conf_free(&c);
	assert_null(c);
	conf_free(&c);
	conf_free(NULL);
}

/* Every supported key, comments, indentation and continuation lines. */
static const char full[] =
    "\xef\xbb\xbf# imapproxy\r\n"
    "[global]\r\n"
    "user = imapproxy\t; ; comment\r\n"
    "group = mail#not-a-comment\n"
    "  workers = 4            # indented key\n"
    "pidfile = run/imapproxyd.pid\n"
    "log = syslog:local3\n"
    "log_level = debug\n"
    "max_connections = 100\n"
    "shutdown_timeout = 500ms\n"
    "\n"
    "[ server  default ]\n"
    "listen = *:143 starttls, [::]:993 TLS\n"
    "    127.0.0.1:1143\n"
    "\n"
    "    ; a comment between continuation lines\n"
    "    [::1]:1144 starttls\n"
    "listen = 127.0.0.2:143\n"
    "tls_cert = tls/a.pem tls/a.key\n"
    "tls_cert = /etc/b.pem\n"
    "tls_protocols = TLSv1.3\n"
    "\tTLSv1.2,\n"
    "require_tls = off\n"
    "auth_mechanisms = login\n"
    "default_backend = store2\n"
    "default_domain =\n"
    "greeting = Hello; there\n"
    "login_timeout = 2m\n"
    "idle_timeout = 1d\n"
    "[backend store1]\n"
    "address = [::1]:143\n"
    "tls = starttls\n"
    "tls_verify = no\n"
    "tls_ca = ca.pem\n"
    "tls_server_name = store1.internal\n"
    "forward_id = no\n"
    "connect_timeout = 30s\n"
    "health_check_interval = 0\n"
    "max_connections = 0\n"
    "[backend store2]\n"
    "address = localhost:993\n"
    "tls = yes\n";

static void
expect_path(const char *got, const char *rel)
{
	char	want[PATH_MAX * 2];

	if (rel[0] == '/')
		(void)snprintf(want, sizeof(want), "%s", rel);
	else
		(void)snprintf(want, sizeof(want), "%s/%s", tmpdir, rel);
	assert_string_equal(got, want);
}

static void
test_full(void **state)
{
	struct conf		*c;
	struct conf_server	*s;
	struct conf_backend	*b;
	static const char *const names[] = {
		"0.0.0.0:143", "[::]:993", "127.0.0.1:1143", "[::1]:1144",
		"127.0.0.2:143"
	};
	static const int flags[] = {
		CONF_LISTEN_STARTTLS, CONF_LISTEN_TLS, 0, CONF_LISTEN_STARTTLS,
		0
	};
	static const int lines[] = { 13, 13, 14, 17, 18 };
	size_t			 i;

	(void)state;
	c = load_good(full);
	assert_string_equal(c->user, "imapproxy");
	assert_int_equal(c->line_user, 3);
	assert_string_equal(c->group, "mail#not-a-comment");
	assert_int_equal(c->workers, 4);
	expect_path(c->pidfile, "run/imapproxyd.pid");
	assert_int_equal(c->log_dest, CONF_LOG_SYSLOG);
	assert_int_equal(c->log_dest_set, 1);
	assert_string_equal(c->log_facility, "local3");
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->max_connections, 100);
	assert_true(c->shutdown_timeout == 0.5);
	s = &c->servers[0];
	assert_string_equal(s->name, "default");
	assert_int_equal(s->line, 12);
	assert_int_equal(s->nlisten, nitems(names));
	for (i = 0; i < nitems(names); i++) {
		assert_string_equal(s->listen[i].name, names[i]);
		assert_int_equal(s->listen[i].flags, flags[i]);
		assert_int_equal(s->listen[i].line, lines[i]);
	}
	assert_int_equal(s->line_listen, 13);
	assert_int_equal(s->listen[1].addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&s->listen[1].addr)->
	    sin6_port), 993);
	assert_int_equal(s->listen[1].addrlen, sizeof(struct sockaddr_in6));
	assert_int_equal(s->ncerts, 2);
	expect_path(s->certs[0].cert, "tls/a.pem");
	expect_path(s->certs[0].key, "tls/a.key");
	assert_int_equal(s->certs[0].line, 19);
	expect_path(s->certs[1].cert, "/etc/b.pem");
	expect_path(s->certs[1].key, "/etc/b.pem");
	assert_int_equal(s->tls_protocols, CONF_TLS_V1_2 | CONF_TLS_V1_3);
	assert_int_equal(s->line_tls_protocols, 21);
	assert_int_equal(s->require_tls, 0);
	assert_int_equal(s->auth_mechanisms, CONF_AUTH_LOGIN);
	assert_null(s->default_domain);
	assert_string_equal(s->greeting, "Hello; there");
	assert_true(s->login_timeout == 120);
	assert_true(s->idle_timeout == 86400);
	assert_int_equal(s->line_default_backend, 25);
	assert_ptr_equal(s->backend, conf_backend_find(c, "store2"));
	b = conf_backend_find(c, "store1");
	assert_string_equal(b->host, "::1");
	assert_string_equal(b->addr_name, "[::1]:143");
	assert_int_equal(b->tls, CONF_BACKEND_TLS_STARTTLS);
	assert_int_equal(b->tls_verify, 0);
	expect_path(b->tls_ca, "ca.pem");
	assert_int_equal(b->line_tls_ca, 34);
	assert_string_equal(b->tls_server_name, "store1.internal");
	assert_true(b->connect_timeout == 30);
	b = conf_backend_find(c, "store2");
	assert_string_equal(b->host, "localhost");
	assert_string_equal(b->addr_name, "localhost:993");
	assert_true(b->addr.ss_family == AF_INET ||
	    b->addr.ss_family == AF_INET6);
	assert_int_equal(b->tls, CONF_BACKEND_TLS_YES);
	conf_free(&c);
}

/* The log destinations and the booleans' spellings. */
static void
test_values(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES" };
	static const char *const no[] = { "no", "false", "off", "0", "Off" };
	char		 text[512];
	struct conf	*c;
	size_t		 i;

	(void)state;
	c = load_good("[global]\nlog = stderr\n" BASE);
	assert_int_equal(c->log_dest, CONF_LOG_STDERR);
	conf_free(&c);
	c = load_good("[global]\nlog = log/imapproxy.log\n" BASE);
	assert_int_equal(c->log_dest, CONF_LOG_FILE);
	expect_path(c->log_file, "log/imapproxy.log");
	conf_free(&c);
	/* An indented header is a header, even after a key. */
	c = load_good(SRV "  [backend b]\n  address = 127.0.0.1:1143\n");
	assert_int_equal(c->nbackends, 1);
	assert_int_equal(c->backends[0].line, 3);
	conf_free(&c);
	c = load_good("[global]\nlog = syslog\nworkers = auto\n" BASE);
	assert_int_equal(c->log_dest, CONF_LOG_SYSLOG);
	assert_int_equal(c->log_dest_set, 1);
	assert_null(c->log_facility);
	conf_free(&c);
	for (i = 0; i < nitems(yes); i++) {
		(void)snprintf(text, sizeof(text), SRV "require_tls = %s\n"
		    "[server t]\nlisten = 127.0.0.1:144\nrequire_tls = %s\n"
		    BE, yes[i], no[i]);
		c = load_good(text);
		assert_int_equal(c->servers[0].require_tls, 1);
		assert_int_equal(c->servers[1].require_tls, 0);
		assert_ptr_equal(c->servers[1].backend, &c->backends[0]);
		conf_free(&c);
	}
	/* Mechanisms are case-insensitive; the OAuth ones pass through. */
	c = load_good(SRV "auth_mechanisms = plain, xoauth2 OAUTHBEARER\n" BE);
	assert_int_equal(c->servers[0].auth_mechanisms, CONF_AUTH_PLAIN |
	    CONF_AUTH_XOAUTH2 | CONF_AUTH_OAUTHBEARER);
	conf_free(&c);
}

static const struct {
	const char	*text;
	int		 rc;
	double		 seconds;
} durations[] = {
	{ "30s", 0, 30 }, { "10m", 0, 600 }, { "2h", 0, 7200 },
	{ "1d", 0, 86400 }, { "500ms", 0, 0.5 }, { "45", 0, 45 },
	{ "0", 0, 0 }, { "0ms", 0, 0 }, { "2147483647", 0, 2147483647.0 },
	{ "", -1, 0 }, { "s", -1, 0 }, { "-5s", -1, 0 }, { "+5s", -1, 0 },
	{ "5 s", -1, 0 }, { " 5s", -1, 0 }, { "5S", -1, 0 }, { "1.5s", -1, 0 },
	{ "5sec", -1, 0 }, { "5w", -1, 0 }, { "2147483648", -1, 0 },
	{ "24856d", -1, 0 }, { "99999999999999999999999", -1, 0 },
	{ "1d2h", -1, 0 }
};

static void
test_duration(void **state)
{
	double	d;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(durations); i++) {
		d = -1;
		if (conf_parse_duration(durations[i].text, &d) !=
		    durations[i].rc)
			fail_msg("\"%s\": want %d", durations[i].text,
			    durations[i].rc);
		if (durations[i].rc == 0 && d != durations[i].seconds)
			fail_msg("\"%s\": got %f", durations[i].text, d);
	}
	assert_int_equal(conf_parse_duration(NULL, &d), -1);
}

/* Lines of at most 197 characters pass; longer ones are refused. */
static void
test_long_line(void **state)
{
	char		 text[2048], pad[600];
	struct conf	*c;

	(void)state;
	memset(pad, 'x', sizeof(pad));
	/* "greeting = " is 11 characters: 186 + 11 = 197. */
	(void)snprintf(text, sizeof(text), SRV "greeting = %.186s\n" BE, pad);
	c = load_good(text);
	assert_int_equal(strlen(c->servers[0].greeting), 186);
	conf_free(&c);
	(void)snprintf(text, sizeof(text), SRV "greeting = %.187s\n" BE, pad);
	expect_bad(text, "x.conf:3: line too long (at most 197 characters)");
	/* Swallowed whole: the next line keeps its number. */
	(void)snprintf(text, sizeof(text), SRV "greeting = %.500s\nbad = 1\n"
	    BE, pad);
	expect_bad(text, "x.conf:3: line too long (at most 197 characters)\n"
	    "x.conf:4: [server s] bad: unknown key");
	/* A long comment is no mistake; neither is a long CRLF line. */
	(void)snprintf(text, sizeof(text), "# %.500s\n   ; %.500s\n"
	    "[server s]\r\ngreeting = %.186s\r\nlisten = 127.0.0.1:143\n" BE,
	    pad, pad, pad);
	c = load_good(text);
	conf_free(&c);
	/* A long section header: its keys are skipped, not misplaced. */
	(void)snprintf(text, sizeof(text), "[server %.300s]\nlisten = x\n" BASE,
	    pad);
	expect_bad(text, "x.conf:1: line too long (at most 197 characters)");
}

static void
test_nul(void **state)
{
	static const char	 text[] = "[global]\nuser = a\0b\n" BASE;
	struct conf		*c;

	(void)state;
	c = load_len(text, sizeof(text) - 1, errbuf, sizeof(errbuf));
	assert_null(c);
	assert_string_equal(errbuf, "x.conf:2: NUL byte, expected text");
}

static void
test_open(void **state)
{
	struct conf	*c;

	(void)state;
	c = conf_load("missing.conf", errbuf, sizeof(errbuf));
	assert_null(c);
	assert_string_equal(errbuf,
	    "missing.conf: cannot open: No such file or directory");
	assert_null(conf_load("missing.conf", NULL, 0));
}

/* Resolution failure names the host; the resolver's words may vary. */
static void
test_resolve(void **state)
{
	static const char	 want[] = "x.conf:4: [backend b] address: "
				    "cannot resolve \"no-such-host.invalid\": ";

	(void)state;
	assert_null(load(SRV "[backend b]\n"
	    "address = no-such-host.invalid:143\n"));
	assert_memory_equal(errbuf, want, sizeof(want) - 1);
	assert_null(strchr(errbuf, '\n'));
}

/* A full buffer ends with "... more errors" and never overflows. */
static void
test_truncate(void **state)
{
	char		 text[4096], small[120];
	size_t		 i, n = 0;

	(void)state;
	n += snprintf(text + n, sizeof(text) - n, "[global]\n");
	for (i = 0; i < 50; i++)
		n += snprintf(text + n, sizeof(text) - n, "bad%zu = 1\n", i);
	(void)snprintf(text + n, sizeof(text) - n, BASE);
	memset(small, '#', sizeof(small));
	assert_null(load_len(text, strlen(text), small, 100));
	assert_string_equal(small, "x.conf:2: [global] bad0: unknown key\n"
	    "x.conf:3: [global] bad1: unknown key\n... more errors");
	assert_int_equal(small[100], '#');
	for (i = 1; i < 40; i++) {
		memset(small, '#', sizeof(small));
		assert_null(load_len(text, strlen(text), small, i));
		assert_true(strlen(small) < i);
		assert_int_equal(small[i], '#');
	}
}

/*
 * The sample loads as it is; with every commented-out key line put back,
 * it loads without a mistake.
 */
static void
test_sample(void **state)
{
	char		 path[PATH_MAX * 2], line[512], text[16384], *p;
	struct conf	*c;
	FILE		*f;
	size_t		 n = 0;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/etc/imapproxy.conf", olddir);
	if ((f = fopen(path, "r")) == NULL)
		skip();
	if ((c = conf_load(path, errbuf, sizeof(errbuf))) == NULL)
		fail_msg("%s", errbuf);
	conf_free(&c);
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line;
		if (line[0] == ';' && strchr(line, '=') != NULL &&
		    strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_") > 2)
			p++;
		n += snprintf(text + n, sizeof(text) - n, "%s", p);
		assert_true(n < sizeof(text));
	}
	assert_int_equal(fclose(f), 0);
	/* Every key the sample shows, uncommented, is understood. */
	if ((c = load(text)) == NULL)
		fail_msg("%s", errbuf);
	conf_free(&c);
}

static int
group_setup(void **state)
{
	char	*d;

	(void)state;
	if (getcwd(olddir, sizeof(olddir)) == NULL)
		return (-1);
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/test_conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) == -1)
		return (-1);
	/* conf_load() resolves symbolic links in the folder. */
	if ((d = realpath(".", NULL)) == NULL)
		return (-1);
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s", d);
	free(d);
	return (0);
}

static int
group_teardown(void **state)
{
	(void)state;
	(void)unlink("x.conf");
	if (chdir(olddir) == -1)
		return (-1);
	return (rmdir(tmpdir));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_sample),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
