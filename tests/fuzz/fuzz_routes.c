/*
 * libFuzzer target: the routes map (proxy/routemap.c, include/routemap.h).
 *
 * The input is a routes file, written to a private temporary file for
 * routemap_load(); username_case and default_domain vary with the
 * input's length.  When the map loads, a plain model is built from the
 * same text (lines split as SPEC.md section 5 says: KEY TARGET, "#"
 * comments, CRLF and a UTF-8 BOM tolerated) and every lookup is checked
 * against it: each key itself, a user of each @domain in other case,
 * users no key names, long and odd names.  Also checked: the targets
 * are valid names, each counted once, in the order first named.
 */
#include <ctype.h>

#include "acl.h"
#include "bounds.h"
#include "routemap.h"

#include "fuzz.h"

#define MODEL_MAX	4096

struct entry {
	char		 key[AUTH_MAX_USER];
	char		 target[CONF_MAX_NAME + 8];
};

static char		 map_path[512];
static struct entry	 model[MODEL_MAX];
static size_t		 nmodel;
static long		 model_star;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_tmpdir("fuzz_routes");
	fuzz_path(map_path, sizeof(map_path), "routes.map");
	return 0;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The canonical key as the daemon would make it; -1 if none. */
static int
canon_key(const char *w, int lwr, const char *dd, char *out)
{
	if (strcmp(w, "*") == 0 || w[0] == '@') {
		if (strlen(w) >= AUTH_MAX_USER)
			return -1;
		snprintf(out, AUTH_MAX_USER, "%s", w);
		if (w[0] == '@')
			lower(out);
		return 0;
	}
	return acl_canon_user(w, lwr, dd, out, AUTH_MAX_USER);
}

/* The model's answer: exact key, "@" + what follows the last "@", "*". */
static const char *
model_lookup(const char *user)
{
	char		 dom[AUTH_MAX_USER + 2];
	const char	*at;
	size_t		 i;

	for (i = 0; i < nmodel; i++)
		if (strcmp(model[i].key, user) == 0)
			return model[i].target;
	if ((at = strrchr(user, '@')) != NULL && at[1] != '\0' &&
	    strlen(at) < sizeof(dom)) {
		snprintf(dom, sizeof(dom), "%s", at);
		lower(dom);
		for (i = 0; i < nmodel; i++)
			if (strcmp(model[i].key, dom) == 0)
				return model[i].target;
	}
	return model_star >= 0 ? model[model_star].target : NULL;
}

/*
 * Builds the model from a map that loaded, so every line is valid.
 * Returns -1 when the model cannot hold it (too many lines).
 */
static int
build_model(const uint8_t *data, size_t size, int lwr, const char *dd)
{
	char		 line[ROUTEMAP_MAX_LINE + 2], *w[3], *p;
	const char	*src;
	size_t		 i = 0, j, n, len, lineno = 0;
	int		 nw;

	nmodel = 0;
	model_star = -1;
	while (i < size) {
		for (j = i; j < size && data[j] != '\n'; j++)
			;
		len = j - i;
		lineno++;
		src = (const char *)data + i;
		if (lineno == 1 && len >= 3 && memcmp(src, "\xef\xbb\xbf",
		    3) == 0) {
			src += 3;
			len -= 3;
		}
		if (len > 0 && src[len - 1] == '\r')
			len--;
		FUZZ_CHECK(len <= ROUTEMAP_MAX_LINE);
		memcpy(line, src, len);
		line[len] = '\0';
		i = j + 1;
		for (nw = 0, p = line; nw < 3;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0' || *p == '#')
				break;
			w[nw++] = p;
			while (*p != '\0' && *p != ' ' && *p != '\t')
				p++;
			if (*p != '\0')
				*p++ = '\0';
		}
		if (nw == 0)
			continue;
		FUZZ_CHECK(nw == 2);
		if (nmodel == MODEL_MAX)
			return -1;
		FUZZ_CHECK(canon_key(w[0], lwr, dd, model[nmodel].key) == 0);
		n = strlen(w[1]);
		FUZZ_CHECK(n < sizeof(model[nmodel].target));
		memcpy(model[nmodel].target, w[1], n + 1);
		if (strcmp(model[nmodel].key, "*") == 0)
			model_star = (long)nmodel;
		nmodel++;
	}
	return 0;
}

/* routemap_lookup() against the model for user. */
static void
check_lookup(const struct routemap *map, const char *user)
{
	const struct routemap_target	*t;
	const char			*want = model_lookup(user);
	char				 got[CONF_MAX_NAME + 8];
	long				 i;

	i = routemap_lookup(map, user);
	if (want == NULL) {
		if (i != -1)
			fprintf(stderr, "user \"%s\": got target %ld, the "
			    "model has none\n", user, i);
		FUZZ_CHECK(i == -1);
		return;
	}
	FUZZ_CHECK(i >= 0 && (size_t)i < routemap_ntargets(map));
	t = routemap_target(map, (size_t)i);
	snprintf(got, sizeof(got), "%s%s", t->pool ? "pool:" : "", t->name);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "user \"%s\": got %s, the model says %s\n",
		    user, got, want);
	FUZZ_CHECK(strcmp(got, want) == 0);
}

static void
check_targets(const struct routemap *map)
{
	const struct routemap_target	*t, *u;
	size_t				 i, j, n = routemap_ntargets(map);

	FUZZ_CHECK(n <= ROUTEMAP_MAX_TARGETS && n <= routemap_nentries(map));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK((t = routemap_target(map, i)) != NULL);
		FUZZ_CHECK(t->name != NULL && t->name[0] != '\0' &&
		    strlen(t->name) < CONF_MAX_NAME);
		FUZZ_CHECK(strspn(t->name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		    strlen(t->name));
		FUZZ_CHECK(t->line >= 1);
		if (i > 0)
			FUZZ_CHECK(t->line >= routemap_target(map,
			    i - 1)->line);
		for (j = 0; j < i; j++) {
			u = routemap_target(map, j);
			FUZZ_CHECK(u->pool != t->pool ||
			    strcmp(u->name, t->name) != 0);
		}
	}
	FUZZ_CHECK(routemap_target(map, n) == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const odd[] = {
		"", "@", "x@", "@@", "nobody", "nobody@nowhere.invalid",
		"NOBODY@EXAMPLE.COM", "a@b@example.com", "*", "@*",
	};
	struct routemap	*map;
	const char	*dd;
	char		 err[ROUTEMAP_MAX_MSG], user[AUTH_MAX_USER * 2];
	size_t		 i;
	int		 lwr;

	fuzz_write_file(map_path, data, size);
	lwr = size & 1;
	dd = (size / 2) % 3 == 0 ? NULL : (size / 2) % 3 == 1 ? "" :
	    "example.com";
	err[0] = '\0';
	map = routemap_load(map_path, lwr ? ROUTEMAP_LOWER : 0, dd, err,
	    sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (map == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0');
	check_targets(map);
	if (build_model(data, size, lwr, dd != NULL && *dd != '\0' ? dd :
	    NULL) == -1)
		goto done;
	FUZZ_CHECK(routemap_nentries(map) == nmodel);
	for (i = 0; i < nmodel; i++) {
		check_lookup(map, model[i].key);
		if (model[i].key[0] == '@') {
			/* A user of that domain, the domain in capitals. */
			snprintf(user, sizeof(user), "u%s", model[i].key);
			for (char *p = user; *p != '\0'; p++)
				*p = (char)toupper((unsigned char)*p);
			check_lookup(map, user);
			snprintf(user, sizeof(user), "a@b%s", model[i].key);
			check_lookup(map, user);
		} else if (strchr(model[i].key, '@') != NULL) {
			/* Another user of the key's domain. */
			snprintf(user, sizeof(user), "other%s",
			    strrchr(model[i].key, '@'));
			check_lookup(map, user);
		}
	}
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		check_lookup(map, odd[i]);
	memset(user, 'a', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	check_lookup(map, user);
	user[AUTH_MAX_USER - 2] = '@';
	check_lookup(map, user);
done:
	routemap_free(&map);
	FUZZ_CHECK(map == NULL);
	return 0;
}
