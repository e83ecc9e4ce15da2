/*
 * stats: totals as "label: value" lines, then tables.  Counters are
 * printed exactly (they are compared between runs); byte totals are
 * human-sized like the other tables.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctlout.h"
#include "ctlshow.h"
#include "ctlstats.h"

/* Width of the longest label, "TLS handshake failures:", and a space. */
#define CTLSTATS_LABEL	24

/* The integer member o[key][sub] as text, "?" when it is not one. */
static const char *
ctlstats_num(const json_t *o, const char *key, const char *sub, char *buf,
    size_t len)
{
	long long	n;

	if (ctlshow_int(ctlshow_get(o, key, sub), &n) == -1)
		return "?";
	snprintf(buf, len, "%lld", n);
	return buf;
}

static const char *
ctlstats_bytes(const json_t *o, const char *sub, char *buf, size_t len)
{
	long long	n;

	if (ctlshow_int(ctlshow_get(o, "bytes", sub), &n) == -1 || n < 0)
		return "?";
	ctlout_bytes(buf, len, n);
	return buf;
}

/* "3d04h (since 2023-11-14 22:13:20)" */
static void
ctlstats_uptime(const json_t *doc)
{
	char		age[32], when[64];
	long long	up, started;
	time_t		t;
	struct tm	tm;

	printf("%-*s", CTLSTATS_LABEL, "uptime:");
	if (ctlshow_int(json_object_get(doc, "uptime"), &up) == 0) {
		ctlout_age(age, sizeof(age), up);
		fputs(age, stdout);
	} else
		fputs("?", stdout);
	if (ctlshow_int(json_object_get(doc, "started"), &started) == 0) {
		t = (time_t)started;
		if (localtime_r(&t, &tm) != NULL && strftime(when,
		    sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) > 0)
			printf(" (since %s)", when);
	}
	fputc('\n', stdout);
}

static void
ctlstats_totals(const json_t *doc)
{
	char	a[32], b[32], c[32];

	ctlstats_uptime(doc);
	printf("%-*s%s ok, %s failed\n", CTLSTATS_LABEL, "reloads:",
	    ctlstats_num(doc, "reloads", "ok", a, sizeof(a)),
	    ctlstats_num(doc, "reloads", "failed", b, sizeof(b)));
	printf("%-*s%s accepted, %s active, %s refused\n", CTLSTATS_LABEL,
	    "connections:",
	    ctlstats_num(doc, "connections", "accepted", a, sizeof(a)),
	    ctlstats_num(doc, "connections", "active", b, sizeof(b)),
	    ctlstats_num(doc, "connections", "refused", c, sizeof(c)));
	printf("%-*s%s ok, %s failed\n", CTLSTATS_LABEL, "logins:",
	    ctlstats_num(doc, "logins", "ok", a, sizeof(a)),
	    ctlstats_num(doc, "logins", "failed", b, sizeof(b)));
	printf("%-*s%s in, %s out\n", CTLSTATS_LABEL, "bytes:",
	    ctlstats_bytes(doc, "in", a, sizeof(a)),
	    ctlstats_bytes(doc, "out", b, sizeof(b)));
	printf("%-*s%s\n", CTLSTATS_LABEL, "TLS handshake failures:",
	    ctlstats_num(doc, "tls_handshake_failures", NULL, a, sizeof(a)));
}

static const struct ctlout_col ctlstats_server_cols[] = {
	{ "SERVER", 0 }, { "ACCEPTED", 1 }, { "ACTIVE", 1 }, { "REFUSED", 1 },
	{ "LOGINS-OK", 1 }, { "LOGINS-FAILED", 1 }, { "TLS-FAILURES", 1 },
	{ "IN", 1 }, { "OUT", 1 }
};

static void
ctlstats_server_row(struct ctlout_table *t, const json_t *s)
{
	ctlshow_cell_str(t, json_object_get(s, "name"));
	ctlshow_cell_int(t, ctlshow_get(s, "connections", "accepted"));
	ctlshow_cell_int(t, ctlshow_get(s, "connections", "active"));
	ctlshow_cell_int(t, ctlshow_get(s, "connections", "refused"));
	ctlshow_cell_int(t, ctlshow_get(s, "logins", "ok"));
	ctlshow_cell_int(t, ctlshow_get(s, "logins", "failed"));
	/* Not in statsock.h's sketch, but the daemon sends it. */
	ctlshow_cell_int(t, json_object_get(s, "tls_handshake_failures"));
	ctlshow_cell_bytes(t, ctlshow_get(s, "bytes", "in"));
	ctlshow_cell_bytes(t, ctlshow_get(s, "bytes", "out"));
}

static const struct ctlout_col ctlstats_backend_cols[] = {
	{ "BACKEND", 0 }, { "SESSIONS", 1 }, { "LOGINS-OK", 1 },
	{ "LOGINS-FAILED", 1 }, { "IN", 1 }, { "OUT", 1 }
};

static void
ctlstats_backend_row(struct ctlout_table *t, const json_t *b)
{
	ctlshow_cell_str(t, json_object_get(b, "name"));
	ctlshow_cell_int(t, json_object_get(b, "sessions"));
	ctlshow_cell_int(t, ctlshow_get(b, "logins", "ok"));
	ctlshow_cell_int(t, ctlshow_get(b, "logins", "failed"));
	ctlshow_cell_bytes(t, ctlshow_get(b, "bytes", "in"));
	ctlshow_cell_bytes(t, ctlshow_get(b, "bytes", "out"));
}

static const struct ctlout_col ctlstats_deny_cols[] = {
	{ "SERVER", 0 }, { "RULE", 0 }, { "COUNT", 1 }
};

static void
ctlstats_deny_row(struct ctlout_table *t, const json_t *d)
{
	ctlshow_cell_str(t, json_object_get(d, "server"));
	ctlshow_cell_str(t, json_object_get(d, "rule"));
	ctlshow_cell_int(t, json_object_get(d, "count"));
}

/*
 * After a blank line, the table of the list doc[key] under title (or
 * none), or the line none when the list is empty.  Returns the exit
 * status.
 */
static int
ctlstats_table(const json_t *doc, const char *key, const char *title,
    const struct ctlout_col *cols, size_t ncols,
    void (*row)(struct ctlout_table *, const json_t *), const char *none)
{
	struct ctlout_table	*t;
	const json_t		*list;
	size_t			 i;

	fputc('\n', stdout);
	if ((list = ctlshow_array(doc, key)) == NULL)
		return 1;
	if (json_array_size(list) == 0) {
		printf("%s\n", none);
		return 0;
	}
	if (title != NULL)
		printf("%s\n", title);
	t = ctlout_table_new(cols, ncols);
	for (i = 0; t != NULL && i < json_array_size(list); i++)
		row(t, json_array_get(list, i));
	return ctlshow_table(&t);
}

#define NCOLS(a)	(sizeof(a) / sizeof((a)[0]))

int
ctlstats_show(const json_t *doc, const char *arg)
{
	int	rc = 0;

	(void)arg;
	ctlstats_totals(doc);
	rc |= ctlstats_table(doc, "servers", NULL, ctlstats_server_cols,
	    NCOLS(ctlstats_server_cols), ctlstats_server_row, "no servers");
	rc |= ctlstats_table(doc, "backends", NULL, ctlstats_backend_cols,
	    NCOLS(ctlstats_backend_cols), ctlstats_backend_row,
	    "no back ends");
	/* A title: "COUNT" alone would not say of what. */
	rc |= ctlstats_table(doc, "acl_denies", "ACL denies by rule:",
	    ctlstats_deny_cols, NCOLS(ctlstats_deny_cols), ctlstats_deny_row,
	    "ACL denies by rule: none");
	return rc;
}
