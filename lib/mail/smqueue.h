/* smqueue.h - read Sendmail's queue control files and sendmail.cf */
#ifndef OE_SMQUEUE_H
#define OE_SMQUEUE_H

#include <stddef.h>

#include "util/buf.h"

#define SMQ_MAX_FILE	(16 * 1048576)	/* larger qf/cf files refused */

/* What openetrn needs from a qf/hf file. */
struct smq_qf {
	long long ctime;	/* T: when the message was queued */
	long long lasttry;	/* K: last delivery attempt, 0 none */
	long long ntries;	/* N: delivery attempts */
	int	quarantined;	/* a q line: the reason */
	char	**rcpt;		/* R lines: recipients still queued */
	size_t	nrcpt;
	/* The envelope, for etrnctl reconcile (smq_qf_envelope). */
	char	*sender;	/* S line, as written ("<a@b>") */
	char	*envid;		/* Z line: ENVID (xtext), NULL none */
	const char *ret;	/* F flags d and n: "FULL", "HDRS", "" */
	char	**notify;	/* per R line: NOTIFY as SMTP says it */
	char	**orcpt;	/* per R line: the Q line before it, "" */
	char	*pending_orcpt;	/* a Q line not yet followed by its R */
};

int	smq_qid_valid(const char *);
int	smq_qf_parse(const char *, size_t, struct smq_qf *, struct buf *,
	    const char **);
void	smq_qf_free(struct smq_qf *);
struct qb_envelope;
int	smq_qf_envelope(const struct smq_qf *, long long, struct qb_envelope *);
int	smq_cf_parse(const char *, size_t, struct buf *, long long *,
	    const char **);
long long smq_time(const char *, int);

#endif
