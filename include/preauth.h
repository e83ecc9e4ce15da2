/*
 * The commands the proxy answers itself before login (SPEC.md s.7):
 * CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, LOGIN, AUTHENTICATE.
 */
#ifndef PREAUTH_H
#define PREAUTH_H

#include <stddef.h>

struct sess;
struct imap_cmd;

/* Queues the greeting with its capabilities. */
void	preauth_greeting(struct sess *s);
/* Handles one parsed command in SESS_PREAUTH. */
void	preauth_command(struct sess *s, struct imap_cmd *cmd);
/* Handles one continuation line in SESS_SASL (len excludes CRLF). */
void	preauth_sasl_line(struct sess *s, const char *line, size_t len);
/* Whether logins are refused until STARTTLS (LOGINDISABLED). */
int	preauth_login_disabled(const struct sess *s);

#endif
