/* holdtag.h - the hold tag header, hold tokens and queue ID checks */
#ifndef OE_HOLDTAG_H
#define OE_HOLDTAG_H

#include <time.h>

#include "util/buf.h"

#define HOLDTAG_HEADER	"X-ETRN-Hold"
#define HOLD_TOKEN_LEN	32	/* hex digits, 128 random bits */

struct holdtag {
	char	domain[256];
	char	host[256];
	char	token[HOLD_TOKEN_LEN + 1];
	long long arrived;
	long long expires;
};

int	qid_valid(const char *);
int	hold_token_new(char *, size_t);
void	holdtag_format(struct buf *, const struct holdtag *);
int	holdtag_parse(const char *, struct holdtag *);

#endif
