/*
 * imapproxyctl: the daemon's JSON answers (statsock.h) made readable.
 * Every member is looked up defensively: a missing member or one of
 * another type prints "?", a null prints "-", nothing crashes.
 */
#ifndef CTLSHOW_H
#define CTLSHOW_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

struct ctlout_table;

/*
 * Parses answer (len bytes) as a JSON object.  Returns a new reference
 * (json_decref()), or NULL after saying why on stderr.
 */
json_t	*ctlshow_parse(const char *answer, size_t len);
/*
 * Whether doc has "ok": true.  Otherwise prints "imapproxyctl: ERROR"
 * and each line of "errors" on stderr.
 */
int	 ctlshow_ok(const json_t *doc);

/* o[key], or o[key][sub] when sub is not NULL; NULL when absent. */
const json_t *ctlshow_get(const json_t *o, const char *key,
	    const char *sub);
/* 0 and the value of an integer v, or -1. */
int	 ctlshow_int(const json_t *v, long long *n_r);
/* Cells of v: a string, a counter, a byte count, the age of a time. */
void	 ctlshow_cell_str(struct ctlout_table *t, const json_t *v);
void	 ctlshow_cell_int(struct ctlout_table *t, const json_t *v);
void	 ctlshow_cell_bytes(struct ctlout_table *t, const json_t *v);
void	 ctlshow_cell_age(struct ctlout_table *t, const json_t *v,
	    time_t now, const char *suffix);
/* The array member key of doc; NULL after saying on stderr it is missing. */
const json_t *ctlshow_array(const json_t *doc, const char *key);
/* Prints *tp to stdout and frees it; 0, or 1 after "out of memory". */
int	 ctlshow_table(struct ctlout_table **tp);
/* Prints a string member escaped ("-" for null, "?" otherwise). */
void	 ctlshow_puts(FILE *f, const json_t *v);

/*
 * The printers of the commands: doc is an answer whose "ok" is true,
 * arg the command's optional argument.  Return the exit status.
 */
int	 ctlshow_sessions(const json_t *doc, const char *arg);
int	 ctlshow_backends(const json_t *doc, const char *arg);
int	 ctlshow_backend(const json_t *doc, const char *arg);
int	 ctlshow_kick(const json_t *doc, const char *arg);
int	 ctlshow_reload(const json_t *doc, const char *arg);
int	 ctlshow_acl_test(const json_t *doc, const char *arg);

#endif
