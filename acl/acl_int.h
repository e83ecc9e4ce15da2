/*
 * Inside libacl: the stored form of rules, the error collector and the
 * pieces the files of acl/ share.  Not for the daemon: it sees only
 * acl.h.
 */
#ifndef ACL_INT_H
#define ACL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "bounds.h"
#include "errbuf.h"

struct acl_netidx;

enum acl_kind {
	ACL_SEL_ANY,
	ACL_SEL_IP,
	ACL_SEL_NET,
	ACL_SEL_DOMAIN,
	ACL_SEL_COUNTRY,
	ACL_SEL_ASN,
	ACL_SEL_USER
};

/* The three truth values of a selector or a rule. */
enum acl_tv {
	ACL_FALSE,
	ACL_TRUE,
	ACL_UNKNOWN
};

/* An ip is a net of full length. */
struct acl_net {
	unsigned char	 addr[16];	/* network order, host bits zero */
	uint8_t		 v6;		/* 0: IPv4 (4 bytes of addr) */
	uint8_t		 prefix;	/* 0-32 or 0-128 */
};

/* One comma alternative of a selector. */
struct acl_val {
	union {
		struct acl_net	 net;
		/*
		 * domain: lower case, no final dot, ".suffix" for the names
		 * below suffix; user: the glob ("@d" stored as "*@d").
		 */
		const char	*str;
		char		 cc[2];		/* country, upper case */
		uint32_t	 asn;
	} u;
};

struct acl_sel {
	struct acl_val	*vals;
	uint32_t	 nvals;
	uint8_t		 kind;		/* enum acl_kind */
	uint8_t		 neg;
};

struct acl_rule {
	const char	*file;		/* in acl->files */
	const char	*text;		/* inside the body */
	/*
	 * The rule's one allocation: its selectors, then their values,
	 * their strings and the text.
	 */
	struct acl_sel	*sels;
	size_t		 index;
	int		 line;
	uint16_t	 nsels;
	uint8_t		 action;	/* enum acl_action */
};

/*
 * Rules first .. first + n - 1, evaluated through idx when it is not
 * NULL (a run of plain ip and net rules), else one by one.
 */
struct acl_block {
	size_t			 first;
	size_t			 n;
	struct acl_netidx	*idx;
};

struct acl {
	struct acl_rule		*rules;
	size_t			 nrules;
	char			**files;	/* paths the rules point to */
	size_t			 nfiles;
	struct acl_block	*blocks;
	size_t			 nblocks;
	enum acl_action		 def;
	int			 needs;		/* ACL_NEEDS_* */
	char			*default_domain; /* for patterns with no @ */
	int			 lower_users;	/* ACL_LOAD_LOWER_USERS */
};

/* Where a message points: a file and a line (0: the whole file). */
struct acl_where {
	struct errbuf	*errs;		/* the load's "FILE:LINE: text" lines */
	const char	*file;
	int		 line;
};

enum acl_stmt {
	ACL_STMT_NONE,			/* blank or comment */
	ACL_STMT_RULE,
	ACL_STMT_DEFAULT,
	ACL_STMT_INCLUDE
};

/* Most alternatives a line can hold: "a,b,..." with one-byte values. */
#define ACL_MAX_VALS	(ACL_MAX_LINE / 2 + 1)
/* Their strings: every value plus "*" and a NUL at most. */
#define ACL_MAX_STRS	(2 * ACL_MAX_LINE + 4)

/*
 * One parsed line.  Fixed scratch space, allocated once per load: the
 * arrays are sized for the longest line, so nothing grows while
 * parsing.  sels[i].vals stays NULL; sels[i] owns vals[first[i]] and
 * the nvals after it.
 */
struct acl_parsed {
	enum acl_stmt	 stmt;
	enum acl_action	 action;	/* allow or deny, default */
	const char	*arg;		/* include: the file as written */
	struct acl_sel	 sels[ACL_MAX_SELECTORS];
	size_t		 first[ACL_MAX_SELECTORS];
	size_t		 nsels;
	struct acl_val	 vals[ACL_MAX_VALS];
	size_t		 nvals;
	char		 strs[ACL_MAX_STRS];	/* vals' strings */
	size_t		 nstrs;
	char		 text[ACL_MAX_LINE + 1];	/* normalized rule */
	size_t		 textlen;
	char		*tok[ACL_MAX_LINE / 2 + 1];
	size_t		 ntok;
	char		 value[ACL_MAX_LINE + 1];	/* "a," "b" joined */
};

/* acl.c */
void		 acl_err(const struct acl_where *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* parse.c */
int		 acl_parse_line(struct acl_parsed *, char *, size_t, int,
		    const struct acl_where *);

/* country.c */
int		 acl_country_valid(const char *);
const char	*acl_country_hint(const char *);

/* user.c */
int		 acl_glob_match(const char *, const char *);
int		 acl_user_match(const char *, const char *, const char *);

#endif
