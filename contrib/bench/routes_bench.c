/*
 * Routes map benchmark (issue 5, "Large maps load in seconds and look
 * up in constant time; say the figures"): writes maps of 1,000, 100,000
 * and 1,000,000 lines into a temporary directory and reports, as a
 * Markdown table, for each: the load time (routemap_load(), median of
 * three), the lookup time (routemap_lookup(), mean over 1,000,000
 * lookups of users in the map and of users not in it) and the resident
 * memory the loaded map adds.
 *
 * The maps look like an operator's: users of a few hundred domains,
 * one domain in ten with an "@domain" line, a "*" line, targets among
 * twenty back ends and four pools.  Lookups pick users at random, so
 * they pay the cache misses a daemon would.
 *
 * Usage: routes_bench [LINES...]
 *
 * Each size runs in its own process, so that memory freed by one size
 * does not hide what the next one takes.  Not part of the build or the
 * tests; `make bench-routes` builds and runs it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "routemap.h"

#define BENCH_SEED	0x70075eedULL
#define BENCH_DOMAINS	300
#define BENCH_BACKENDS	20
#define BENCH_POOLS	4
/* One domain in BENCH_DOMLINE has an "@domain" line. */
#define BENCH_DOMLINE	10
#define BENCH_LOADS	3
#define BENCH_LOOKUPS	1000000
/* Users asked for, reused cyclically by the timing loops. */
#define BENCH_QUERIES	65536
#define BENCH_USER	128
#define BENCH_MAX_SIZES	16
/* The memory the latency probe chases pointers through. */
#define BENCH_PROBE_MIB	64

struct bench_query {
	char	 user[BENCH_USER];
	char	 want[32];		/* target as written, "" for none */
};

struct bench_row {
	size_t		 lines;
	size_t		 file_bytes;
	size_t		 entries;
	size_t		 targets;
	double		 load_ms[BENCH_LOADS];
	double		 present_ns;
	double		 absent_ns;
	long		 rss_kib;
	size_t		 wrong;		/* lookups with the wrong answer */
};

static const char *const bench_first[] = {
	"anna", "ben", "carla", "david", "emma", "felix", "greta", "hugo",
	"ines", "jonas", "klara", "lukas", "maria", "noah", "olga", "paul",
	"rosa", "simon", "tina", "ugo", "vera", "walter", "xenia", "yann",
	"zoe", "alice", "bob", "carol", "dave", "erin", "frank", "grace"
};
static const char *const bench_last[] = {
	"mueller", "schmidt", "schneider", "fischer", "weber", "meyer",
	"wagner", "becker", "schulz", "hoffmann", "koch", "richter", "klein",
	"wolf", "schroeder", "neumann", "smith", "jones", "brown", "taylor",
	"martin", "bernard", "dubois", "rossi", "russo", "garcia", "lopez",
	"silva", "santos", "novak", "kowalski", "jensen"
};
static const char *const bench_pools[BENCH_POOLS] = {
	"eu", "us", "asia", "archive"
};

static uint64_t	 bench_rand(uint64_t *);
static double	 bench_now(void);
static int	 bench_cmp_double(const void *, const void *);
static long	 bench_rss_kib(void);
static void	 bench_user(size_t, char *, size_t);
static void	 bench_domain(size_t, char *, size_t);
static void	 bench_target(uint64_t *, char *, size_t);
static int	 bench_write(const char *, size_t, struct bench_query *,
		    struct bench_query *, size_t *);
static double	 bench_lookups(const struct routemap *,
		    const struct bench_query *);
static size_t	 bench_check(const struct routemap *,
		    const struct bench_query *);
static int	 bench_one(const char *, size_t);
static double	 bench_latency(void);

static volatile long bench_sink;

/* splitmix64: the same files on every machine. */
static uint64_t
bench_rand(uint64_t *s)
{
	uint64_t	 z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static long
bench_rss_kib(void)
{
	FILE	*f;
	long	 size, rss;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void
bench_domain(size_t d, char *buf, size_t len)
{
	static const char *const tld[] = { "com", "org", "net", "de", "fr" };

	snprintf(buf, len, "%s-%zu.example.%s",
	    bench_last[d % 32], d, tld[d % 5]);
}

/* User i: "first.last" and a number, in one of the domains. */
static void
bench_user(size_t i, char *buf, size_t len)
{
	char	 dom[40];

	bench_domain(i % BENCH_DOMAINS, dom, sizeof(dom));
	snprintf(buf, len, "%s.%s%zu@%s", bench_first[i % 32],
	    bench_last[i / 32 % 32], i / 1024, dom);
}

/* Four lines in five name a back end, the fifth a pool. */
static void
bench_target(uint64_t *seed, char *buf, size_t len)
{
	uint64_t	 r = bench_rand(seed);

	if (r % 5 == 0)
		snprintf(buf, len, "pool:%s", bench_pools[r / 5 % BENCH_POOLS]);
	else
		snprintf(buf, len, "store%02u",
		    (unsigned)(r / 5 % BENCH_BACKENDS + 1));
}

/*
 * Writes a map of n lines to path and fills present with users it
 * routes by name (and their targets), absent with users it does not
 * name (routed by "@domain" or "*").  Returns 0, or -1.
 */
static int
bench_write(const char *path, size_t n, struct bench_query *present,
    struct bench_query *absent, size_t *bytes)
{
	FILE		*f;
	char		 user[BENCH_USER], dom[40], target[32];
	char		 domtarget[BENCH_DOMAINS][32];
	uint64_t	 seed = BENCH_SEED ^ n;
	size_t		 i, d, users, q;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# routes_bench: %zu lines\n", n);
	memset(domtarget, 0, sizeof(domtarget));
	/* The "@domain" lines and "*" first, the users after them. */
	for (i = 1, d = 0; d < BENCH_DOMAINS && i < n; d += BENCH_DOMLINE) {
		bench_domain(d, dom, sizeof(dom));
		bench_target(&seed, domtarget[d], sizeof(domtarget[d]));
		fprintf(f, "@%-39s %s\n", dom, domtarget[d]);
		i++;
	}
	fprintf(f, "*                                        pool:eu\n");
	users = n - i - 1;
	for (i = 0; i < users; i++) {
		bench_user(i, user, sizeof(user));
		bench_target(&seed, target, sizeof(target));
		if (i % 4 == 0)
			fprintf(f, "%s\t%s\t# ticket %zu\n", user, target, i);
		else
			fprintf(f, "%-40s %s\n", user, target);
		/* A uniform sample of the users (reservoir sampling). */
		q = i < BENCH_QUERIES ? i : bench_rand(&seed) % (i + 1);
		if (q < BENCH_QUERIES) {
			snprintf(present[q].user, BENCH_USER, "%s", user);
			snprintf(present[q].want, 32, "%s", target);
		}
	}
	/* Small maps have fewer users than queries: reuse them. */
	for (i = users; i < BENCH_QUERIES; i++)
		present[i] = present[i % users];
	for (i = 0; i < BENCH_QUERIES; i++) {
		/* Past the last user: in no map, whatever its size. */
		q = users + bench_rand(&seed) % 1000000;
		bench_user(q, absent[i].user, BENCH_USER);
		d = q % BENCH_DOMAINS;
		snprintf(absent[i].want, 32, "%s", domtarget[d][0] != '\0' ?
		    domtarget[d] : "pool:eu");
	}
	*bytes = (size_t)ftello(f);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "%s: write failed\n", path);
		return -1;
	}
	return 0;
}

/* The mean time of one lookup, in nanoseconds. */
static double
bench_lookups(const struct routemap *map, const struct bench_query *q)
{
	double	 t0;
	size_t	 i;
	long	 sum = 0;

	t0 = bench_now();
	for (i = 0; i < BENCH_LOOKUPS; i++)
		sum += routemap_lookup(map, q[i % BENCH_QUERIES].user);
	bench_sink = sum;
	return (bench_now() - t0) * 1e9 / BENCH_LOOKUPS;
}

/* Queries whose answer is not the target they expect. */
static size_t
bench_check(const struct routemap *map, const struct bench_query *q)
{
	const struct routemap_target	*t;
	char				 got[80];
	size_t				 i, wrong = 0;
	long				 ti;

	for (i = 0; i < BENCH_QUERIES; i++) {
		if ((ti = routemap_lookup(map, q[i].user)) == -1 ||
		    (t = routemap_target(map, (size_t)ti)) == NULL) {
			wrong++;
			continue;
		}
		snprintf(got, sizeof(got), "%s%s", t->pool ? "pool:" : "",
		    t->name);
		wrong += strcmp(got, q[i].want) != 0;
	}
	return wrong;
}

/*
 * The time of one read at a random address that depends on the one
 * before, over BENCH_PROBE_MIB: what a lookup in a big map pays per
 * cache miss, for comparing figures across machines.
 */
static double
bench_latency(void)
{
	uint64_t	 seed = BENCH_SEED, t;
	size_t		*next, n = BENCH_PROBE_MIB * 1048576 / sizeof(*next);
	size_t		 i, j, p = 0;
	double		 t0, ns;

	if ((next = malloc(n * sizeof(*next))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		next[i] = i;
	/* Sattolo's shuffle: one cycle through every element. */
	for (i = n - 1; i > 0; i--) {
		j = bench_rand(&seed) % i;
		t = next[i];
		next[i] = next[j];
		next[j] = t;
	}
	t0 = bench_now();
	for (i = 0; i < BENCH_LOOKUPS; i++)
		p = next[p];
	ns = (bench_now() - t0) * 1e9 / BENCH_LOOKUPS;
	bench_sink = (long)p;
	free(next);
	return ns;
}

/* Writes, loads and times a map of n lines; prints its table row. */
static int
bench_one(const char *dir, size_t n)
{
	struct bench_query	*present, *absent, tmp;
	struct bench_row	 row;
	struct routemap		*map;
	uint64_t		 seed = BENCH_SEED;
	char			 path[4096], err[4096];
	double			 t0;
	long			 rss;
	size_t			 i, j;
	int			 k;

	memset(&row, 0, sizeof(row));
	row.lines = n;
	present = calloc(BENCH_QUERIES, sizeof(*present));
	absent = calloc(BENCH_QUERIES, sizeof(*absent));
	if (present == NULL || absent == NULL) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/routes-%zu.map", dir,
	    n) >= sizeof(path) ||
	    bench_write(path, n, present, absent, &row.file_bytes) == -1)
		return -1;
	/* Random order: a daemon's users do not come in file order. */
	for (i = BENCH_QUERIES - 1; i > 0; i--) {
		j = bench_rand(&seed) % (i + 1);
		tmp = present[i];
		present[i] = present[j];
		present[j] = tmp;
	}
	map = NULL;
	for (k = 0; k < BENCH_LOADS; k++) {
		routemap_free(&map);
		rss = bench_rss_kib();
		t0 = bench_now();
		map = routemap_load(path, ROUTEMAP_LOWER, NULL, err,
		    sizeof(err));
		row.load_ms[k] = (bench_now() - t0) * 1e3;
		if (map == NULL) {
			fprintf(stderr, "routemap_load: %s\n", err);
			return -1;
		}
		if (k == 0)
			row.rss_kib = bench_rss_kib() - rss;
	}
	qsort(row.load_ms, BENCH_LOADS, sizeof(double), bench_cmp_double);
	row.entries = routemap_nentries(map);
	row.targets = routemap_ntargets(map);
	row.wrong = bench_check(map, present) + bench_check(map, absent);
	(void)bench_lookups(map, present);	/* warm up */
	row.present_ns = bench_lookups(map, present);
	row.absent_ns = bench_lookups(map, absent);
	routemap_free(&map);
	(void)unlink(path);
	printf("| %zu | %.1f %s | %zu | %zu | %.1f ms | %.0f ns | %.0f ns | "
	    "%.1f MiB | %zu |\n", row.lines, row.file_bytes < 1048576 ?
	    row.file_bytes / 1024.0 : row.file_bytes / 1048576.0,
	    row.file_bytes < 1048576 ? "KiB" : "MiB",
	    row.entries, row.targets, row.load_ms[BENCH_LOADS / 2],
	    row.present_ns, row.absent_ns, row.rss_kib / 1024.0, row.wrong);
	fflush(stdout);
	free(present);
	free(absent);
	return row.wrong == 0 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	size_t	 sizes[BENCH_MAX_SIZES] = { 1000, 100000, 1000000 };
	size_t	 nsizes = 3, i;
	char	 dir[] = "/tmp/routes_bench.XXXXXX", *end;
	pid_t	 pid;
	int	 status, rv = 0;

	if (argc > 1) {
		for (nsizes = 0; nsizes + 1 < (size_t)argc &&
		    nsizes < BENCH_MAX_SIZES; nsizes++) {
			sizes[nsizes] = strtoul(argv[nsizes + 1], &end, 10);
			if (*end != '\0' || sizes[nsizes] < BENCH_DOMAINS /
			    BENCH_DOMLINE + 3) {
				fprintf(stderr, "usage: routes_bench "
				    "[LINES...], each at least %d\n",
				    BENCH_DOMAINS / BENCH_DOMLINE + 3);
				return 1;
			}
		}
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	printf("Aim: a million lines loaded well under 1 s, lookups in "
	    "constant time.\nThis machine: %.0f ns for a dependent random "
	    "read in %d MiB (a lookup in a large map makes one or two).\n\n",
	    bench_latency(), BENCH_PROBE_MIB);
	printf("| lines | file | entries | targets | load (median of %d) | "
	    "lookup, user in map | lookup, user not in map | memory (RSS "
	    "added) | wrong answers |\n", BENCH_LOADS);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	for (i = 0; i < nsizes; i++) {
		if ((pid = fork()) == -1) {
			perror("fork");
			rv = 1;
			break;
		}
		if (pid == 0)
			_exit(bench_one(dir, sizes[i]) == 0 ? 0 : 1);
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			rv = 1;
	}
	(void)rmdir(dir);
	return rv;
}
