/* hold.h - end-of-message actions (needs libmilter types) */
#ifndef OE_HOLD_H
#define OE_HOLD_H

#include <libmilter/mfapi.h>

#include "mail/replies.h"
#include "milter/milter.h"

sfsistat hold_eom(SMFICTX *, struct conn *);
sfsistat hold_reply(SMFICTX *, enum reply_id);

#endif
