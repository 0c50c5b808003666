/* qid.h - MTA queue IDs: their syntax, and the one in an SMTP reply */
#ifndef OE_QID_H
#define OE_QID_H

#include <stddef.h>

#define QID_MAX		32	/* letters and digits, at most */

int	qid_valid(const char *);
const char *qid_queued_as(const char *, char *, size_t);

#endif
