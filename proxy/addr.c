/*
 * Socket address helpers.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "addr.h"

int
addr_ip_port(const struct sockaddr *sa, char *ip, size_t iplen,
    unsigned int *port_r)
{
	const struct sockaddr_in	*in;
	const struct sockaddr_in6	*in6;

	if (sa->sa_family == AF_INET) {
		in = (const void *)sa;
		*port_r = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, ip,
		    (socklen_t)iplen) == NULL ? -1 : 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	in6 = (const void *)sa;
	*port_r = ntohs(in6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip,
		    (socklen_t)iplen) == NULL ? -1 : 0;
	return inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen) ==
	    NULL ? -1 : 0;
}

int
addr_parse_ip(const char *ip, struct sockaddr_storage *sa)
{
	struct sockaddr_in	*in = (struct sockaddr_in *)sa;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}
