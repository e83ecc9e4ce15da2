/*
 * who: sessions grouped by user.  The grouping is done here rather than
 * in the daemon so the daemon keeps one `sessions` document and the
 * policy of what a "user" row means can change without a protocol bump.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctlout.h"
#include "ctlshow.h"
#include "ctlwho.h"

struct ctlwho_sess {
	const json_t	*s;
	const char	*user;		/* NULL: not logged in yet */
	size_t		 ulen;		/* user names may hold NUL */
};

static const struct ctlout_col ctlwho_cols[] = {
	{ "USER", 0 }, { "SESSIONS", 1 }, { "CLIENTS", 0 },
	{ "COUNTRIES", 0 }, { "BACKENDS", 0 }, { "TLS", 0 }, { "OLDEST", 1 }
};

static void
ctlwho_user(struct ctlwho_sess *w, const json_t *s)
{
	const json_t	*u = json_object_get(s, "user");

	w->s = s;
	w->user = NULL;
	w->ulen = 0;
	if (json_is_string(u)) {
		w->user = json_string_value(u);
		w->ulen = json_string_length(u);
	} else if (!json_is_null(u)) {
		w->user = "?";	/* missing or not a string */
		w->ulen = 1;
	}
}

/* By user name, bytewise; sessions not logged in last. */
static int
ctlwho_cmp(const void *a, const void *b)
{
	const struct ctlwho_sess	*x = a, *y = b;
	int				 c;

	if (x->user == NULL || y->user == NULL)
		return (x->user == NULL) - (y->user == NULL);
	c = memcmp(x->user, y->user, x->ulen < y->ulen ? x->ulen : y->ulen);
	if (c != 0)
		return c;
	return (x->ulen > y->ulen) - (x->ulen < y->ulen);
}

static int
ctlwho_match(const struct ctlwho_sess *w, const char *pattern)
{
	const json_t	*id;

	if (pattern == NULL)
		return 1;
	id = json_object_get(w->s, "id");
	if (json_is_string(id) && strcmp(json_string_value(id), pattern) == 0)
		return 1;
	return w->user != NULL && fnmatch(pattern, w->user, FNM_CASEFOLD) == 0;
}

/* "192.0.2.7:50123" and "[2001:db8::7]:50123" without the port. */
static char *
ctlwho_ip(const char *client)
{
	const char	*end;

	if (client[0] == '[' && (end = strchr(client, ']')) != NULL)
		return strndup(client + 1, (size_t)(end - client - 1));
	if ((end = strchr(client, ':')) != NULL && strchr(end + 1, ':') == NULL)
		return strndup(client, (size_t)(end - client));
	return strdup(client);
}

static int
ctlwho_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct items, sorted, comma-separated; "-" for none. */
static char *
ctlwho_join(char **items, size_t n)
{
	size_t	 i, k, len = 2, o = 0;
	char	*out;

	for (i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	if ((out = malloc(len)) == NULL)
		return NULL;
	qsort(items, n, sizeof(*items), ctlwho_strcmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
			continue;
		if (o > 0)
			out[o++] = ',';
		k = strlen(items[i]);
		memcpy(out + o, items[i], k);
		o += k;
	}
	if (o == 0)
		out[o++] = '-';
	out[o] = '\0';
	return out;
}

/*
 * One cell: the distinct values of the string member key (the IP only,
 * when ip) of the n sessions at v.  -1 when out of memory.
 */
static int
ctlwho_cell_list(struct ctlout_table *t, const struct ctlwho_sess *v,
    size_t n, const char *key, int ip)
{
	const json_t	*m;
	char		**items, *joined = NULL;
	size_t		  i, k = 0;

	if ((items = calloc(n, sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (!json_is_string(m = json_object_get(v[i].s, key)))
			continue;	/* null backend: not logged in */
		if ((items[k] = ip ? ctlwho_ip(json_string_value(m)) :
		    strdup(json_string_value(m))) == NULL)
			goto done;
		k++;
	}
	if ((joined = ctlwho_join(items, k)) != NULL)
		ctlout_cells(t, joined);
done:
	while (k > 0)
		free(items[--k]);
	free(items);
	free(joined);
	return joined != NULL ? 0 : -1;
}

/* The row of the n sessions at v, all of one user. */
static int
ctlwho_row(struct ctlout_table *t, const struct ctlwho_sess *v, size_t n,
    time_t now)
{
	long long	since, oldest = LLONG_MAX;
	char		age[32];
	size_t		i;

	if (v[0].user != NULL)
		ctlout_cell(t, v[0].user, v[0].ulen);
	else
		ctlout_cells(t, "-");
	ctlout_cellf(t, "%zu", n);
	if (ctlwho_cell_list(t, v, n, "client", 1) == -1 ||
	    ctlwho_cell_list(t, v, n, "country", 0) == -1 ||
	    ctlwho_cell_list(t, v, n, "backend", 0) == -1 ||
	    ctlwho_cell_list(t, v, n, "tls", 0) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (ctlshow_int(json_object_get(v[i].s, "since"), &since) ==
		    0 && since < oldest)
			oldest = since;
	if (oldest == LLONG_MAX)
		ctlout_cells(t, "?");
	else {
		ctlout_age(age, sizeof(age), (long long)now - oldest);
		ctlout_cells(t, age);
	}
	return 0;
}

/* Sessions of list matching pattern into a new array; NULL: no memory. */
static struct ctlwho_sess *
ctlwho_pick(const json_t *list, const char *pattern, size_t *n_r)
{
	struct ctlwho_sess	*v;
	size_t			 i, n = 0;

	if ((v = calloc(json_array_size(list) + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < json_array_size(list); i++) {
		ctlwho_user(&v[n], json_array_get(list, i));
		if (ctlwho_match(&v[n], pattern))
			n++;
	}
	qsort(v, n, sizeof(*v), ctlwho_cmp);
	*n_r = n;
	return v;
}

int
ctlwho_show(const json_t *doc, const char *pattern)
{
	struct ctlout_table	*t = NULL;
	struct ctlwho_sess	*v;
	const json_t		*list;
	time_t			 now = time(NULL);
	size_t			 i, j, n = 0;

	if ((list = ctlshow_array(doc, "sessions")) == NULL)
		return 1;
	if ((v = ctlwho_pick(list, pattern, &n)) != NULL)
		t = ctlout_table_new(ctlwho_cols,
		    sizeof(ctlwho_cols) / sizeof(ctlwho_cols[0]));
	for (i = 0; t != NULL && i < n; i = j) {
		for (j = i + 1; j < n && ctlwho_cmp(&v[i], &v[j]) == 0; j++)
			;
		if (ctlwho_row(t, v + i, j - i, now) == -1)
			ctlout_table_free(&t);
	}
	free(v);
	return ctlshow_table(&t);
}
