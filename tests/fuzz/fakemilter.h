/* fakemilter.h - a recording libmilter for fuzz_milter (not the real one) */
#ifndef OE_FAKEMILTER_H
#define OE_FAKEMILTER_H

#include <libmilter/mfapi.h>

#define FAKE_MAX_RCPT	64

/* The connection libmilter would hand the callbacks. */
struct smfi_str {
	void	*priv;
	const char *daemon;	/* {daemon_name}, NULL: unset */
	const char *qid;	/* {i}, NULL: unset */
	int	in_msg;		/* MAIL accepted: RCPT may follow */
	int	in_eom;		/* the modification calls are allowed */
	int	refuse;		/* the MTA refuses modifications */
	int	nhold;		/* X-ETRN-Hold headers seen in the message */
	int	nreply;		/* smfi_setreply calls in this callback */
	char	rcode[4];	/* the last reply's code */
	int	quarantined;
	int	tagged;		/* an X-ETRN-Hold was added */
	char	*rcpt[FAKE_MAX_RCPT];	/* accepted recipients, as given */
	int	dialup[FAKE_MAX_RCPT];
	int	deleted[FAKE_MAX_RCPT];
	int	nrcpt;
};

void	fake_msg_reset(SMFICTX *);

#endif
