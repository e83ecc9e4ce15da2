/*
 * imapproxyctl's printers for the daemon's answers.  The answer is
 * trusted to be JSON, not to have the shape statsock.h promises: a
 * daemon of another version, or one with a bug, must still give a
 * readable (if incomplete) table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctlout.h"
#include "ctlshow.h"

json_t *
ctlshow_parse(const char *answer, size_t len)
{
	json_error_t	 e;
	json_t		*doc;

	/* JSON_ALLOW_NUL: a \u0000 is odd, but no reason to refuse all. */
	if ((doc = json_loadb(answer, len, JSON_ALLOW_NUL, &e)) == NULL) {
		/* e.text quotes the answer: escape it too */
		fprintf(stderr, "imapproxyctl: unparsable answer from the "
		    "daemon: line %d: ", e.line);
		ctlout_puts(stderr, e.text, strlen(e.text));
		fputc('\n', stderr);
		return NULL;
	}
	if (!json_is_object(doc)) {
		fprintf(stderr, "imapproxyctl: the daemon's answer is not a "
		    "JSON object\n");
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int
ctlshow_ok(const json_t *doc)
{
	const json_t	*errors, *v;
	size_t		 i;

	if (json_is_true(json_object_get(doc, "ok")))
		return 1;
	fputs("imapproxyctl: ", stderr);
	if (json_is_string(v = json_object_get(doc, "error")))
		ctlshow_puts(stderr, v);
	else
		fputs("the daemon refused without saying why", stderr);
	fputc('\n', stderr);
	/* reload: every configuration message, one per line */
	errors = json_object_get(doc, "errors");
	json_array_foreach(errors, i, v)
		if (json_is_string(v)) {
			ctlshow_puts(stderr, v);
			fputc('\n', stderr);
		}
	return 0;
}

const json_t *
ctlshow_get(const json_t *o, const char *key, const char *sub)
{
	const json_t	*v = json_object_get(o, key);

	return sub != NULL ? json_object_get(v, sub) : v;
}

int
ctlshow_int(const json_t *v, long long *n_r)
{
	if (!json_is_integer(v))
		return -1;
	*n_r = (long long)json_integer_value(v);
	return 0;
}

void
ctlshow_cell_str(struct ctlout_table *t, const json_t *v)
{
	if (json_is_string(v))
		ctlout_cell(t, json_string_value(v), json_string_length(v));
	else
		ctlout_cells(t, json_is_null(v) ? "-" : "?");
}

void
ctlshow_cell_int(struct ctlout_table *t, const json_t *v)
{
	long long	n;

	if (ctlshow_int(v, &n) == 0)
		ctlout_cellf(t, "%lld", n);
	else
		ctlout_cells(t, json_is_null(v) ? "-" : "?");
}

void
ctlshow_cell_bytes(struct ctlout_table *t, const json_t *v)
{
	char		buf[32];
	long long	n;

	if (ctlshow_int(v, &n) == 0 && n >= 0) {
		ctlout_bytes(buf, sizeof(buf), n);
		ctlout_cells(t, buf);
	} else
		ctlout_cells(t, json_is_null(v) ? "-" : "?");
}

void
ctlshow_cell_age(struct ctlout_table *t, const json_t *v, time_t now,
    const char *suffix)
{
	char		buf[32];
	long long	n;

	if (ctlshow_int(v, &n) == 0) {
		ctlout_age(buf, sizeof(buf), (long long)now - n);
		ctlout_cellf(t, "%s%s", buf, suffix);
	} else
		ctlout_cells(t, json_is_null(v) ? "-" : "?");
}

void
ctlshow_puts(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		ctlout_puts(f, json_string_value(v), json_string_length(v));
	else
		fputs(json_is_null(v) ? "-" : "?", f);
}

/* A list of strings as "A, B", "none" when empty. */
static void
ctlshow_list(FILE *f, const json_t *list)
{
	const json_t	*v;
	size_t		 i;

	if (!json_is_array(list)) {
		fputs("?", f);
		return;
	}
	if (json_array_size(list) == 0)
		fputs("none", f);
	json_array_foreach(list, i, v) {
		fputs(i > 0 ? ", " : "", f);
		ctlshow_puts(f, v);
	}
}

const json_t *
ctlshow_array(const json_t *doc, const char *key)
{
	const json_t	*v = json_object_get(doc, key);

	if (!json_is_array(v)) {
		fprintf(stderr, "imapproxyctl: the answer has no \"%s\" "
		    "list\n", key);
		return NULL;
	}
	return v;
}

int
ctlshow_table(struct ctlout_table **tp)
{
	int	rc = 0;

	if (*tp == NULL || ctlout_table_print(*tp, stdout) == -1) {
		fprintf(stderr, "imapproxyctl: out of memory\n");
		rc = 1;
	}
	ctlout_table_free(tp);
	return rc;
}

static const struct ctlout_col ctlshow_sessions_cols[] = {
	{ "ID", 0 }, { "USER", 0 }, { "CLIENT", 0 }, { "COUNTRY", 0 },
	{ "SERVER", 0 }, { "BACKEND", 0 }, { "TLS", 0 }, { "STATE", 0 },
	{ "AGE", 1 }, { "IN", 1 }, { "OUT", 1 }
};

static void
ctlshow_session_row(struct ctlout_table *t, const json_t *s, time_t now)
{
	static const char	*strs[] = { "id", "user", "client", "country",
				    "server", "backend", "tls", "state" };
	size_t			 k;

	for (k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
		ctlshow_cell_str(t, json_object_get(s, strs[k]));
	ctlshow_cell_age(t, json_object_get(s, "since"), now, "");
	ctlshow_cell_bytes(t, json_object_get(s, "bytes_in"));
	ctlshow_cell_bytes(t, json_object_get(s, "bytes_out"));
}

int
ctlshow_sessions(const json_t *doc, const char *arg)
{
	struct ctlout_table	*t;
	const json_t		*list;
	time_t			 now = time(NULL);
	size_t			 i;

	(void)arg;
	if ((list = ctlshow_array(doc, "sessions")) == NULL)
		return 1;
	t = ctlout_table_new(ctlshow_sessions_cols,
	    sizeof(ctlshow_sessions_cols) / sizeof(ctlshow_sessions_cols[0]));
	for (i = 0; t != NULL && i < json_array_size(list); i++)
		ctlshow_session_row(t, json_array_get(list, i), now);
	return ctlshow_table(&t);
}

static const struct ctlout_col ctlshow_backends_cols[] = {
	{ "NAME", 0 }, { "ADDRESS", 0 }, { "POOL", 0 }, { "STATE", 0 },
	{ "SESSIONS", 1 }, { "LAST-CHECK", 0 }
};

static void
ctlshow_backend_row(struct ctlout_table *t, const json_t *b, time_t now)
{
	ctlshow_cell_str(t, json_object_get(b, "name"));
	ctlshow_cell_str(t, json_object_get(b, "address"));
	ctlshow_cell_str(t, json_object_get(b, "pool"));
	ctlshow_cell_str(t, json_object_get(b, "state"));
	ctlshow_cell_int(t, json_object_get(b, "sessions"));
	ctlshow_cell_age(t, json_object_get(b, "last_check"), now, " ago");
}

int
ctlshow_backends(const json_t *doc, const char *arg)
{
	struct ctlout_table	*t;
	const json_t		*list;
	time_t			 now = time(NULL);
	size_t			 i;

	(void)arg;
	if ((list = ctlshow_array(doc, "backends")) == NULL)
		return 1;
	t = ctlout_table_new(ctlshow_backends_cols,
	    sizeof(ctlshow_backends_cols) / sizeof(ctlshow_backends_cols[0]));
	for (i = 0; t != NULL && i < json_array_size(list); i++)
		ctlshow_backend_row(t, json_array_get(list, i), now);
	return ctlshow_table(&t);
}

/* "store1: disabled" */
int
ctlshow_backend(const json_t *doc, const char *arg)
{
	(void)arg;
	ctlshow_puts(stdout, json_object_get(doc, "backend"));
	fputs(": ", stdout);
	ctlshow_puts(stdout, json_object_get(doc, "state"));
	fputc('\n', stdout);
	return 0;
}

int
ctlshow_kick(const json_t *doc, const char *arg)
{
	long long	n;

	(void)arg;
	if (ctlshow_int(json_object_get(doc, "kicked"), &n) == -1)
		printf("kicked ? sessions\n");
	else
		printf("kicked %lld session%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* "reloaded: FILE, FILE; listeners opened: X; closed: Y" */
int
ctlshow_reload(const json_t *doc, const char *arg)
{
	const json_t	*v;
	size_t		 i;

	(void)arg;
	/* Warnings did not stop the reload, but deserve a look. */
	json_array_foreach(json_object_get(doc, "warnings"), i, v) {
		ctlshow_puts(stderr, v);
		fputc('\n', stderr);
	}
	fputs("reloaded: ", stdout);
	ctlshow_list(stdout, json_object_get(doc, "reloaded"));
	fputs("; listeners opened: ", stdout);
	ctlshow_list(stdout, ctlshow_get(doc, "listeners", "opened"));
	fputs("; closed: ", stdout);
	ctlshow_list(stdout, ctlshow_get(doc, "listeners", "closed"));
	fputc('\n', stdout);
	return 0;
}

/*
 * The same two lines as the offline answer (ctlacl.c), so a script
 * reading the first line works either way:
 *	deny<TAB>/etc/a.acl:3: deny ip 192.0.2.7
 *	server default, client 192.0.2.7, user -, domain -, country -, asn -
 */
int
ctlshow_acl_test(const json_t *doc, const char *arg)
{
	static const char	*facts[] = { "server", "client", "user",
				    "domain", "country" };
	const json_t		*rule = json_object_get(doc, "rule");
	long long		 asn;
	size_t			 i;

	(void)arg;
	ctlshow_puts(stdout, json_object_get(doc, "decision"));
	fputc('\t', stdout);
	if (json_is_null(rule))
		fputs("depends on the user", stdout);
	else
		ctlshow_puts(stdout, rule);
	fputc('\n', stdout);
	for (i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		printf("%s%s ", i > 0 ? ", " : "", facts[i]);
		ctlshow_puts(stdout, json_object_get(doc, facts[i]));
	}
	if (ctlshow_int(json_object_get(doc, "asn"), &asn) == 0)
		printf(", asn %lld\n", asn);
	else
		printf(", asn -\n");
	return 0;
}
