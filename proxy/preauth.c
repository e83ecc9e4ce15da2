/*
 * The commands the proxy answers itself before login.  Credentials are
 * copied into the session's sasl_creds and handed to backend.c; they
 * are wiped as soon as the back end has seen them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "access.h"
#include "acl.h"
#include "backend.h"
#include "conf.h"
#include "guard.h"
#include "imap.h"
#include "log.h"
#include "preauth.h"
#include "route.h"
#include "runtime.h"
#include "sasl.h"
#include "sess.h"
#include "stats.h"

/* "Username:" and "Password:" in base64, as every LOGIN server says. */
#define SASL_LOGIN_USER_PROMPT	"VXNlcm5hbWU6"
#define SASL_LOGIN_PASS_PROMPT	"UGFzc3dvcmQ6"

struct preauth_handler {
	const char	*name;
	void		(*fn)(struct sess *, struct imap_cmd *);
};

static int
preauth_starttls_offered(const struct sess *s)
{
	return (s->listen->flags & CONF_LISTEN_STARTTLS) && !s->tls_active &&
	    s->srv->tls != NULL;
}

int
preauth_login_disabled(const struct sess *s)
{
	return preauth_starttls_offered(s) && s->srv->conf->require_tls;
}

/* The capability list for the current state of the session. */
static void
preauth_capability(const struct sess *s, char *buf, size_t len)
{
	int	mechs = s->srv->conf->auth_mechanisms;

	if (preauth_login_disabled(s))
		mechs = 0;
	snprintf(buf, len, "IMAP4rev1 LITERAL+ SASL-IR ID%s%s%s%s%s%s",
	    preauth_starttls_offered(s) ? " STARTTLS" : "",
	    preauth_login_disabled(s) ? " LOGINDISABLED" : "",
	    (mechs & CONF_AUTH_PLAIN) ? " AUTH=PLAIN" : "",
	    (mechs & CONF_AUTH_LOGIN) ? " AUTH=LOGIN" : "",
	    (mechs & CONF_AUTH_XOAUTH2) ? " AUTH=XOAUTH2" : "",
	    (mechs & CONF_AUTH_OAUTHBEARER) ? " AUTH=OAUTHBEARER" : "");
}

void
preauth_greeting(struct sess *s)
{
	char	caps[256];

	preauth_capability(s, caps, sizeof(caps));
	(void)sess_reply(s, "* OK [CAPABILITY %s] %s", caps,
	    s->srv->conf->greeting);
}

static void
preauth_capability_cmd(struct sess *s, struct imap_cmd *cmd)
{
	char	caps[256];

	if (cmd->nargs != 0) {
		sess_bad(s, cmd->tag, "CAPABILITY takes no arguments", 0);
		return;
	}
	preauth_capability(s, caps, sizeof(caps));
	(void)sess_reply(s, "* CAPABILITY %s", caps);
	(void)sess_reply(s, "%s OK Capability completed.", cmd->tag);
}

static void
preauth_noop(struct sess *s, struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		sess_bad(s, cmd->tag, "NOOP takes no arguments", 0);
		return;
	}
	(void)sess_reply(s, "%s OK NOOP completed.", cmd->tag);
}

static void
preauth_logout(struct sess *s, struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		sess_bad(s, cmd->tag, "LOGOUT takes no arguments", 0);
		return;
	}
	(void)sess_reply(s, "* BYE Logging out");
	(void)sess_reply(s, "%s OK Logout completed.", cmd->tag);
	sess_close_after(s, "logout");
}

/* ID takes NIL or one flat list of string pairs (RFC 2971). */
static void
preauth_id(struct sess *s, struct imap_cmd *cmd)
{
	const struct imap_arg	*a = cmd->args;
	size_t			 i, n = cmd->nargs;
	int			 ok;

	ok = n == 1 && a[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(a[0].str, "NIL") == 0;
	if (!ok && n >= 2 && a[0].type == IMAP_ARG_LIST_START &&
	    a[n - 1].type == IMAP_ARG_LIST_END && (n - 2) % 2 == 0) {
		ok = 1;
		for (i = 1; i + 1 < n; i++)
			if (a[i].type == IMAP_ARG_LIST_START ||
			    a[i].type == IMAP_ARG_LIST_END)
				ok = 0;
	}
	if (!ok) {
		sess_bad(s, cmd->tag, "Invalid ID arguments", 0);
		return;
	}
	(void)sess_reply(s, "* ID NIL");
	(void)sess_reply(s, "%s OK ID completed.", cmd->tag);
}

static void
preauth_starttls(struct sess *s, struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		sess_bad(s, cmd->tag, "STARTTLS takes no arguments", 0);
		return;
	}
	if (!preauth_starttls_offered(s)) {
		sess_bad(s, cmd->tag, s->tls_active ?
		    "TLS is already active" : "STARTTLS is not offered here", 0);
		return;
	}
	(void)sess_reply(s, "%s OK Begin TLS negotiation now.", cmd->tag);
	/* The handshake starts once this answer is out (sess.c). */
	s->starttls_pending = 1;
}

/* Checks what every login needs; answers and returns -1 when refused. */
static int
preauth_may_login(struct sess *s, const char *tag)
{
	if (preauth_login_disabled(s)) {
		(void)sess_reply(s, "%s NO [PRIVACYREQUIRED] Use STARTTLS "
		    "before logging in.", tag);
		return -1;
	}
	return 0;
}

/* Copies an argument into a fixed buffer; -1 if it has a NUL or is long. */
static int
preauth_copy_arg(char *dst, size_t dstlen, const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING)
		return -1;
	if (a->len >= dstlen || memchr(a->str, '\0', a->len) != NULL)
		return -1;
	memcpy(dst, a->str, a->len);
	dst[a->len] = '\0';
	return 0;
}

/*
 * The access rules at login; -1 when refused (logged).  An OAUTHBEARER
 * response need not name its user (RFC 7628 s.3.1): rules about users
 * cannot judge it, other rules already passed at connect.
 */
static int
preauth_access(struct sess *s)
{
	if (s->pa->creds.user[0] != '\0')
		return access_login(s);
	if (s->srv->acl == NULL || (s->srv->acl_needs & ACL_NEEDS_USER) == 0)
		return 0;
	log_info("sess=%s client=%s login refused: the access rules name "
	    "users and the response names none", s->id, s->client);
	return -1;
}

/* Ends a login the proxy itself refused (the answer is queued). */
static void
preauth_login_refused(struct sess *s, double delay)
{
	sasl_creds_wipe(&s->pa->creds);
	if (s->state == SESS_SASL)
		sess_set_state(s, SESS_PREAUTH);
	sess_hold(s, delay);
}

/* Credentials are in: the access rules decide, then the back end. */
static void
preauth_begin_login(struct sess *s, const char *tag)
{
	const char	*why;

	if (tag != s->pa->tag)
		snprintf(s->pa->tag, sizeof(s->pa->tag), "%s", tag);
	sess_adopt_runtime(s);
	if (guard_login(s) == -1) {
		preauth_login_refused(s, 0.);
		return;
	}
	if (preauth_access(s) == -1) {
		(void)sess_reply(s, "%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed.", s->pa->tag);
		STATS_ADD(s->srv->st->logins_failed, 1);
		preauth_login_refused(s, guard_failed(s));
		return;
	}
	if (guard_user_admit(s) == -1) {
		preauth_login_refused(s, 0.);
		return;
	}
	if (route_pick(s, &why) == -1) {
		log_warnx("sess=%s client=%s login refused: %s", s->id,
		    s->client, why);
		guard_user_release(s);
		sasl_creds_wipe(&s->pa->creds);
		if (s->state == SESS_SASL)
			sess_set_state(s, SESS_PREAUTH);
		(void)sess_reply(s, "%s NO [UNAVAILABLE] No back end available, "
		    "try again later.", s->pa->tag);
		return;
	}
	backend_start(s);
}

static void
preauth_login(struct sess *s, struct imap_cmd *cmd)
{
	struct sasl_creds	*cr = &s->pa->creds;

	if (cmd->nargs != 2) {
		sess_bad(s, cmd->tag, "LOGIN needs a user name and a "
		    "password", 0);
		return;
	}
	if (preauth_may_login(s, cmd->tag) == -1)
		return;
	if ((s->srv->conf->auth_mechanisms &
	    (CONF_AUTH_PLAIN | CONF_AUTH_LOGIN)) == 0) {
		(void)sess_reply(s, "%s NO Password logins are disabled.",
		    cmd->tag);
		return;
	}
	cr->authzid[0] = '\0';
	if (preauth_copy_arg(cr->user, sizeof(cr->user), &cmd->args[0]) ==
	    -1 || cr->user[0] == '\0' || preauth_copy_arg(cr->pass,
	    sizeof(cr->pass), &cmd->args[1]) == -1) {
		sasl_creds_wipe(cr);
		sess_bad(s, cmd->tag, "Invalid user name or password", 0);
		return;
	}
	s->pa->plain_login = 1;
	s->pa->mech = SASL_MECH_PASSWORD;
	preauth_begin_login(s, cmd->tag);
}

/*
 * Decodes a PLAIN, XOAUTH2 or OAUTHBEARER response (s->pa->mech) and
 * starts the login, or answers why not.
 */
static void
preauth_sasl_response(struct sess *s, const char *b64, size_t len)
{
	const char	*why;
	int		 r;

	if (s->pa->mech == SASL_MECH_PASSWORD)
		r = sasl_plain_decode(b64, len, &s->pa->creds, &why);
	else
		r = sasl_oauth_decode(s->pa->mech, b64, len, &s->pa->creds,
		    &why);
	if (r == -1) {
		sasl_creds_wipe(&s->pa->creds);
		if (s->state == SESS_SASL)
			sess_set_state(s, SESS_PREAUTH);
		sess_bad(s, s->pa->tag, why, 0);
		return;
	}
	preauth_begin_login(s, s->pa->tag);
}

static void
preauth_sasl_prompt(struct sess *s, enum sess_sasl_step step,
    const char *prompt)
{
	s->pa->sasl_step = step;
	(void)sess_reply(s, "+ %s", prompt);
	if (s->state != SESS_SASL)
		sess_set_state(s, SESS_SASL);
}

static void
preauth_authenticate(struct sess *s, struct imap_cmd *cmd)
{
	int		 mechs = s->srv->conf->auth_mechanisms;
	const char	*mech;
	const char	*ir = NULL;
	size_t		 irlen = 0;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		sess_bad(s, cmd->tag, "AUTHENTICATE needs a mechanism", 0);
		return;
	}
	if (preauth_may_login(s, cmd->tag) == -1)
		return;
	mech = cmd->args[0].str;
	if (cmd->nargs == 2) {
		ir = cmd->args[1].str;
		irlen = cmd->args[1].len;
	}
	snprintf(s->pa->tag, sizeof(s->pa->tag), "%s", cmd->tag);
	s->pa->plain_login = 0;
	s->pa->mech = SASL_MECH_PASSWORD;
	s->pa->creds.authzid[0] = '\0';
	if (strcasecmp(mech, "XOAUTH2") == 0 && (mechs & CONF_AUTH_XOAUTH2))
		s->pa->mech = SASL_MECH_XOAUTH2;
	else if (strcasecmp(mech, "OAUTHBEARER") == 0 &&
	    (mechs & CONF_AUTH_OAUTHBEARER))
		s->pa->mech = SASL_MECH_OAUTHBEARER;
	if (s->pa->mech != SASL_MECH_PASSWORD) {
		/* Passed through: the back end's answer comes later. */
		if (ir != NULL)
			preauth_sasl_response(s, ir, irlen);
		else
			preauth_sasl_prompt(s, SESS_SASL_OAUTH, "");
	} else if (strcasecmp(mech, "PLAIN") == 0 &&
	    (mechs & CONF_AUTH_PLAIN)) {
		if (ir != NULL)
			preauth_sasl_response(s, ir, irlen);
		else
			preauth_sasl_prompt(s, SESS_SASL_PLAIN, "");
	} else if (strcasecmp(mech, "LOGIN") == 0 &&
	    (mechs & CONF_AUTH_LOGIN)) {
		if (ir == NULL) {
			preauth_sasl_prompt(s, SESS_SASL_LOGIN_USER,
			    SASL_LOGIN_USER_PROMPT);
		} else {
			/* With SASL-IR the user name comes at once. */
			s->pa->sasl_step = SESS_SASL_LOGIN_USER;
			sess_set_state(s, SESS_SASL);
			preauth_sasl_line(s, ir, irlen);
		}
	} else {
		(void)sess_reply(s, "%s NO Unsupported authentication "
		    "mechanism.", cmd->tag);
	}
}

void
preauth_sasl_line(struct sess *s, const char *line, size_t len)
{
	struct sasl_creds	*cr = &s->pa->creds;
	int			 n;

	if (len == 1 && line[0] == '*') {
		sess_set_state(s, SESS_PREAUTH);
		sasl_creds_wipe(cr);
		sess_bad(s, s->pa->tag, "Authentication canceled.", 0);
		return;
	}
	switch (s->pa->sasl_step) {
	case SESS_SASL_PLAIN:
	case SESS_SASL_OAUTH:
		preauth_sasl_response(s, line, len);
		return;
	case SESS_SASL_LOGIN_USER:
		n = sasl_b64_decode(line, len, cr->user, sizeof(cr->user));
		if (n <= 0 || memchr(cr->user, '\0', (size_t)n) != NULL)
			break;
		preauth_sasl_prompt(s, SESS_SASL_LOGIN_PASS,
		    SASL_LOGIN_PASS_PROMPT);
		return;
	case SESS_SASL_LOGIN_PASS:
		n = sasl_b64_decode(line, len, cr->pass, sizeof(cr->pass));
		if (n < 0 || memchr(cr->pass, '\0', (size_t)n) != NULL)
			break;
		preauth_begin_login(s, s->pa->tag);
		return;
	}
	sasl_creds_wipe(cr);
	sess_set_state(s, SESS_PREAUTH);
	sess_bad(s, s->pa->tag, "Invalid SASL response", 0);
}

static const struct preauth_handler preauth_handlers[] = {
	{ "CAPABILITY", preauth_capability_cmd },
	{ "NOOP", preauth_noop },
	{ "LOGOUT", preauth_logout },
	{ "ID", preauth_id },
	{ "STARTTLS", preauth_starttls },
	{ "LOGIN", preauth_login },
	{ "AUTHENTICATE", preauth_authenticate },
};

void
preauth_command(struct sess *s, struct imap_cmd *cmd)
{
	char	safe[IMAP_MAX_ATOM * 4 + 1];
	size_t	i;

	for (i = 0; i < sizeof(preauth_handlers) /
	    sizeof(preauth_handlers[0]); i++) {
		if (strcmp(cmd->name, preauth_handlers[i].name) == 0) {
			log_debug("sess=%s client=%s command %s", s->id,
			    s->client, cmd->name);
			preauth_handlers[i].fn(s, cmd);
			return;
		}
	}
	log_debug("sess=%s client=%s refused command %s", s->id, s->client,
	    log_escape(safe, sizeof(safe), cmd->name, strlen(cmd->name)));
	sess_bad(s, cmd->tag, "Command unknown or not allowed before "
	    "login.", 0);
}
