/*
 * The compiled address index (acl_netidx.h): every ip and net entry of
 * a rule run becomes disjoint, sorted address ranges, each holding the
 * lowest rule index that covers it, so a lookup is one binary search.
 *
 * CIDR blocks are either nested or disjoint, never partly overlapping.
 * Sorted by start address, widest first, the entries therefore form a
 * forest that a stack walks in one pass: the ranges inside an entry and
 * outside its children get the minimum rule of the entry and of all
 * its ancestors, which the stack keeps.  Sorting costs O(n log n), the
 * walk O(n), and the stack never holds more than 129 entries once
 * duplicates are dropped (one per prefix length).  A heap-based sweep
 * over endpoints would also handle arbitrary ranges; we never get any.
 *
 * Both families run through the same code on 128-bit integers; IPv4
 * starts are narrowed to 32 bits at the end to halve their cache use.
 * Each family stores only range starts and their rule, a gap being a
 * range of rule -1, so a lookup needs no end comparison and no ends
 * are kept.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acl_netidx.h"

#ifndef __SIZEOF_INT128__
#error "acl/netidx.c needs unsigned __int128 (gcc or clang on 64 bits)"
#endif

typedef unsigned __int128 u128;

/* One prefix length per nesting level: /0 to /128. */
#define NETIDX_MAX_DEPTH	129

struct netidx_span {
	u128		 lo;	/* first address */
	u128		 hi;	/* last address, inclusive */
	uint32_t	 rule;
};

/* Ranges as the walk produces them, before narrowing. */
struct netidx_out {
	u128		*start;
	int64_t		*rule;	/* -1: gap */
	size_t		 n;
	u128		 end;	/* last address of range n - 1 */
};

struct acl_netidx {
	uint32_t	*v4;		/* IPv4 range starts, ascending */
	int64_t		*v4rule;	/* rule of each range, -1: none */
	size_t		 n4;
	u128		*v6;		/* IPv6 range starts, ascending */
	int64_t		*v6rule;
	size_t		 n6;
};

static int	 netidx_family(struct acl_netidx *,
		    const struct acl_net_entry *, size_t, int);
static size_t	 netidx_spans(struct netidx_span *,
		    const struct acl_net_entry *, size_t, int);
static int	 netidx_span_cmp(const void *, const void *);
static void	 netidx_walk(struct netidx_out *, const struct netidx_span *,
		    size_t, u128);
static void	 netidx_emit(struct netidx_out *, u128, u128, int64_t);
static int	 netidx_store(struct acl_netidx *, const struct netidx_out *,
		    int);
static int64_t	 netidx_find4(const struct acl_netidx *, uint32_t);
static int64_t	 netidx_find6(const struct acl_netidx *, u128);
static u128	 netidx_bytes(const unsigned char *, int);

struct acl_netidx *
acl_netidx_build(const struct acl_net_entry *entries, size_t n)
{
	struct acl_netidx	*idx;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if ((entries[i].family == AF_INET && entries[i].prefix >= 0 &&
		    entries[i].prefix <= 32) ||
		    (entries[i].family == AF_INET6 &&
		    entries[i].prefix >= 0 && entries[i].prefix <= 128))
			continue;
		errno = EINVAL;
		return NULL;
	}
	if ((idx = calloc(1, sizeof(*idx))) == NULL)
		return NULL;
	if (netidx_family(idx, entries, n, AF_INET) == -1 ||
	    netidx_family(idx, entries, n, AF_INET6) == -1) {
		acl_netidx_free(&idx);
		return NULL;
	}
	return idx;
}

void
acl_netidx_free(struct acl_netidx **idxp)
{
	struct acl_netidx	*idx = *idxp;

	if (idx == NULL)
		return;
	free(idx->v4);
	free(idx->v4rule);
	free(idx->v6);
	free(idx->v6rule);
	free(idx);
	*idxp = NULL;
}

int64_t
acl_netidx_lookup(const struct acl_netidx *idx, int family,
    const unsigned char *addr)
{
	if (idx == NULL)
		return -1;
	if (family == AF_INET)
		return netidx_find4(idx, (uint32_t)netidx_bytes(addr, 4));
	if (family == AF_INET6)
		return netidx_find6(idx, netidx_bytes(addr, 16));
	return -1;
}

size_t
acl_netidx_memory(const struct acl_netidx *idx)
{
	if (idx == NULL)
		return 0;
	return sizeof(*idx) +
	    idx->n4 * (sizeof(*idx->v4) + sizeof(*idx->v4rule)) +
	    idx->n6 * (sizeof(*idx->v6) + sizeof(*idx->v6rule));
}

/*
 * Builds the ranges of one family into idx.  Returns 0, or -1 when out
 * of memory (idx keeps what it has, for acl_netidx_free()).
 */
static int
netidx_family(struct acl_netidx *idx, const struct acl_net_entry *entries,
    size_t n, int family)
{
	struct netidx_span	*spans = NULL;
	struct netidx_out	 out;
	size_t			 i, m = 0;
	int			 rv = -1;

	memset(&out, 0, sizeof(out));
	for (i = 0; i < n; i++)
		if (entries[i].family == family)
			m++;
	if (m == 0)
		return 0;
	/* Each span adds at most two boundaries: its start and its end. */
	if ((spans = calloc(m, sizeof(*spans))) == NULL ||
	    (out.start = calloc(2 * m, sizeof(*out.start))) == NULL ||
	    (out.rule = calloc(2 * m, sizeof(*out.rule))) == NULL)
		goto fail;
	m = netidx_spans(spans, entries, n, family);
	qsort(spans, m, sizeof(*spans), netidx_span_cmp);
	netidx_walk(&out, spans, m,
	    family == AF_INET ? (u128)UINT32_MAX : ~(u128)0);
	rv = netidx_store(idx, &out, family);
 fail:
	free(spans);
	free(out.start);
	free(out.rule);
	return rv;
}

/* Fills spans with the entries of family; returns how many. */
static size_t
netidx_spans(struct netidx_span *spans, const struct acl_net_entry *entries,
    size_t n, int family)
{
	u128	 host;
	size_t	 i, m = 0;
	int	 bits = family == AF_INET ? 32 : 128, hostbits;

	for (i = 0; i < n; i++) {
		if (entries[i].family != family)
			continue;
		/* A shift by 128 is undefined, hence the special case. */
		hostbits = bits - entries[i].prefix;
		host = hostbits == 128 ? ~(u128)0 :
		    ((u128)1 << hostbits) - 1;
		/* Host bits should be zero already; do not rely on it. */
		spans[m].lo = netidx_bytes(entries[i].addr, bits / 8) & ~host;
		spans[m].hi = spans[m].lo | host;
		spans[m].rule = entries[i].rule;
		m++;
	}
	return m;
}

/* By start, then widest first, then lowest rule first. */
static int
netidx_span_cmp(const void *a, const void *b)
{
	const struct netidx_span	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return 0;
}

/*
 * Walks the sorted spans (addresses up to max) and emits their
 * disjoint ranges into out.  stack[] holds the spans enclosing the
 * current position with, for each, the lowest rule of it and its
 * ancestors; pos is the first address not yet emitted.
 */
static void
netidx_walk(struct netidx_out *out, const struct netidx_span *spans,
    size_t m, u128 max)
{
	struct {
		u128	 hi;
		uint32_t rule;
	}		 stack[NETIDX_MAX_DEPTH];
	u128		 pos = 0;
	size_t		 i, sp = 0;
	uint32_t	 rule;

	for (i = 0; i < m; i++) {
		/* A duplicate: the first of the group has the lowest rule. */
		if (i > 0 && spans[i].lo == spans[i - 1].lo &&
		    spans[i].hi == spans[i - 1].hi)
			continue;
		/* Close what ends before this span; hi < lo <= max. */
		while (sp > 0 && stack[sp - 1].hi < spans[i].lo) {
			sp--;
			if (pos <= stack[sp].hi) {
				netidx_emit(out, pos, stack[sp].hi,
				    stack[sp].rule);
				pos = stack[sp].hi + 1;
			}
		}
		/* Laminar: the top of the stack, if any, encloses span i. */
		if (sp > 0 && pos < spans[i].lo)
			netidx_emit(out, pos, spans[i].lo - 1,
			    stack[sp - 1].rule);
		pos = spans[i].lo;
		rule = spans[i].rule;
		if (sp > 0 && stack[sp - 1].rule < rule)
			rule = stack[sp - 1].rule;
		stack[sp].hi = spans[i].hi;
		stack[sp].rule = rule;
		sp++;
	}
	/* Unwind; pos + 1 would wrap past max, so stop there. */
	while (sp > 0) {
		sp--;
		if (pos > stack[sp].hi)
			continue;
		netidx_emit(out, pos, stack[sp].hi, stack[sp].rule);
		if (stack[sp].hi == max)
			return;
		pos = stack[sp].hi + 1;
	}
	if (out->n > 0 && out->end < max)
		netidx_emit(out, out->end + 1, max, -1);
}

/*
 * Appends lo..hi with rule: merged into the previous range when that
 * has the same rule and ends at lo - 1, after a gap range otherwise.
 * Ranges arrive in ascending order, so out never needs more than two
 * slots per span.
 */
static void
netidx_emit(struct netidx_out *out, u128 lo, u128 hi, int64_t rule)
{
	if (out->n > 0 && out->end + 1 != lo) {
		out->start[out->n] = out->end + 1;
		out->rule[out->n++] = -1;
	}
	if (out->n == 0 || out->rule[out->n - 1] != rule) {
		out->start[out->n] = lo;
		out->rule[out->n++] = rule;
	}
	out->end = hi;
}

/* Copies out into idx, IPv4 narrowed.  Returns 0, or -1 (no memory). */
static int
netidx_store(struct acl_netidx *idx, const struct netidx_out *out,
    int family)
{
	int64_t	*rule;
	size_t	 i;

	if ((rule = calloc(out->n, sizeof(*rule))) == NULL)
		return -1;
	memcpy(rule, out->rule, out->n * sizeof(*rule));
	if (family == AF_INET) {
		idx->v4rule = rule;
		if ((idx->v4 = calloc(out->n, sizeof(*idx->v4))) == NULL)
			return -1;
		for (i = 0; i < out->n; i++)
			idx->v4[i] = (uint32_t)out->start[i];
		idx->n4 = out->n;
		return 0;
	}
	idx->v6rule = rule;
	if ((idx->v6 = calloc(out->n, sizeof(*idx->v6))) == NULL)
		return -1;
	memcpy(idx->v6, out->start, out->n * sizeof(*idx->v6));
	idx->n6 = out->n;
	return 0;
}

/*
 * The rule of the range holding a: a branch-free binary search for the
 * last start <= a, -1 when a lies before the first range.
 */
static int64_t
netidx_find4(const struct acl_netidx *idx, uint32_t a)
{
	const uint32_t	*b = idx->v4;
	size_t		 n = idx->n4, half;

	if (n == 0)
		return -1;
	for (; n > 1; n -= half) {
		half = n / 2;
		b = b[half] <= a ? b + half : b;
	}
	return *b <= a ? idx->v4rule[b - idx->v4] : -1;
}

/* The same for IPv6. */
static int64_t
netidx_find6(const struct acl_netidx *idx, u128 a)
{
	const u128	*b = idx->v6;
	size_t		 n = idx->n6, half;

	if (n == 0)
		return -1;
	for (; n > 1; n -= half) {
		half = n / 2;
		b = b[half] <= a ? b + half : b;
	}
	return *b <= a ? idx->v6rule[b - idx->v6] : -1;
}

/* The first len bytes of addr (network order) as an integer. */
static u128
netidx_bytes(const unsigned char *addr, int len)
{
	u128	 v = 0;
	int	 i;

	for (i = 0; i < len; i++)
		v = v << 8 | addr[i];
	return v;
}
