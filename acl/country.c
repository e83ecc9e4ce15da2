/*
 * ISO 3166-1 alpha-2: the codes a country selector may name.  A code
 * outside this list can never match, so it is refused as the typing
 * mistake it is (UK for GB above all).
 */
#include <stdlib.h>
#include <string.h>

#include "acl_int.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The officially assigned codes (ISO 3166 Maintenance Agency, as
 * Debian's iso-codes 4.15 lists them: 249), sorted for bsearch(), plus
 * XK: user-assigned for Kosovo, but MaxMind and DB-IP databases return
 * it, so a rule naming it can match.
 */
static const char acl_countries[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR",
	"AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE",
	"BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
	"BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD",
	"CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR",
	"CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
	"DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI",
	"FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
	"GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS",
	"GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU",
	"ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
	"JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
	"KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK",
	"LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME",
	"MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ",
	"MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
	"NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU",
	"NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
	"PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
	"RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI",
	"SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV",
	"SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK",
	"TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA",
	"UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
	"VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
};

/* Codes people write that ISO does not assign, and what they meant. */
static const struct {
	const char	*bad;
	const char	*good;
} acl_country_mistakes[] = {
	{ "UK", "GB" },		/* reserved at the UK's request */
	{ "EL", "GR" },		/* the EU's code for Greece */
};

static int
acl_country_cmp(const void *key, const void *elem)
{
	return (strncmp(key, elem, 2));
}

/* Whether cc (two upper-case letters) is a code a rule may name. */
int
acl_country_valid(const char *cc)
{
	return (bsearch(cc, acl_countries, nitems(acl_countries),
	    sizeof(acl_countries[0]), acl_country_cmp) != NULL);
}

/* The code meant by a known mistake cc (upper case), or NULL. */
const char *
acl_country_hint(const char *cc)
{
	size_t	i;

	for (i = 0; i < nitems(acl_country_mistakes); i++)
		if (strncmp(cc, acl_country_mistakes[i].bad, 2) == 0)
			return (acl_country_mistakes[i].good);
	return (NULL);
}
