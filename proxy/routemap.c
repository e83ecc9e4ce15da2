/*
 * The routes map (SPEC.md section 5): "KEY TARGET" lines read into one
 * open-addressing hash table, for lookups whose cost does not grow
 * with the map.
 *
 * Storage, built for maps of a million lines:
 * - every key goes once into one arena (map->keys) as a record: its
 *   length byte, its bytes and the line that gave it; no allocation
 *   per entry;
 * - a slot is 8 bytes: the record's offset, 16 bits of the key's hash
 *   (most keys that differ are told apart without reading the arena)
 *   and the target's index;
 * - the slots are a power of two, at most 70% full, probed linearly:
 *   a lookup reads a slot or two and compares one key.  They are sized
 *   from a first pass that counts the lines, so a load never rehashes
 *   as it grows;
 * - a key read waits in a short queue while its slot is prefetched, so
 *   that the load waits for several cache misses at once;
 * - the distinct targets, at most ROUTEMAP_MAX_TARGETS, sit in a small
 *   array.
 * The hash is FNV-1a (64 bits) with MurmurHash3's fmix64 finalizer,
 * unkeyed: the routes file is the operator's, so nobody hostile picks
 * keys to collide, and lookups only probe a table that never changes.
 *
 * The file is read with read() in large blocks and split with memchr();
 * every mistake is reported, and a map with any is never returned.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "bounds.h"
#include "errbuf.h"
#include "routemap.h"

#define ROUTEMAP_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define ROUTEMAP_DOMAIN_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
/* Bytes asked of read() at a time: few system calls, a fixed buffer. */
#define ROUTEMAP_READ_SIZE	(256 * 1024)
/* Slots of an empty or small map. */
#define ROUTEMAP_MIN_SLOTS	64
/* The target index while loading: twice the targets, a power of two. */
#define ROUTEMAP_TSLOTS		4096
/* The longest canonical key: the longest user name. */
#define ROUTEMAP_MAX_KEY	(AUTH_MAX_USER - 1)
/* An arena record: length byte, key, line. */
#define ROUTEMAP_RECORD(n)	(1 + (n) + sizeof(uint32_t))
/*
 * Entries read ahead of their insertion, their slots prefetched: a
 * large table misses the cache on nearly every insertion, and waiting
 * for one miss at a time took a third of a million-line load.
 */
#define ROUTEMAP_AHEAD		16
/* Arena bytes mapped ahead of the writes at a time (routemap_prefault()). */
#define ROUTEMAP_FAULT_AHEAD	(4 * 1024 * 1024)

_Static_assert(ROUTEMAP_READ_SIZE > ROUTEMAP_MAX_LINE + 1, "read size");
_Static_assert(ROUTEMAP_TSLOTS >= 2 * ROUTEMAP_MAX_TARGETS, "tslots");
_Static_assert(ROUTEMAP_MAX_TARGETS <= UINT16_MAX, "target index");
_Static_assert(ROUTEMAP_MAX_KEY <= UINT8_MAX, "key length byte");
/* 16M slots at most: the low 24 bits of a hash pick one, the top 16 tag it. */
_Static_assert(ROUTEMAP_MAX_ENTRIES <= (1 << 24) / 10 * 7, "entries");
/* Offsets are 32-bit; ROUTEMAP_MAX_ENTRIES of the longest keys fit. */
_Static_assert((unsigned long long)ROUTEMAP_MAX_ENTRIES *
    ROUTEMAP_RECORD(ROUTEMAP_MAX_KEY) < UINT32_MAX, "arena offsets");

struct routemap_slot {
	uint32_t	 koff;		/* record in map->keys; 0: free */
	uint16_t	 tag;		/* top 16 bits of the key's hash */
	uint16_t	 target;
};

_Static_assert(sizeof(struct routemap_slot) == 8, "slot size");

struct routemap {
	struct routemap_slot	*slots;
	size_t			 mask;		/* slots - 1 */
	size_t			 nentries;
	char			*keys;		/* records; byte 0 unused */
	size_t			 keyslen;
	size_t			 keyscap;
	size_t			 keysmapped;	/* prefaulted up to here */
	/* One allocation: the array, then the names it points to. */
	struct routemap_target	*targets;
	size_t			 ntargets;
	long			 star;		/* target of "*", or -1 */
};

/* An entry read but not yet in the table. */
struct routemap_pending {
	uint64_t	 hash;
	uint32_t	 off;		/* its record */
	uint32_t	 line;
	uint16_t	 target;
};

/* A distinct target while loading. */
struct routemap_tgt {
	char		 name[CONF_MAX_NAME];
	uint32_t	 hash;
	int		 pool;
	int		 line;
};

struct routemap_ctx {
	struct routemap		*map;
	const char		*path;
	int			 lower;
	const char		*default_domain;	/* NULL: none */
	int			 line;
	struct errbuf		 errs;
	/* Said once: what follows would only repeat it. */
	int			 nomem;
	int			 toomany;
	int			 toomanytargets;
	/* Distinct targets and their index (0: free, else index + 1). */
	struct routemap_tgt	*tgts;
	size_t			 ntgts;
	size_t			 captgts;
	uint16_t		 tslots[ROUTEMAP_TSLOTS];
	/* Entries on their way into the table, oldest at pendhead. */
	struct routemap_pending	 pend[ROUTEMAP_AHEAD];
	size_t			 npend;
	size_t			 pendhead;
	int			 draining;
	char			 buf[ROUTEMAP_READ_SIZE + 1];
};

static void	routemap_err(struct routemap_ctx *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	routemap_drain(struct routemap_ctx *);

/*
 * Messages.
 */

/*
 * Adds "FILE:LINE: message" (line 0: "FILE: message") to the caller's
 * buffer, one a line, or the final "... more errors" once it is full.
 * The entries of earlier lines go into the table first, so that a key
 * they repeat is reported in line order.
 */
static void
routemap_err(struct routemap_ctx *ctx, int line, const char *fmt, ...)
{
	char	msg[ROUTEMAP_MAX_MSG];
	va_list	ap;
	int	n;

	if (!ctx->draining)
		routemap_drain(ctx);
	/* A million bad lines: count them without formatting each. */
	if (ctx->errs.full || ctx->errs.buf == NULL) {
		errbuf_add(&ctx->errs, "");
		return;
	}
	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", ctx->path, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", ctx->path);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	errbuf_add(&ctx->errs, msg);
}

static void
routemap_nomem(struct routemap_ctx *ctx)
{
	if (!ctx->nomem)
		routemap_err(ctx, ctx->line, "%s", strerror(ENOMEM));
	ctx->nomem = 1;
}

/*
 * The hash table.
 */

/* FNV-1a 64 with fmix64 (MurmurHash3). */
static uint64_t
routemap_hash(const char *s, size_t n)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (h);
}

/*
 * Asks the kernel to map the pages of p (len bytes) now, in one call,
 * rather than one page fault at a time as the load first writes them:
 * on virtual machines a fault can cost tens of microseconds, which
 * made up a third of a million-line load here.  Only a hint: without
 * MADV_POPULATE_WRITE (Linux 5.14) the pages come as they are written.
 */
static void
routemap_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t	 pg = (uintptr_t)sysconf(_SC_PAGESIZE), a, b;

	a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	b = ((uintptr_t)p + len) & ~(pg - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

/* The slot holding key (n bytes, hash h), or the free slot ending its run. */
static struct routemap_slot *
routemap_probe(const struct routemap *map, const char *key, size_t n,
    uint64_t h)
{
	struct routemap_slot	*s;
	const char		*k;
	size_t			 i = h & map->mask;
	uint16_t		 tag = (uint16_t)(h >> 48);

	for (;; i = (i + 1) & map->mask) {
		s = &map->slots[i];
		if (s->koff == 0)
			return (s);
		k = map->keys + s->koff;
		if (s->tag == tag && (unsigned char)k[0] == n &&
		    memcmp(k + 1, key, n) == 0)
			return (s);
	}
}

/*
 * Moves the entries into nslots slots (a power of two), hashing each
 * key again.  Returns 0, or -1 when out of memory.
 */
static int
routemap_resize(struct routemap *map, size_t nslots)
{
	struct routemap_slot	*old = map->slots, *s;
	const char		*k;
	size_t			 i, oldmask = map->mask;

	if ((map->slots = calloc(nslots, sizeof(*map->slots))) == NULL) {
		map->slots = old;
		return (-1);
	}
	routemap_prefault(map->slots, nslots * sizeof(*map->slots));
	map->mask = nslots - 1;
	for (i = 0; old != NULL && i <= oldmask; i++) {
		if (old[i].koff == 0)
			continue;
		k = map->keys + old[i].koff;
		s = routemap_probe(map, k + 1, (unsigned char)k[0],
		    routemap_hash(k + 1, (unsigned char)k[0]));
		*s = old[i];
	}
	free(old);
	return (0);
}

/* The fewest slots (at least ROUTEMAP_MIN_SLOTS) for n entries. */
static size_t
routemap_nslots(size_t n)
{
	size_t	 nslots = ROUTEMAP_MIN_SLOTS;

	/* At most 70% full, or probes grow long. */
	while (n * 10 > nslots * 7)
		nslots *= 2;
	return (nslots);
}

/*
 * Appends the record of key (n bytes) read at line to the arena.
 * Returns its offset, or 0 when out of memory.
 */
static uint32_t
routemap_record(struct routemap *map, const char *key, size_t n,
    uint32_t line)
{
	char	*k;
	size_t	 cap, off = map->keyslen, len = ROUTEMAP_RECORD(n);

	/* ROUTEMAP_MAX_ENTRIES keys fit; this is for safety. */
	if (off + len > UINT32_MAX)
		return (0);
	if (off + len > map->keyscap) {
		cap = map->keyscap < 4096 ? 4096 : map->keyscap;
		while (cap < off + len)
			cap *= 2;
		if ((k = realloc(map->keys, cap)) == NULL)
			return (0);
		map->keys = k;
		map->keyscap = cap;
	}
	if (off + len > map->keysmapped) {
		cap = map->keyscap - map->keysmapped;
		if (cap > ROUTEMAP_FAULT_AHEAD)
			cap = ROUTEMAP_FAULT_AHEAD;
		routemap_prefault(map->keys + map->keysmapped, cap);
		map->keysmapped += cap;
	}
	k = map->keys + off;
	k[0] = (char)n;
	memcpy(k + 1, key, n);
	memcpy(k + 1 + n, &line, sizeof(line));
	map->keyslen += len;
	return ((uint32_t)off);
}

/* Puts the pending entry p into the table, unless its key is there. */
static void
routemap_insert(struct routemap_ctx *ctx, const struct routemap_pending *p)
{
	struct routemap		*map = ctx->map;
	struct routemap_slot	*s;
	const char		*k = map->keys + p->off;
	size_t			 n = (unsigned char)k[0];
	uint32_t		 line;

	s = routemap_probe(map, k + 1, n, p->hash);
	if (s->koff != 0) {
		memcpy(&line, map->keys + s->koff + 1 + n, sizeof(line));
		routemap_err(ctx, (int)p->line, "%.*s given twice, first at "
		    "line %u", (int)n, k + 1, line);
		return;
	}
	/* The first pass counted the lines: this is for a file that grew. */
	if ((map->nentries + 1) * 10 > (map->mask + 1) * 7) {
		if (routemap_resize(map, (map->mask + 1) * 2) == -1) {
			routemap_nomem(ctx);
			return;
		}
		s = routemap_probe(map, k + 1, n, p->hash);
	}
	s->koff = p->off;
	s->tag = (uint16_t)(p->hash >> 48);
	s->target = p->target;
	map->nentries++;
	if (n == 1 && k[1] == '*')
		map->star = p->target;
}

/*
 * Takes the oldest pending entry off the queue before inserting it: a
 * message about it drains the rest, which must not see it again.
 */
static void
routemap_pop(struct routemap_ctx *ctx)
{
	struct routemap_pending	 p = ctx->pend[ctx->pendhead];

	ctx->pendhead = (ctx->pendhead + 1) % ROUTEMAP_AHEAD;
	ctx->npend--;
	routemap_insert(ctx, &p);
}

/* Puts every pending entry into the table, oldest first. */
static void
routemap_drain(struct routemap_ctx *ctx)
{
	ctx->draining = 1;
	while (ctx->npend > 0)
		routemap_pop(ctx);
	ctx->draining = 0;
}

/*
 * Stores the canonical key (n bytes) for target at the current line:
 * its record now, its slot once ROUTEMAP_AHEAD more have come (or at a
 * message or the end), by when the slot is likely in the cache.
 */
static void
routemap_queue(struct routemap_ctx *ctx, const char *key, size_t n,
    int target)
{
	struct routemap		*map = ctx->map;
	struct routemap_pending	*p;

	if (map->nentries + ctx->npend >= ROUTEMAP_MAX_ENTRIES) {
		routemap_drain(ctx);
		if (map->nentries >= ROUTEMAP_MAX_ENTRIES) {
			if (!ctx->toomany)
				routemap_err(ctx, ctx->line, "more than %d "
				    "entries", ROUTEMAP_MAX_ENTRIES);
			ctx->toomany = 1;
			return;
		}
	}
	if (ctx->npend == ROUTEMAP_AHEAD)
		routemap_pop(ctx);
	p = &ctx->pend[(ctx->pendhead + ctx->npend) % ROUTEMAP_AHEAD];
	if ((p->off = routemap_record(map, key, n, (uint32_t)ctx->line)) ==
	    0) {
		routemap_nomem(ctx);
		return;
	}
	p->hash = routemap_hash(key, n);
	p->line = (uint32_t)ctx->line;
	p->target = (uint16_t)target;
	ctx->npend++;
	__builtin_prefetch(&map->slots[p->hash & map->mask], 1);
}

/* The index of an existing key, or -1. */
static long
routemap_find(const struct routemap *map, const char *key, size_t n)
{
	const struct routemap_slot	*s;

	s = routemap_probe(map, key, n, routemap_hash(key, n));
	return (s->koff != 0 ? (long)s->target : -1);
}

/*
 * Lines.
 */

static void
routemap_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Whether name is a domain: dot-separated labels of letters, digits, - _. */
static int
routemap_domain_ok(const char *name)
{
	size_t	n = strlen(name), i, start = 0;

	if (n == 0 || n > ROUTEMAP_MAX_DOMAIN ||
	    strspn(name, ROUTEMAP_DOMAIN_CHARS ".") != n)
		return (0);
	for (i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		if (i == start || i - start > ROUTEMAP_MAX_LABEL)
			return (0);
		start = i + 1;
	}
	return (1);
}

/*
 * The index of the target written t, added when new; -1 after
 * reporting why it is not a target.
 */
static int
routemap_target_add(struct routemap_ctx *ctx, const char *t)
{
	struct routemap_tgt	*g;
	const char		*name = t;
	size_t			 n, i, cap;
	uint32_t		 h;
	int			 pool = 0;

	if (strncmp(t, "pool:", 5) == 0) {
		name = t + 5;
		pool = 1;
	}
	/* Most lines name a known target: look for it first. */
	h = (uint32_t)routemap_hash(t, strlen(t));
	for (i = h & (ROUTEMAP_TSLOTS - 1); ctx->tslots[i] != 0;
	    i = (i + 1) & (ROUTEMAP_TSLOTS - 1)) {
		g = &ctx->tgts[ctx->tslots[i] - 1];
		if (g->hash == h && g->pool == pool &&
		    strcmp(g->name, name) == 0)
			return (ctx->tslots[i] - 1);
	}
	n = strlen(name);
	if (n == 0 && pool) {
		routemap_err(ctx, ctx->line, "target pool: names no pool, "
		    "expected pool:NAME, a name being 1-%d letters, digits, "
		    "'.', '-' or '_'", CONF_MAX_NAME - 1);
		return (-1);
	}
	if (n == 0 || n >= CONF_MAX_NAME ||
	    strspn(name, ROUTEMAP_NAME_CHARS) != n) {
		routemap_err(ctx, ctx->line, "target %s: expected a back end "
		    "NAME or pool:NAME, a name being 1-%d letters, digits, "
		    "'.', '-' or '_'", t, CONF_MAX_NAME - 1);
		return (-1);
	}
	if (ctx->ntgts == ROUTEMAP_MAX_TARGETS) {
		if (!ctx->toomanytargets)
			routemap_err(ctx, ctx->line, "more than %d distinct "
			    "targets, at most one for each back end and pool",
			    ROUTEMAP_MAX_TARGETS);
		ctx->toomanytargets = 1;
		return (-1);
	}
	if (ctx->ntgts == ctx->captgts) {
		cap = ctx->captgts == 0 ? 32 : ctx->captgts * 2;
		if ((g = reallocarray(ctx->tgts, cap, sizeof(*g))) == NULL) {
			routemap_nomem(ctx);
			return (-1);
		}
		ctx->tgts = g;
		ctx->captgts = cap;
	}
	g = &ctx->tgts[ctx->ntgts];
	memcpy(g->name, name, n + 1);
	g->hash = h;
	g->pool = pool;
	g->line = ctx->line;
	ctx->tslots[i] = (uint16_t)++ctx->ntgts;
	return ((int)ctx->ntgts - 1);
}

/*
 * The canonical form of key into out (AUTH_MAX_USER bytes): "*",
 * "@domain" lower-cased, or a user name as acl_canon_user() makes it.
 * Returns its length, or -1 after reporting why it is no key.
 */
static int
routemap_key(struct routemap_ctx *ctx, const char *key, char *out)
{
	const char	*at = strchr(key, '@');

	if (strcmp(key, "*") == 0) {
		memcpy(out, "*", 2);
		return (1);
	}
	if (strchr(key, '*') != NULL) {
		routemap_err(ctx, ctx->line, "key %s: * stands alone, for "
		    "every other user; for every user of a domain write "
		    "@DOMAIN", key);
		return (-1);
	}
	if (at != NULL && strchr(at + 1, '@') != NULL) {
		routemap_err(ctx, ctx->line, "key %s: more than one @, "
		    "expected NAME, NAME@DOMAIN, @DOMAIN or *", key);
		return (-1);
	}
	if (at != NULL && at[1] == '\0') {
		routemap_err(ctx, ctx->line, "key %s: expected a domain "
		    "after @", key);
		return (-1);
	}
	if (key[0] == '@') {
		/* Domains are case-insensitive whatever username_case says. */
		if (!routemap_domain_ok(key + 1)) {
			routemap_err(ctx, ctx->line, "key %s: expected a "
			    "domain such as example.org after @: labels of "
			    "1-%d letters, digits, '-' or '_', %d characters "
			    "in all at most", key, ROUTEMAP_MAX_LABEL,
			    ROUTEMAP_MAX_DOMAIN);
			return (-1);
		}
		memcpy(out, key, strlen(key) + 1);
		routemap_lower(out);
		return ((int)strlen(out));
	}
	if (acl_canon_user(key, ctx->lower, ctx->default_domain, out,
	    AUTH_MAX_USER) == -1) {
		routemap_err(ctx, ctx->line, "key %s: longer than %d "
		    "characters%s, the longest user name accepted", key,
		    ROUTEMAP_MAX_KEY, at == NULL && ctx->default_domain !=
		    NULL ? " with @default_domain" : "");
		return (-1);
	}
	return ((int)strlen(out));
}

/*
 * Splits s (len bytes, NUL-terminated) into at most three words, up to
 * a "#" that starts a word.  Control characters in a word are refused:
 * an editor does not show them, so the key would not read as it
 * matches.  Returns the number of words, or -1 after reporting.
 */
static int
routemap_split(struct routemap_ctx *ctx, char *s, size_t len, char **w)
{
	size_t	i = 0;
	int	n = 0;

	while (i < len && n < 3) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len || s[i] == '#')
			break;
		w[n++] = s + i;
		for (; i < len && s[i] != ' ' && s[i] != '\t'; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
				routemap_err(ctx, ctx->line, "control "
				    "character 0x%02x, expected printable "
				    "text", (unsigned char)s[i]);
				return (-1);
			}
		s[i] = '\0';
		if (i < len)
			i++;
	}
	return (n);
}

/* Applies one line: s, len bytes without its newline. */
static void
routemap_line(struct routemap_ctx *ctx, char *s, size_t len)
{
	char	 key[AUTH_MAX_USER], *w[3];
	int	 n, klen, target;

	if (len > 0 && s[len - 1] == '\r')	/* written on Windows */
		len--;
	/* The UTF-8 byte order mark some Windows editors begin with. */
	if (ctx->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	if (len > ROUTEMAP_MAX_LINE) {
		routemap_err(ctx, ctx->line, "line too long, at most %d "
		    "characters", ROUTEMAP_MAX_LINE);
		return;
	}
	s[len] = '\0';
	if ((n = routemap_split(ctx, s, len, w)) <= 0)
		return;
	if (n == 1) {
		routemap_err(ctx, ctx->line, "%s: missing target, expected "
		    "KEY TARGET, the target a back end NAME or pool:NAME",
		    w[0]);
		return;
	}
	if (n == 3) {
		routemap_err(ctx, ctx->line, "unexpected %s after the target "
		    "%s, expected KEY TARGET and then only a # comment", w[2],
		    w[1]);
		return;
	}
	klen = routemap_key(ctx, w[0], key);
	target = routemap_target_add(ctx, w[1]);
	if (klen > 0 && target >= 0)
		routemap_queue(ctx, key, (size_t)klen, target);
}

/*
 * Reads fd block by block and applies each line.  A line longer than
 * a block holds is skipped to its end and reported once.
 */
static void
routemap_read(struct routemap_ctx *ctx, int fd)
{
	char	*buf = ctx->buf, *nl;
	size_t	 have = 0, start, len;
	ssize_t	 n;
	int	 skip = 0;

	while (!ctx->nomem) {
		n = read(fd, buf + have, ROUTEMAP_READ_SIZE - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			routemap_err(ctx, 0, "read error: %s", strerror(errno));
			return;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (start = 0; (nl = memchr(buf + start, '\n',
		    have - start)) != NULL; start += len + 1) {
			len = (size_t)(nl - (buf + start));
			if (ctx->line == INT_MAX) {
				routemap_err(ctx, ctx->line, "more than %d "
				    "lines", INT_MAX);
				return;
			}
			ctx->line++;
			if (skip) {
				routemap_err(ctx, ctx->line, "line too long, "
				    "at most %d characters", ROUTEMAP_MAX_LINE);
				skip = 0;
			} else
				routemap_line(ctx, buf + start, len);
		}
		have -= start;
		/* A line and its CR that cannot fit are known too long. */
		if (skip || have > ROUTEMAP_MAX_LINE + 1) {
			skip = 1;
			have = 0;
		} else
			memmove(buf, buf + start, have);
	}
	if (ctx->nomem || (!skip && have == 0))
		return;
	ctx->line++;
	if (skip)
		routemap_err(ctx, ctx->line, "line too long, at most %d "
		    "characters", ROUTEMAP_MAX_LINE);
	else
		routemap_line(ctx, buf, have);	/* no final newline */
}

/* Moves the targets into the map: one array, the names after it. */
static int
routemap_targets(struct routemap_ctx *ctx)
{
	struct routemap		*map = ctx->map;
	struct routemap_target	*t;
	char			*names;
	size_t			 i, n, size;

	size = ctx->ntgts * sizeof(*t);
	for (i = 0; i < ctx->ntgts; i++)
		size += strlen(ctx->tgts[i].name) + 1;
	if (size == 0)
		return (0);
	if ((t = malloc(size)) == NULL)
		return (-1);
	names = (char *)(t + ctx->ntgts);
	for (i = 0; i < ctx->ntgts; i++) {
		n = strlen(ctx->tgts[i].name) + 1;
		memcpy(names, ctx->tgts[i].name, n);
		t[i].name = names;
		t[i].pool = ctx->tgts[i].pool;
		t[i].line = ctx->tgts[i].line;
		names += n;
	}
	map->targets = t;
	map->ntargets = ctx->ntgts;
	return (0);
}

/*
 * Counts the lines of fd, for sizing the table once, and rewinds it.
 * Returns 0, or -1 after reporting.
 */
static int
routemap_count(struct routemap_ctx *ctx, int fd, size_t *lines_r)
{
	const char	*p, *end;
	size_t		 lines = 1;
	ssize_t		 n;

	while ((n = read(fd, ctx->buf, ROUTEMAP_READ_SIZE)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			routemap_err(ctx, 0, "read error: %s", strerror(errno));
			return (-1);
		}
		for (p = ctx->buf, end = p + n; (p = memchr(p, '\n',
		    (size_t)(end - p))) != NULL; p++)
			lines++;
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		routemap_err(ctx, 0, "cannot rewind: %s", strerror(errno));
		return (-1);
	}
	*lines_r = lines;
	return (0);
}

/* Opens and reads path into ctx->map. */
static void
routemap_file(struct routemap_ctx *ctx)
{
	struct stat	 st;
	size_t		 lines;
	int		 fd;

	/*
	 * O_NONBLOCK: a FIFO named by mistake must not hang a reload;
	 * anything but a regular file is refused below.
	 */
	if ((fd = open(ctx->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		routemap_err(ctx, 0, "cannot open: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		routemap_err(ctx, 0, "cannot open: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		routemap_err(ctx, 0, "not a regular file");
	else if (routemap_count(ctx, fd, &lines) == 0) {
		if (lines > ROUTEMAP_MAX_ENTRIES)
			lines = ROUTEMAP_MAX_ENTRIES;
		if (routemap_resize(ctx->map, routemap_nslots(lines)) == -1)
			routemap_nomem(ctx);
		else {
			routemap_read(ctx, fd);
			routemap_drain(ctx);
		}
	}
	(void)close(fd);
}

/*
 * Gives back what the load reserved but did not use: the arena's tail,
 * and half the table or more when many lines were comments.
 */
static void
routemap_trim(struct routemap *map)
{
	char	*k;
	size_t	 nslots = routemap_nslots(map->nentries);

	if (nslots < map->mask + 1)
		(void)routemap_resize(map, nslots);	/* else keep it */
	if (map->keyscap > map->keyslen &&
	    (k = realloc(map->keys, map->keyslen)) != NULL) {
		map->keys = k;
		map->keyscap = map->keyslen;
	}
}

/*
 * The interface.
 */

/*
 * Loads the routes map at path.  flags: ROUTEMAP_LOWER lower-cases user
 * keys (username_case = lower); "@domain" keys are lower-cased always.
 * default_domain (NULL or "": none) is appended as "@default_domain" to
 * user keys without "@".  Returns the map, which the caller frees with
 * routemap_free(); or NULL with every mistake as "FILE:LINE: what is
 * wrong" lines in err (cut with a last "... more errors" line when
 * errlen is too small).  err is the empty string on success.
 */
struct routemap *
routemap_load(const char *path, int flags, const char *default_domain,
    char *err, size_t errlen)
{
	struct routemap_ctx	*ctx;
	struct routemap		*map = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (ctx->map = calloc(1, sizeof(*ctx->map))) == NULL) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "%s: %s", path,
			    strerror(ENOMEM));
		goto done;
	}
	ctx->path = path;
	errbuf_init(&ctx->errs, err, errlen);
	ctx->lower = (flags & ROUTEMAP_LOWER) != 0;
	if (default_domain != NULL && *default_domain != '\0')
		ctx->default_domain = default_domain;
	ctx->map->keyslen = 1;		/* offset 0 marks a free slot */
	ctx->map->star = -1;
	routemap_file(ctx);
	if (ctx->errs.n == 0 && routemap_targets(ctx) == -1) {
		ctx->line = 0;
		routemap_nomem(ctx);
	}
	if (ctx->errs.n == 0) {
		map = ctx->map;
		ctx->map = NULL;
		routemap_trim(map);
	}
done:
	if (ctx != NULL) {
		routemap_free(&ctx->map);
		free(ctx->tgts);
	}
	free(ctx);
	return (map);
}

/* Frees *mapp, which may be NULL, and sets it to NULL. */
void
routemap_free(struct routemap **mapp)
{
	struct routemap	*map = *mapp;

	if (map == NULL)
		return;
	free(map->slots);
	free(map->keys);
	free(map->targets);
	free(map);
	*mapp = NULL;
}

/* Lines with a key, "*" included. */
size_t
routemap_nentries(const struct routemap *map)
{
	return (map->nentries);
}

size_t
routemap_ntargets(const struct routemap *map)
{
	return (map->ntargets);
}

/*
 * Target i (0 .. routemap_ntargets() - 1) in the order the file first
 * names them, NULL past the end.  It belongs to map.
 */
const struct routemap_target *
routemap_target(const struct routemap *map, size_t i)
{
	return (i < map->ntargets ? &map->targets[i] : NULL);
}

/*
 * The target index for the canonical user: the key equal to user, else
 * "@" and what follows the last "@" of user (lower-cased, as those keys
 * are), else "*"; -1 when none applies.  Each step is one probe of the
 * table; map is never modified, so threads may share it.
 */
long
routemap_lookup(const struct routemap *map, const char *user)
{
	char		 dom[1 + ROUTEMAP_MAX_DOMAIN + 1];
	const char	*at;
	size_t		 n = strlen(user), dn, i;
	long		 t;

	if (n > 0 && n <= ROUTEMAP_MAX_KEY &&
	    (t = routemap_find(map, user, n)) != -1)
		return (t);
	if ((at = memrchr(user, '@', n)) != NULL &&
	    (dn = n - (size_t)(at + 1 - user)) > 0 &&
	    dn <= ROUTEMAP_MAX_DOMAIN) {
		dom[0] = '@';
		for (i = 0; i < dn; i++)
			dom[i + 1] = (char)(at[i + 1] >= 'A' &&
			    at[i + 1] <= 'Z' ? at[i + 1] - 'A' + 'a' :
			    at[i + 1]);
		if ((t = routemap_find(map, dom, dn + 1)) != -1)
			return (t);
	}
	return (map->star);
}
