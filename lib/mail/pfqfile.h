/* pfqfile.h - read the header section of a Postfix queue file directly */
#ifndef OE_PFQFILE_H
#define OE_PFQFILE_H

#include <sys/types.h>

#include <stddef.h>

#include "util/buf.h"

#define PFQF_OK		0	/* headers in the output buffer */
#define PFQF_DOUBT	1	/* anything unexpected: use postcat */
#define PFQF_GONE	2	/* no such queue file (reader only) */

#define PFQF_MAX_HOPS	1024		/* pointer records followed */
#define PFQF_MAX_OUT	(1024 * 1024)	/* header section octets */
#define PFQF_MAX_FILE	((off_t)1 << 31) /* queue file size */
#define PFQF_MAX_REQ	256		/* reader request octets */

/* Read len octets at off into p; returns the count, -1 on error. */
typedef ssize_t (*pfqf_read_fn)(void *, void *, size_t, off_t);

int	pfqf_parse(pfqf_read_fn, void *, off_t, struct buf *, const char **);
int	pfqf_parse_mem(const void *, size_t, struct buf *, const char **);
int	pfqf_queue_path(struct buf *, const char *, const char *,
	    const char *, int);
const char *pfqf_status_name(int);

struct pfqf_reader;
struct pfqf_reader *pfqf_reader_start(const char *, const char *,
	    const char *, int);
int	pfqf_reader_headers(struct pfqf_reader *, const char *, const char *,
	    struct buf *);
void	pfqf_reader_stop(struct pfqf_reader *);

#endif
