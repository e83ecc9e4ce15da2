/*
 * The configuration file of SPEC.md section 3, parsed with inih.
 *
 * conf_load() reads the whole file, validates every key (types, ranges,
 * durations, lists, paths made absolute against the file's folder) and
 * the cross-key rules, and returns an immutable struct conf.  Every
 * mistake is reported, one per line, as
 *	FILE:LINE: [section] key: what is wrong, what is allowed
 * A key whose behaviour is not built yet is refused with
 *	FILE:LINE: [section] key: not supported yet
 * so that nothing an operator writes is silently ignored.
 */
#ifndef CONF_H
#define CONF_H

#include <sys/socket.h>
#include <stddef.h>

#include "log.h"

#define CONF_LISTEN_TLS		0x01	/* implicit TLS (993) */
#define CONF_LISTEN_STARTTLS	0x02	/* STARTTLS offered (143) */
#define CONF_LISTEN_PROXY	0x04	/* PROXY protocol header first */

#define CONF_TLS_V1_0		0x01	/* tls_protocols bits */
#define CONF_TLS_V1_1		0x02
#define CONF_TLS_V1_2		0x04
#define CONF_TLS_V1_3		0x08

#define CONF_AUTH_PLAIN		0x01	/* auth_mechanisms bits */
#define CONF_AUTH_LOGIN		0x02
#define CONF_AUTH_XOAUTH2	0x04
#define CONF_AUTH_OAUTHBEARER	0x08

enum conf_log_dest {
	CONF_LOG_SYSLOG,
	CONF_LOG_STDERR,
	CONF_LOG_FILE
};

enum conf_backend_tls {
	CONF_BACKEND_TLS_NO,
	CONF_BACKEND_TLS_STARTTLS,
	CONF_BACKEND_TLS_YES
};

enum conf_username_case {
	CONF_USERNAME_LOWER,
	CONF_USERNAME_KEEP
};

struct conf_listen {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int			 flags;		/* CONF_LISTEN_* */
	char			 name[64];	/* "0.0.0.0:993", "[::]:143" */
	int			 line;
};

struct conf_cert {
	char			*cert;		/* absolute path, PEM chain */
	char			*key;		/* absolute path, PEM key */
	int			 line;
};

struct conf_net {				/* one CIDR of a list */
	int			 family;	/* AF_INET or AF_INET6 */
	unsigned char		 addr[16];
	int			 prefix;
};

struct conf_backend;

struct conf_server {
	char			*name;
	int			 line;		/* of the [server NAME] header */
	struct conf_listen	*listen;
	size_t			 nlisten;
	struct conf_net		*proxy_from;
	size_t			 nproxy_from;
	struct conf_cert	*certs;		/* first is the default */
	size_t			 ncerts;
	int			 tls_protocols;	/* CONF_TLS_V* bits */
	int			 require_tls;
	int			 auth_mechanisms; /* CONF_AUTH_* bits */
	char			*acl;		/* absolute path or NULL */
	char			*routes;	/* absolute path or NULL */
	char			*default_backend; /* "NAME" or "pool:NAME" */
	struct conf_backend	*backend;	/* resolved default_backend */
	enum conf_username_case	 username_case;
	char			*default_domain; /* NULL when empty */
	char			*greeting;
	double			 login_timeout;	/* seconds */
	double			 idle_timeout;
	unsigned int		 max_connections_per_ip; /* 0: unlimited */
	unsigned int		 max_connections_per_user;
	unsigned int		 auth_fail_limit;
	double			 auth_fail_window;
	double			 auth_fail_delay;
	/* Line of each key, 0 when absent, for cross-key messages. */
	int			 line_listen, line_tls_protocols,
				 line_require_tls, line_default_backend;
	int			 line_auth_mechanisms, line_acl, line_routes;
};

struct conf_backend {
	char			*name;
	int			 line;
	char			*host;		/* as written, without port */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 addr_name[300]; /* "10.0.1.11:143" */
	enum conf_backend_tls	 tls;
	int			 tls_verify;
	char			*tls_ca;	/* absolute path or NULL: system */
	char			*tls_server_name; /* NULL: host if a name */
	char			*pool;		/* NULL when none */
	unsigned int		 weight;
	int			 forward_id;
	double			 connect_timeout;
	double			 health_check_interval; /* 0: disabled */
	unsigned int		 max_connections; /* 0: unlimited */
	int			 line_tls_ca;
	int			 line_address;
};

struct conf {
	char			*path;		/* as given */
	char			*dir;		/* its folder, absolute */
	/* [global] */
	char			*user;		/* NULL: keep the starting user */
	char			*group;
	unsigned int		 workers;	/* 0 = auto */
	char			*pidfile;
	char			*stats_socket;
	unsigned int		 stats_socket_mode;
	char			*stats_socket_group;
	enum conf_log_dest	 log_dest;
	int			 log_dest_set;	/* `log` was given */
	char			*log_file;	/* CONF_LOG_FILE */
	char			*log_facility;	/* CONF_LOG_SYSLOG: NULL = daemon */
	enum log_level		 log_level;
	char		       **geoip_db;
	size_t			 ngeoip_db;
	char		       **dns_servers;	/* "ip:port" strings */
	size_t			 ndns_servers;
	double			 dns_timeout;
	unsigned int		 max_connections;
	double			 shutdown_timeout;
	struct conf_server	*servers;
	size_t			 nservers;
	struct conf_backend	*backends;
	size_t			 nbackends;
	/* Line of each key, 0 when absent, for the checks of -t. */
	int			 line_user, line_group, line_pidfile,
				 line_log, line_stats_socket, line_geoip_db;
};

/*
 * Loads and validates path.  On success returns a new conf owned by the
 * caller (free with conf_free()).  On any error returns NULL and leaves
 * every message, newline-separated, in err (truncated to errlen).
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
/* Frees *confp and sets it to NULL; accepts NULL. */
void		 conf_free(struct conf **confp);
/* Listen entries of every server, and the k-th of them in order. */
size_t		 conf_listen_count(const struct conf *);
const struct conf_listen *conf_listen_at(const struct conf *, size_t k);
/* Looks up a back end by name; NULL when there is none. */
struct conf_backend *conf_backend_find(const struct conf *, const char *name);

/*
 * Parses a duration ("30s", "10m", "2h", "1d", "500ms", bare seconds).
 * Returns 0 and the value in seconds, or -1.
 */
int		 conf_parse_duration(const char *text, double *seconds_r);

#endif
