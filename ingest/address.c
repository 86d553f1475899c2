#include "ingest/address.h"
#include "lsm/status.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

int ingest_parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *out_len)
{
	char host[256];
	const char *h = text, *colon, *port;
	struct addrinfo hints = { 0 }, *res = NULL;
	unsigned long port_number;
	size_t host_len;
	char *end;
	int rc;

	if (!text)
		return strata_error(STRATA_EINVAL, "no listen address given");
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return strata_error(STRATA_EINVAL, "bad listen address '%s' (expected [v6-address]:port)", text);
		h = text + 1;
		host_len = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return strata_error(STRATA_EINVAL, "bad listen address '%s' (expected host:port)", text);
		host_len = (size_t)(colon - text);
	}
	if (host_len >= sizeof host)
		return strata_error(STRATA_EINVAL, "bad listen address '%s' (host too long)", text);
	memcpy(host, h, host_len);
	host[host_len] = '\0';
	port = colon + 1;
	errno = 0;
	port_number = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno || port_number > 65535)
		return strata_error(STRATA_EINVAL, "bad listen address '%s' (port must be 0..65535)", text);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host_len ? host : "0.0.0.0", port, &hints, &res);
	if (rc != 0)
		return strata_error(STRATA_EINVAL, "bad listen address '%s': %s", text, gai_strerror(rc));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
