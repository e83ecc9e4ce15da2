/*
 * The routes map (SPEC.md section 5): which back end or pool holds each
 * user's mail.  One "KEY TARGET" a line: KEY is a canonical user name,
 * "@domain" or "*"; TARGET is a back end NAME or "pool:NAME".  Loaded
 * whole and immutable afterwards; lookups cost O(1) whatever its size.
 * Nothing here logs or knows the configuration: the caller resolves the
 * distinct targets against its [backend] sections.
 */
#ifndef ROUTEMAP_H
#define ROUTEMAP_H

#include <stddef.h>

struct routemap;

struct routemap_target {
	const char	*name;		/* "store1" or, for a pool, "stores" */
	int		 pool;		/* "pool:NAME" */
	int		 line;		/* first line that names it */
};

/* routemap_load() flags. */
#define ROUTEMAP_LOWER	0x01	/* username_case = lower: keys lower-cased */

/*
 * Loads path.  Keys are canonicalised like user names (ROUTEMAP_LOWER,
 * and "@default_domain" appended to a key without "@" when
 * default_domain is not NULL or "").  Every mistake (syntax, a key
 * given twice, a bad target name) is reported as "FILE:LINE: what is
 * wrong" in err, and then NULL is returned.
 */
struct routemap	*routemap_load(const char *path, int flags,
		    const char *default_domain, char *err, size_t errlen);
void		 routemap_free(struct routemap **mapp);
/* Entries (lines with a key) and distinct targets. */
size_t		 routemap_nentries(const struct routemap *map);
size_t		 routemap_ntargets(const struct routemap *map);
const struct routemap_target *routemap_target(const struct routemap *map,
		    size_t i);
/*
 * The target index for a canonical user: the exact name, else its
 * "@domain", else "*"; -1 when none applies.
 */
long		 routemap_lookup(const struct routemap *map, const char *user);

#endif
