/*
 * The compiled form of a run of address rules: disjoint, sorted address
 * ranges, each mapped to the first rule (lowest index) whose ip or net
 * covers it, so a lookup costs O(log n) whatever the number of rules
 * while first-match order stays exact.  Part of libacl.
 */
#ifndef ACL_NETIDX_H
#define ACL_NETIDX_H

#include <stddef.h>
#include <stdint.h>

struct acl_netidx;

struct acl_net_entry {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* network order, host bits zero */
	int		 prefix;	/* 0-32 or 0-128; full length = ip */
	uint32_t	 rule;		/* rule index; lower wins */
};

/*
 * Builds the index of n entries (copied; the caller keeps entries).
 * Returns NULL when out of memory, or with errno EINVAL when an entry
 * has another family or a prefix out of range.  n may be 0.  Host bits
 * set in addr are ignored.
 */
struct acl_netidx *acl_netidx_build(const struct acl_net_entry *entries,
		    size_t n);
/* Frees *idxp, which may be NULL, and sets it to NULL. */
void		 acl_netidx_free(struct acl_netidx **idxp);
/*
 * The lowest rule index whose entry covers addr, or -1.  IPv4 entries
 * match only IPv4 lookups and IPv6 only IPv6.
 */
int64_t		 acl_netidx_lookup(const struct acl_netidx *idx, int family,
		    const unsigned char *addr);
/* Bytes the index holds, for the benchmark. */
size_t		 acl_netidx_memory(const struct acl_netidx *idx);

#endif
