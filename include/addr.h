/*
 * Socket address helpers shared by the session, the back-end link, the
 * stats socket and imapproxyctl.
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include <stddef.h>

/*
 * Writes sa's address as text into ip (an IPv4-mapped IPv6 address as
 * plain IPv4) and its port into *port_r.  Returns 0, or -1 for a family
 * other than AF_INET and AF_INET6.
 */
int	addr_ip_port(const struct sockaddr *sa, char *ip, size_t iplen,
	    unsigned int *port_r);
/* Parses an IPv4 or IPv6 address (no port) into sa; 0, or -1. */
int	addr_parse_ip(const char *ip, struct sockaddr_storage *sa);

#endif
