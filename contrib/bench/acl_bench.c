/*
 * ACL benchmark (issue 4, "Fast and large"): writes blocklist-style ACL
 * files of 10, 1,000 and 100,000 rules into a temporary directory and
 * reports, as Markdown tables, for each: the load time (acl_load(),
 * median of several runs), the decision time (acl_eval() and
 * acl_eval_naive(), mean over random clients), the resident memory the
 * loaded rules add and the bytes of their address indexes; then the
 * address index alone (acl_netidx_build(), acl_netidx_lookup()) on the
 * same ip and net entries.
 *
 * Usage: acl_bench [RULES...]
 *
 * Each size runs in its own process, so that memory freed by one size
 * does not hide what the next one takes.  Not part of the build or the
 * tests; `make bench-acl` builds and runs it.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "acl_int.h"	/* struct acl: to sum acl_netidx_memory() */
#include "acl_netidx.h"

#define BENCH_SEED	0xac15eedULL
/* Client addresses, reused cyclically by the timing loops. */
#define BENCH_POOL	65536
#define BENCH_EVALS	1000000
/* The naive evaluator scans every rule: bound its total work. */
#define BENCH_NAIVE_WORK 200000000ULL
#define BENCH_MAX_SIZES	16
/* The user and country rules closing every file. */
#define BENCH_TAIL	4

/* What the generator wrote, to aim clients at it. */
struct bench_gen {
	struct acl_net_entry	*nets;	/* every ip and net, rule order */
	size_t			 nnets;
};

struct bench_row {
	size_t		 rules;
	size_t		 file_bytes;
	double		 load_ms;	/* median */
	double		 eval_ns;	/* mean */
	double		 naive_ns;
	long		 rss_kib;	/* resident growth by one acl_load() */
	size_t		 idx_bytes;	/* acl_netidx_memory(), all blocks */
	double		 build_ms;	/* acl_netidx_build(), median */
	double		 lookup_ns;
	size_t		 mismatches;	/* acl_eval() != acl_eval_naive() */
};

static uint64_t	 bench_rand(uint64_t *);
static double	 bench_now(void);
static int	 bench_cmp_double(const void *, const void *);
static double	 bench_median(double *, size_t);
static long	 bench_rss_kib(void);
static int	 bench_write(const char *, size_t, struct bench_gen *,
		    size_t *);
static void	 bench_net(uint64_t *, struct acl_net_entry *, int, int);
static int	 bench_line(FILE *, uint64_t *, struct acl_net_entry *,
		    uint32_t);
static void	 bench_clients(struct acl_client *, const struct bench_gen *,
		    uint64_t *);
static void	 bench_load(struct bench_row *, const char *);
static void	 bench_eval(struct bench_row *, const struct acl *,
		    const struct acl_client *);
static void	 bench_index(struct bench_row *, const struct bench_gen *,
		    const struct acl_client *);
static int	 bench_one(const char *, size_t);

static volatile uint64_t bench_sink;

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

static double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[n / 2];
}

/* Resident set size from /proc/self/statm, or -1. */
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

/*
 * A random address of family with prefix bits (host bits zero), drawn
 * from where real blocklists point: global unicast.
 */
static void
bench_net(uint64_t *s, struct acl_net_entry *e, int family, int prefix)
{
	uint64_t	 r;
	int		 i, len = family == AF_INET ? 4 : 16;

	memset(e, 0, sizeof(*e));
	e->family = family;
	e->prefix = prefix;
	for (i = 0; i < len; i += 8) {
		r = bench_rand(s);
		memcpy(e->addr + i, &r, len - i < 8 ? (size_t)(len - i) : 8);
	}
	if (family == AF_INET)
		e->addr[0] = (unsigned char)(1 + e->addr[0] % 223);
	else
		e->addr[0] = (unsigned char)(0x20 | (e->addr[0] & 0x1f));
	for (i = 0; i < len; i++)
		if (prefix <= i * 8)
			e->addr[i] = 0;
		else if (prefix < i * 8 + 8)
			e->addr[i] &= (unsigned char)(0xff << (i * 8 + 8 -
			    prefix));
}

/*
 * Writes one address rule for rule index rule into f and e: mostly
 * "deny ip", then "deny net", a few "allow net" (some as ADDR/MASK).
 * Returns 0, or -1 when the write fails.
 */
static int
bench_line(FILE *f, uint64_t *s, struct acl_net_entry *e, uint32_t rule)
{
	char		 a[INET6_ADDRSTRLEN], m[INET_ADDRSTRLEN];
	unsigned char	 mask[4];
	uint32_t	 bits;
	int		 k = (int)(bench_rand(s) % 100), rv;

	if (k < 60)
		bench_net(s, e, AF_INET, 32);
	else if (k < 75)
		bench_net(s, e, AF_INET6, 128);
	else if (k < 88)
		bench_net(s, e, AF_INET, 16 + (int)(bench_rand(s) % 13));
	else if (k < 94)
		bench_net(s, e, AF_INET6, 32 + (int)(bench_rand(s) % 33));
	else
		bench_net(s, e, AF_INET, 8 + (int)(bench_rand(s) % 17));
	e->rule = rule;
	inet_ntop(e->family, e->addr, a, sizeof(a));
	if (k < 75)
		rv = fprintf(f, "deny ip %s\n", a);
	else if (k < 94)
		rv = fprintf(f, "deny net %s/%d\n", a, e->prefix);
	else if (k % 2 == 0)
		rv = fprintf(f, "allow net %s/%d\n", a, e->prefix);
	else {
		bits = e->prefix == 0 ? 0 : UINT32_MAX << (32 - e->prefix);
		mask[0] = (unsigned char)(bits >> 24);
		mask[1] = (unsigned char)(bits >> 16);
		mask[2] = (unsigned char)(bits >> 8);
		mask[3] = (unsigned char)bits;
		inet_ntop(AF_INET, mask, m, sizeof(m));
		rv = fprintf(f, "allow net %s/%s\n", a, m);
	}
	return rv < 0 ? -1 : 0;
}

/*
 * Writes a file of n rules at path: address rules, then the user and
 * country tail, default allow.  Fills gen with the address entries and
 * *bytes_r with the file's size.  Returns 0, or -1 with a message.
 */
static int
bench_write(const char *path, size_t n, struct bench_gen *gen,
    size_t *bytes_r)
{
	static const char	*tail[BENCH_TAIL] = {
		"deny user mallory@example.org\n",
		"allow user svc-loader@example.org net 192.0.2.0/24\n",
		"deny user svc-loader@example.org\n",
		"deny country KP,IR\n",
	};
	FILE		*f;
	uint64_t	 s = BENCH_SEED + n;
	size_t		 i, naddr = n > BENCH_TAIL ? n - BENCH_TAIL : 0;
	long		 end;
	int		 rv = -1;

	if ((gen->nets = calloc(naddr + 1, sizeof(*gen->nets))) == NULL) {
		perror("calloc");
		return -1;
	}
	gen->nnets = naddr;
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fprintf(f, "# acl_bench: %zu rules\ndefault allow\n", n) < 0)
		goto fail;
	for (i = 0; i < naddr; i++)
		if (bench_line(f, &s, &gen->nets[i], (uint32_t)i) == -1)
			goto fail;
	for (i = 0; i < n - naddr; i++)
		if (fputs(tail[i], f) == EOF)
			goto fail;
	if ((end = ftell(f)) == -1)
		goto fail;
	*bytes_r = (size_t)end;
	rv = 0;
 fail:
	if (fclose(f) == EOF)
		rv = -1;
	if (rv == -1)
		fprintf(stderr, "%s: write failed\n", path);
	return rv;
}

/*
 * Fills the pool: half random global addresses (most miss every rule,
 * as most clients do), a quarter the exact entries, a quarter inside
 * or just past them; one client in five IPv6.
 */
static void
bench_clients(struct acl_client *pool, const struct bench_gen *gen,
    uint64_t *s)
{
	struct acl_net_entry	 e;
	const struct acl_net_entry *p;
	size_t			 i;
	int			 k, j, family;

	for (i = 0; i < BENCH_POOL; i++) {
		k = (int)(bench_rand(s) % 4);
		family = bench_rand(s) % 5 == 0 ? AF_INET6 : AF_INET;
		if (k < 2 || gen->nnets == 0) {
			bench_net(s, &e, family, family == AF_INET ? 32 : 128);
			p = &e;
		} else
			p = &gen->nets[bench_rand(s) % gen->nnets];
		memset(&pool[i], 0, sizeof(pool[i]));
		pool[i].family = p->family;
		memcpy(pool[i].addr, p->addr, sizeof(pool[i].addr));
		if (k == 3) {
			j = p->family == AF_INET ? 3 : 15;
			pool[i].addr[j] ^= (unsigned char)bench_rand(s);
		}
		pool[i].country = "DE";
		pool[i].user = i % 64 == 0 ? "svc-loader@example.org" :
		    "alice@example.org";
	}
}

/* Median load time, and what one loaded file adds to the process. */
static void
bench_load(struct bench_row *row, const char *path)
{
	char		 err[4096];
	double		 t[21];
	struct acl	*acl;
	size_t		 i, runs = row->rules >= 100000 ? 7 : 21;

	for (i = 0; i < runs; i++) {
		t[i] = bench_now();
		acl = acl_load(path, 0, err, sizeof(err));
		t[i] = (bench_now() - t[i]) * 1e3;
		if (acl == NULL) {
			fprintf(stderr, "acl_load: %s\n", err);
			exit(1);
		}
		acl_free(&acl);
	}
	row->load_ms = bench_median(t, runs);
}

/*
 * Mean decision times; counts the clients (as many as the naive timing
 * takes) on which the two evaluators disagree.
 */
static void
bench_eval(struct bench_row *row, const struct acl *acl,
    const struct acl_client *pool)
{
	const struct acl_rule	*r1, *r2;
	uint64_t		 sum = 0, iters;
	double			 t;
	size_t			 i;

	iters = BENCH_NAIVE_WORK / row->rules;
	iters = iters > BENCH_EVALS ? BENCH_EVALS : iters < 1000 ? 1000 : iters;
	for (i = 0; i < BENCH_POOL && i < iters; i++)
		if (acl_eval(acl, &pool[i], &r1) !=
		    acl_eval_naive(acl, &pool[i], &r2) || r1 != r2)
			row->mismatches++;
	t = bench_now();
	for (i = 0; i < BENCH_EVALS; i++)
		sum += acl_eval(acl, &pool[i % BENCH_POOL], &r1);
	row->eval_ns = (bench_now() - t) * 1e9 / BENCH_EVALS;
	t = bench_now();
	for (i = 0; i < iters; i++)
		sum += acl_eval_naive(acl, &pool[i % BENCH_POOL], &r1);
	row->naive_ns = (bench_now() - t) * 1e9 / (double)iters;
	bench_sink += sum;
}

/* The address index alone, on the generated ip and net entries. */
static void
bench_index(struct bench_row *row, const struct bench_gen *gen,
    const struct acl_client *pool)
{
	struct acl_netidx	*idx;
	double			 t[21];
	int64_t			 sum = 0;
	size_t			 i, runs = 11;

	for (i = 0; i < runs; i++) {
		t[i] = bench_now();
		idx = acl_netidx_build(gen->nets, gen->nnets);
		t[i] = (bench_now() - t[i]) * 1e3;
		if (idx == NULL) {
			perror("acl_netidx_build");
			exit(1);
		}
		if (i + 1 < runs)
			acl_netidx_free(&idx);
	}
	row->build_ms = bench_median(t, runs);
	t[0] = bench_now();
	for (i = 0; i < BENCH_EVALS; i++)
		sum += acl_netidx_lookup(idx, pool[i % BENCH_POOL].family,
		    pool[i % BENCH_POOL].addr);
	row->lookup_ns = (bench_now() - t[0]) * 1e9 / BENCH_EVALS;
	bench_sink += (uint64_t)sum;
	acl_netidx_free(&idx);
}

/* One size, in a child process: writes its table row to stdout. */
static int
bench_one(const char *dir, size_t n)
{
	char			 path[4096], err[4096];
	struct bench_gen	 gen = { NULL, 0 };
	struct bench_row	 row;
	struct acl_client	*pool = NULL;
	struct acl		*acl = NULL;
	uint64_t		 s = BENCH_SEED ^ n;
	long			 rss;
	size_t			 i;
	int			 rv = 1;

	memset(&row, 0, sizeof(row));
	row.rules = n;
	if ((size_t)snprintf(path, sizeof(path), "%s/bench-%zu.acl", dir, n) >=
	    sizeof(path) || bench_write(path, n, &gen, &row.file_bytes) == -1)
		goto fail;
	if ((pool = calloc(BENCH_POOL, sizeof(*pool))) == NULL) {
		perror("calloc");
		goto fail;
	}
	bench_clients(pool, &gen, &s);
	malloc_trim(0);
	rss = bench_rss_kib();
	if ((acl = acl_load(path, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "acl_load: %s\n", err);
		goto fail;
	}
	row.rss_kib = bench_rss_kib() - rss;
	for (i = 0; i < acl->nblocks; i++)
		row.idx_bytes += acl_netidx_memory(acl->blocks[i].idx);
	bench_load(&row, path);
	bench_eval(&row, acl, pool);
	bench_index(&row, &gen, pool);
	printf("| %zu | %.1f KiB | %.2f ms | %.0f ns | %.0f ns | %ld KiB | "
	    "%.1f KiB | %.2f ms | %.0f ns | %zu |\n", row.rules,
	    row.file_bytes / 1024.0, row.load_ms, row.eval_ns, row.naive_ns,
	    row.rss_kib, row.idx_bytes / 1024.0, row.build_ms, row.lookup_ns,
	    row.mismatches);
	rv = row.mismatches == 0 ? 0 : 1;
 fail:
	acl_free(&acl);
	unlink(path);
	free(pool);
	free(gen.nets);
	return rv;
}

int
main(int argc, char *argv[])
{
	size_t	 sizes[BENCH_MAX_SIZES] = { 10, 1000, 100000 };
	char	 dir[] = "/tmp/acl_bench.XXXXXX";
	size_t	 i, nsizes = 3;
	pid_t	 pid;
	int	 status, rv = 0;

	if (argc > 1) {
		for (nsizes = 0; nsizes + 1 < (size_t)argc &&
		    nsizes < BENCH_MAX_SIZES; nsizes++)
			if ((sizes[nsizes] = strtoul(argv[nsizes + 1], NULL,
			    10)) == 0 || sizes[nsizes] > ACL_MAX_RULES) {
				fprintf(stderr, "usage: acl_bench "
				    "[RULES...], each 1-%d\n", ACL_MAX_RULES);
				return 1;
			}
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	printf("Aim: a decision under 2 us at 100,000 rules, a load under "
	    "0.5 s.\n\n");
	printf("| rules | file | load (median) | acl_eval | acl_eval_naive | "
	    "RSS growth | index | netidx build | netidx lookup | "
	    "mismatches |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < nsizes; i++) {
		fflush(stdout);
		if ((pid = fork()) == -1) {
			perror("fork");
			rv = 1;
			break;
		}
		if (pid == 0)
			exit(bench_one(dir, sizes[i]));
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			rv = 1;
	}
	if (rmdir(dir) == -1)
		perror(dir);
	return rv;
}
