/* domwatch.h - the dial-up domain list of a daemon, refreshed from Redis */
#ifndef OE_DOMWATCH_H
#define OE_DOMWATCH_H

#include "mail/domain.h"
#include "mail/settings.h"

struct event;
struct event_base;
struct ra;

struct domwatch {
	struct domlist domains;	/* the list in use */
	int	loaded;		/* a list has arrived */
	int	failing;	/* the last refresh failed (logged once) */
	int	stopping;	/* domwatch_stop(): replies are ignored */
	struct ra *redis;
	struct oe_settings **s;	/* the daemon's settings, as reloaded */
	struct event *ev;
};

void	domwatch_start(struct domwatch *, struct event_base *, struct ra *,
	    struct oe_settings **);
void	domwatch_refresh(struct domwatch *);
void	domwatch_stop(struct domwatch *);
void	domwatch_free(struct domwatch *);

#endif
