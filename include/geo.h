/*
 * Country and ASN of an address from the geoip_db files (libmaxminddb):
 * country from the first database with country data, ASN from the first
 * with autonomous_system_number, as MaxMind and DB-IP ship them
 * (Country, City, ASN).  Opened once, read-only, shared by every worker.
 */
#ifndef GEO_H
#define GEO_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct conf;
struct geo;

/*
 * Opens every geoip_db of conf.  Returns NULL with
 * "FILE:LINE: [global] geoip_db: PATH: reason" lines on failure; a conf
 * without geoip_db gets an empty struct geo (no data).
 */
struct geo	*geo_open(const struct conf *conf, char *err, size_t errlen);
void		 geo_free(struct geo **geop);
int		 geo_has_country(const struct geo *geo);
int		 geo_has_asn(const struct geo *geo);
/*
 * Looks sa up: country (upper-case ISO code, "" when unknown) into
 * country[3] and the ASN (0 when unknown) into *asn_r.  Returns 0, or
 * -1 when a database could not be read (the fields are then unknown).
 */
int		 geo_lookup(const struct geo *geo, const struct sockaddr *sa,
		    char country[3], uint32_t *asn_r);

#endif
