/*
 * Every fixed limit of imapproxy, with the reason for its value.
 * Nothing a client sends makes a buffer grow past these.
 */
#ifndef BOUNDS_H
#define BOUNDS_H

/* RFC 7162 s.4 asks servers to accept command lines of at least 8000 octets. */
#define IMAP_MAX_LINE		8192
/* Pre-auth literals carry a user name, a password or a SASL response. */
#define IMAP_MAX_LITERAL	8192
/* One pre-auth command, its lines and literals together. */
#define IMAP_MAX_CMD		16384
/* Longest tag we echo back; real clients use a few characters. */
#define IMAP_MAX_TAG		64
/* Longest command name (AUTHENTICATE is the longest we know). */
#define IMAP_MAX_ATOM		32
/* Arguments of one pre-auth command, list parentheses included (ID has 60 max). */
#define IMAP_MAX_ARGS		64
/* Bad pre-auth commands before "* BYE" (nginx: imap_client_errors 5). */
#define SESS_MAX_BAD		5
/* RFC 9051 does not bound user names; Dovecot's default is 255. */
#define AUTH_MAX_USER		256
/* Passwords and SASL secrets (OAuth tokens run to a few KiB). */
#define AUTH_MAX_SECRET		8192
/* Greeting and line our own side builds: tag + code + text. */
#define SESS_MAX_REPLY		512
/* A back end's greeting or login answer line before relaying starts. */
#define BACKEND_MAX_LINE	8192
/* Relay buffer per direction: a TLS record is at most 16 KiB. */
#define RELAY_BUF_SIZE		16384
/* Configuration: servers, back ends, listeners and certificates. */
#define CONF_MAX_SERVERS	64
#define CONF_MAX_BACKENDS	1024
#define CONF_MAX_LISTEN		32
#define CONF_MAX_CERTS		32
/* Worker threads; more than cores only adds contention. */
#define WORKER_MAX		256
/* Accumulated configuration error text reported at once. */
#define CONF_MAX_ERRTEXT	65536

#endif
