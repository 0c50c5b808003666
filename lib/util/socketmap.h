/* socketmap.h - the netstrings of Postfix's socketmap protocol */
#ifndef OE_SOCKETMAP_H
#define OE_SOCKETMAP_H

#include <stddef.h>

#include "util/buf.h"

#define SOCKETMAP_MAX	1024	/* request payload: "name key" */
#define SOCKETMAP_NAME_MAX	64

/* What socketmap_parse() found at the start of the input. */
enum socketmap_parse {
	SOCKETMAP_MORE,		/* incomplete: read on */
	SOCKETMAP_OK,		/* one request */
	SOCKETMAP_BAD,		/* not a netstring, or too long: close */
};

/* One request: "name key", both without NUL, name without blanks. */
struct socketmap_req {
	char	name[SOCKETMAP_NAME_MAX];
	char	key[SOCKETMAP_MAX];
	size_t	used;		/* octets of input it took */
};

enum socketmap_parse socketmap_parse(const char *, size_t,
	    struct socketmap_req *);
void	socketmap_reply(struct buf *, const char *, const char *);

#endif
