/*
 * address.h — "host:port" and "[v6]:port" listen addresses, as every
 * listener (HTTP, TCP, UDP) takes them. Hosts are numeric (no name lookup);
 * an empty host means every IPv4 address; port 0 asks the kernel for one.
 */
#ifndef STRATA_INGEST_ADDRESS_H
#define STRATA_INGEST_ADDRESS_H

#include <sys/socket.h>

/* Parses text into out. STRATA_EINVAL with a message naming the address. */
int ingest_parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *out_len);

#endif
