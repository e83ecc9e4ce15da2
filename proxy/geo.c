/*
 * GeoIP: the country and ASN of a client address from the geoip_db files,
 * read with libmaxminddb.
 *
 * Each file is mapped once at startup (MMDB_MODE_MMAP) and only read
 * afterwards: an MMDB_s is safe to share between the worker threads for
 * lookups, so struct geo needs no lock.
 *
 * What a file holds is decided when it is opened.  The metadata's
 * database_type says what it should hold, but names vary across vendors
 * and products, and a file of an unknown layout would otherwise make every
 * `country` rule silently fail to match.  So the first data records of
 * the search tree are read: a file whose records carry country.iso_code
 * (or registered_country.iso_code) has country data, one whose records
 * carry autonomous_system_number (top level as in the ASN and ISP
 * databases, or under traits as in Enterprise) has ASN data.  Only a file
 * without any record falls back to its database_type.  A file with
 * neither is refused: the operator listed it for a reason.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "conf.h"
#include "errbuf.h"
#include "geo.h"

#define GEO_COUNTRY	0x01
#define GEO_ASN		0x02

/*
 * Limits of the walk that finds out what a file holds.  Real databases
 * answer within the first few records; the node bound only guards
 * against a corrupt tree that loops.  The stack holds one pending branch
 * per level: 128 levels for IPv6, plus the root.
 */
#define GEO_PROBE_RECORDS	64
#define GEO_PROBE_NODES		65536
#define GEO_PROBE_STACK		(128 + 1)
/* Enough of a database_type to recognise it in a message. */
#define GEO_TYPE_SHOWN		64

struct geo_db {
	MMDB_s		 mmdb;
	int		 open;		/* MMDB_open succeeded */
	int		 flags;		/* GEO_COUNTRY, GEO_ASN */
};

struct geo {
	struct geo_db	*dbs;		/* in geoip_db order */
	size_t		 ndbs;
	int		 flags;		/* union of the files' */
};

static int	 geo_db_open(struct geo_db *, const char *, char *, size_t);
static int	 geo_probe(const MMDB_s *, int *, size_t *);
static int	 geo_type_flags(const char *);
static int	 geo_get_country(MMDB_entry_s *, char[3]);
static int	 geo_get_asn(MMDB_entry_s *, uint32_t *);

/*
 * What a database_type promises, for a file without records: MaxMind's
 * GeoIP2/GeoLite2 Country, City, Enterprise, ASN and ISP, DB-IP's
 * DBIP-Country(-Lite), DBIP-City-Lite, DBIP-Location(-ISP),
 * DBIP-ASN-Lite and DBIP-ISP.  Case-insensitive substrings, so that the
 * regional and "compat=" variants count too.
 */
static int
geo_type_flags(const char *type)
{
	static const struct {
		const char	*word;
		int		 flags;
	} words[] = {
		{ "country", GEO_COUNTRY },
		{ "city", GEO_COUNTRY },
		{ "location", GEO_COUNTRY },
		{ "enterprise", GEO_COUNTRY | GEO_ASN },
		{ "asn", GEO_ASN },
		{ "isp", GEO_ASN }
	};
	size_t	 i;
	int	 flags = 0;

	if (type == NULL)
		return 0;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(type, words[i].word) != NULL)
			flags |= words[i].flags;
	return flags;
}

/*
 * Reads the country of a record: country.iso_code, else
 * registered_country.iso_code (MaxMind leaves country out for some
 * networks, satellite and anycast ones).  Returns 1 with the upper-case
 * code in cc, 0 when the record has none (or a layout that is not
 * MaxMind's), -1 when the data cannot be decoded.
 */
static int
geo_get_country(MMDB_entry_s *entry, char cc[3])
{
	/* MMDB_aget_value(), unlike MMDB_get_value(), does not malloc. */
	static const char	*const paths[][3] = {
		{ "country", "iso_code", NULL },
		{ "registered_country", "iso_code", NULL }
	};
	MMDB_entry_data_s	 d;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		rc = MMDB_aget_value(entry, &d, paths[i]);
		if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
		    rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
			continue;
		if (rc != MMDB_SUCCESS)
			return -1;
		if (!d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
		    d.data_size != 2 ||
		    !isalpha((unsigned char)d.utf8_string[0]) ||
		    !isalpha((unsigned char)d.utf8_string[1]))
			continue;
		cc[0] = (char)toupper((unsigned char)d.utf8_string[0]);
		cc[1] = (char)toupper((unsigned char)d.utf8_string[1]);
		cc[2] = '\0';
		return 1;
	}
	return 0;
}

/*
 * Reads the ASN of a record: autonomous_system_number at the top (ASN
 * and ISP databases), else traits.autonomous_system_number (Enterprise).
 * Returns 1 with it in *asn_r, 0 when the record has none, -1 when the
 * data cannot be decoded.
 */
static int
geo_get_asn(MMDB_entry_s *entry, uint32_t *asn_r)
{
	static const char	*const paths[][3] = {
		{ "autonomous_system_number", NULL, NULL },
		{ "traits", "autonomous_system_number", NULL }
	};
	MMDB_entry_data_s	 d;
	uint64_t		 v;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		rc = MMDB_aget_value(entry, &d, paths[i]);
		if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
		    rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
			continue;
		if (rc != MMDB_SUCCESS)
			return -1;
		if (!d.has_data)
			continue;
		switch (d.type) {
		case MMDB_DATA_TYPE_UINT16:
			v = d.uint16;
			break;
		case MMDB_DATA_TYPE_UINT32:
			v = d.uint32;
			break;
		case MMDB_DATA_TYPE_UINT64:
			v = d.uint64;
			break;
		case MMDB_DATA_TYPE_INT32:
			v = d.int32 < 0 ? 0 : (uint64_t)d.int32;
			break;
		default:
			v = 0;
			break;
		}
		if (v == 0 || v > UINT32_MAX)
			continue;
		*asn_r = (uint32_t)v;
		return 1;
	}
	return 0;
}

/*
 * Walks the search tree depth first, lowest addresses first, and looks
 * at the first GEO_PROBE_RECORDS data records.  Returns 0 with the
 * fields seen in *flags_r and the records read in *nrecords_r, or -1
 * with an MMDB error code in *flags_r when the tree or the data is
 * corrupt.
 */
static int
geo_probe(const MMDB_s *mmdb, int *flags_r, size_t *nrecords_r)
{
	uint32_t		 stack[GEO_PROBE_STACK];
	MMDB_search_node_s	 node;
	MMDB_entry_s		*entry;
	uint64_t		 rec;
	size_t			 sp = 0, visits = 0, nrec = 0;
	uint32_t		 asn;
	char			 cc[3];
	int			 flags = 0, rc, side, type;

	stack[sp++] = 0;
	while (sp > 0 && visits < GEO_PROBE_NODES &&
	    nrec < GEO_PROBE_RECORDS && flags != (GEO_COUNTRY | GEO_ASN)) {
		visits++;
		if ((rc = MMDB_read_node(mmdb, stack[--sp], &node)) !=
		    MMDB_SUCCESS)
			goto corrupt;
		/* Right first onto the stack, so that left is walked first. */
		for (side = 1; side >= 0; side--) {
			type = side ? node.right_record_type :
			    node.left_record_type;
			rec = side ? node.right_record : node.left_record;
			entry = side ? &node.right_record_entry :
			    &node.left_record_entry;
			if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
				if (sp < GEO_PROBE_STACK)
					stack[sp++] = (uint32_t)rec;
				continue;
			}
			if (type == MMDB_RECORD_TYPE_INVALID) {
				rc = MMDB_CORRUPT_SEARCH_TREE_ERROR;
				goto corrupt;
			}
			if (type != MMDB_RECORD_TYPE_DATA)
				continue;
			nrec++;
			if ((rc = geo_get_country(entry, cc)) == -1)
				goto bad_data;
			if (rc == 1)
				flags |= GEO_COUNTRY;
			if ((rc = geo_get_asn(entry, &asn)) == -1)
				goto bad_data;
			if (rc == 1)
				flags |= GEO_ASN;
		}
	}
	*flags_r = flags;
	*nrecords_r = nrec;
	return 0;

bad_data:
	rc = MMDB_INVALID_DATA_ERROR;
corrupt:
	*flags_r = rc;
	return -1;
}

/*
 * Opens one file into db.  Returns 0, or -1 with the reason in buf.
 */
static int
geo_db_open(struct geo_db *db, const char *path, char *buf, size_t buflen)
{
	struct stat	 sb;
	const char	*type;
	char		 shown[GEO_TYPE_SHOWN + 1];
	size_t		 i, nrec;
	int		 rc, seen;

	/*
	 * MMDB_open would map a directory or an empty file and say
	 * "IO error"; say what is wrong instead.
	 */
	if (stat(path, &sb) == -1) {
		(void)snprintf(buf, buflen, "%s", strerror(errno));
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		(void)snprintf(buf, buflen, "%s", strerror(EISDIR));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		(void)snprintf(buf, buflen, "not a regular file");
		return -1;
	}
	if (sb.st_size == 0) {
		(void)snprintf(buf, buflen, "empty file, expected a MaxMind "
		    "DB (.mmdb)");
		return -1;
	}
	errno = 0;
	if ((rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb)) !=
	    MMDB_SUCCESS) {
		if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) &&
		    errno != 0)
			(void)snprintf(buf, buflen, "%s", strerror(errno));
		else
			(void)snprintf(buf, buflen, "%s", MMDB_strerror(rc));
		return -1;
	}
	db->open = 1;
	if (geo_probe(&db->mmdb, &seen, &nrec) == -1) {
		(void)snprintf(buf, buflen, "%s", MMDB_strerror(seen));
		return -1;
	}
	type = db->mmdb.metadata.database_type;
	db->flags = nrec > 0 ? seen : geo_type_flags(type);
	if (db->flags != 0)
		return 0;
	/* The type comes from the file: show it printable and short. */
	for (i = 0; type != NULL && type[i] != '\0' && i < GEO_TYPE_SHOWN;
	    i++)
		shown[i] = isprint((unsigned char)type[i]) ? type[i] : '?';
	shown[i] = '\0';
	(void)snprintf(buf, buflen, "neither country nor ASN data "
	    "(database_type \"%s%s\"), expected a Country, City or ASN "
	    "database as MaxMind and DB-IP ship them", shown,
	    type != NULL && type[i] != '\0' ? "..." : "");
	return -1;
}

struct geo *
geo_open(const struct conf *conf, char *err, size_t errlen)
{
	struct geo	*geo;
	const char	*cpath;
	char		 reason[256];
	size_t		 i;
	int		 failed = 0, line;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	cpath = conf != NULL && conf->path != NULL ? conf->path :
	    "imapproxy.conf";
	line = conf != NULL ? conf->line_geoip_db : 0;
	if ((geo = calloc(1, sizeof(*geo))) == NULL)
		goto oom;
	if (conf == NULL || conf->ngeoip_db == 0)
		return geo;
	if ((geo->dbs = calloc(conf->ngeoip_db, sizeof(*geo->dbs))) == NULL)
		goto oom;
	geo->ndbs = conf->ngeoip_db;
	for (i = 0; i < geo->ndbs; i++) {
		if (geo_db_open(&geo->dbs[i], conf->geoip_db[i], reason,
		    sizeof(reason)) == -1) {
			errbuf_appendf(err, errlen, "%s:%d: [global] geoip_db: "
			    "%s: %s", cpath, line, conf->geoip_db[i], reason);
			failed = 1;
			continue;
		}
		geo->flags |= geo->dbs[i].flags;
	}
	if (failed) {
		geo_free(&geo);
		return NULL;
	}
	return geo;

oom:
	errbuf_appendf(err, errlen, "%s:%d: [global] geoip_db: out of memory",
	    cpath, line);
	geo_free(&geo);
	return NULL;
}

void
geo_free(struct geo **geop)
{
	struct geo	*geo;
	size_t		 i;

	if (geop == NULL || (geo = *geop) == NULL)
		return;
	for (i = 0; i < geo->ndbs; i++)
		if (geo->dbs[i].open)
			MMDB_close(&geo->dbs[i].mmdb);
	free(geo->dbs);
	free(geo);
	*geop = NULL;
}

int
geo_has_country(const struct geo *geo)
{
	return geo != NULL && (geo->flags & GEO_COUNTRY) != 0;
}

int
geo_has_asn(const struct geo *geo)
{
	return geo != NULL && (geo->flags & GEO_ASN) != 0;
}

/*
 * Each field comes from the first file, in geoip_db order, whose record
 * for the address has it: a City file listed before a Country file
 * answers first, and the Country file fills in the networks the City
 * file lacks.
 */
int
geo_lookup(const struct geo *geo, const struct sockaddr *sa,
    char country[3], uint32_t *asn_r)
{
	const struct sockaddr_in6	*sin6;
	const struct sockaddr		*q = sa;
	struct sockaddr_in		 sin;
	const struct geo_db		*db;
	MMDB_lookup_result_s		 res;
	size_t				 i;
	int				 want, mmerr, rc;

	country[0] = '\0';
	*asn_r = 0;
	if (geo == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET6) {
		/* ::ffff:a.b.c.d is a.b.c.d, also in an IPv4-only file. */
		sin6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
			q = (const struct sockaddr *)&sin;
		}
	} else if (sa->sa_family != AF_INET)
		return 0;
	want = geo->flags;
	for (i = 0; i < geo->ndbs && want != 0; i++) {
		db = &geo->dbs[i];
		if ((db->flags & want) == 0)
			continue;
		res = MMDB_lookup_sockaddr(&db->mmdb, q, &mmerr);
		if (mmerr == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
			continue;
		if (mmerr != MMDB_SUCCESS)
			goto fail;
		if (!res.found_entry)
			continue;
		if ((want & db->flags & GEO_COUNTRY) != 0) {
			if ((rc = geo_get_country(&res.entry, country)) == -1)
				goto fail;
			if (rc == 1)
				want &= ~GEO_COUNTRY;
		}
		if ((want & db->flags & GEO_ASN) != 0) {
			if ((rc = geo_get_asn(&res.entry, asn_r)) == -1)
				goto fail;
			if (rc == 1)
				want &= ~GEO_ASN;
		}
	}
	return 0;

fail:
	country[0] = '\0';
	*asn_r = 0;
	return -1;
}
