/*
 * The back-end side of a login: non-blocking connect, TLS (implicit or
 * STARTTLS) with verification, greeting and capabilities, then the
 * client's credentials replayed with the client's tag, so the back
 * end's tagged answer can go to the client unchanged.  Outcomes come
 * back through sess_login_ok(), sess_login_failed() and
 * sess_login_unavailable().
 */
#ifndef BACKEND_H
#define BACKEND_H

struct sess;
struct backend_link;

/* Starts the login of s on s->be; the session enters SESS_CONNECT. */
void	backend_start(struct sess *s);
/* libev events on the back-end socket while connecting or logging in. */
void	backend_io(struct sess *s, int revents);
/*
 * The client's answer (len excludes CRLF) to a challenge relayed in
 * SESS_CHALLENGE: goes to the back end, and the session is back in
 * SESS_LOGIN.  Anything but base64 or "*" is sent as "*" (cancel).
 */
void	backend_challenge_answer(struct sess *s, const char *line,
	    size_t len);
/* Frees a link (its timer stopped, its buffer wiped); accepts NULL. */
void	backend_link_free(struct sess *s);

#endif
