/* holdtag.h - the hold tag header and hold tokens */
#ifndef OE_HOLDTAG_H
#define OE_HOLDTAG_H

#include <time.h>

#include "util/buf.h"

#define HOLDTAG_HEADER	"X-ETRN-Hold"
#define HOLD_TOKEN_LEN	32	/* hex digits, 128 random bits */
#define HOLDTAG_MAC_LEN	64	/* hex digits, HMAC-SHA256 */
#define HOLDTAG_KEY_MIN	32	/* octets of hold_secret_file, at least */
#define HOLDTAG_KEY_MAX	4096

struct holdtag {
	char	domain[256];
	char	host[256];
	char	token[HOLD_TOKEN_LEN + 1];
	long long arrived;
	long long expires;
	long long size;		/* octets the milter counted; -1: none */
	char	mac[HOLDTAG_MAC_LEN + 1];	/* "" : unsigned */
};

/* holdtag_parse() results: only HOLDTAG_OK may be trusted. */
enum {
	HOLDTAG_OK = 0,		/* well formed, its MAC verifies */
	HOLDTAG_BAD = -1,	/* not a tag */
	HOLDTAG_UNSIGNED = -2,	/* well formed, no mac= (older version) */
	HOLDTAG_FORGED = -3,	/* a mac= that does not verify */
};

int	holdtag_token_new(char *, size_t);
int	holdtag_key_load(const char *, struct buf *);
void	holdtag_key_set(const void *, size_t);
int	holdtag_key_loaded(void);
void	holdtag_format(struct buf *, const struct holdtag *);
int	holdtag_parse(const char *, struct holdtag *);
const char *holdtag_status_name(int);
void	holdtag_derive(const char *, const char *, char *, size_t);

#endif
