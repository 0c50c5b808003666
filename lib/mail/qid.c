/*
 * NAME
 *	qid - MTA queue IDs: their syntax, and the one in an SMTP reply
 * SUMMARY
 *	if (qid_valid(id)) ...
 *	qid_queued_as(reply_text, id, sizeof(id));
 * DESCRIPTION
 *	qid_valid() accepts Postfix short and long queue IDs and Sendmail
 *	IDs: 5 to 32 letters and digits.  Nothing else (ALL, "-", options,
 *	paths) can reach postsuper or sendmail.
 *
 *	qid_queued_as() takes the queue ID from the text of the reply to a
 *	message's end of data: Postfix's "250 2.0.0 Ok: queued as ID",
 *	Sendmail's "250 2.0.0 ID Message accepted for delivery".  The ID
 *	found is not checked: callers pass it to qid_valid() before it
 *	reaches a key or a command.
 * DIAGNOSTICS
 *	qid_valid: 1 or 0.  qid_queued_as: id, or NULL when the reply names
 *	no queue ID or it does not fit in size octets.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "mail/qid.h"

/* qid_valid - queue ID syntax */
int
qid_valid(const char *qid)
{
	size_t	n;

	for (n = 0; qid[n]; n++)
		if (!isalnum((unsigned char)qid[n]) || n >= QID_MAX)
			return 0;
	return n >= 5;
}

/* qid_queued_as - the queue ID a reply names (see DESCRIPTION), or NULL */
const char *
qid_queued_as(const char *reply, char *id, size_t size)
{
	static const char sm_text[] = " Message accepted for delivery";
	const char *p, *e;
	size_t	n;

	if (reply == NULL)
		return NULL;
	if ((p = strstr(reply, "queued as ")) != NULL) {
		p += strlen("queued as ");
		for (n = 0; p[n] && p[n] != ' ' && p[n] != ';' && p[n] != '/';
		    n++)
			;
	} else if (strncmp(reply, "250 2.0.0 ", 10) == 0 &&
	    (e = strstr(reply + 10, sm_text)) != NULL) {
		p = reply + 10;
		n = (size_t)(e - p);
		if (memchr(p, ' ', n) != NULL)
			return NULL;
	} else
		return NULL;
	if (n == 0 || n >= size)
		return NULL;
	memcpy(id, p, n);
	id[n] = '\0';
	return id;
}
