/*
 * ctl.h - etrnctl's internal interfaces
 *
 * Each file's names carry its prefix: ctlq_ (ctl_queue.c), ctld_
 * (ctl_domains.c), ctlr_ (ctl_reconcile.c); a command's handler is the
 * prefix and the command's name (ctlq_status).  ctl_ is for what all of
 * etrnctl shares (main.c, ctl_util.c, and ctl_queue.c's queue IDs and
 * queue backend).
 */
#ifndef OE_CTL_H
#define OE_CTL_H

#include <stddef.h>

#include "mail/qbackend.h"
#include "mail/settings.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/rargs.h"
#include "util/redis_sync.h"
#include "util/strv.h"
#include "util/table.h"
#include "util/timefmt.h"

/* Exit statuses. */
#define CTL_OK		0
#define CTL_ERR		1
#define CTL_USAGE	2

#define CTL_MTA_TIMEOUT	120	/* s, per MTA command */

/* One run of etrnctl. */
struct ctl {
	struct oe_settings s;
	struct rpool *redis;
	int	json;		/* --json */
	long long now;		/* time of the run */
	struct buf out;		/* stdout, written at the end */
};

/*
 * main.c: Redis with error reporting (the message names the server).
 * Arguments are built with rargs (util/rargs.h); ctl_redis takes them
 * as NULL-terminated C strings.
 */
int	ctl_command(struct ctl *, const struct rargs *, struct rr_reply *);
int	ctl_redis(struct ctl *, struct rr_reply *, const char *, ...)
	    __attribute__((sentinel));
int	ctl_hr(struct ctl *, int, struct rr_reply *);
int	ctl_script(struct ctl *, struct rscript *, int, const struct rargs *,
	    struct rr_reply *);
long long ctl_ll(const char *);

/* ctl_queue.c */
int	ctlq_status(struct ctl *, int, char **);
int	ctlq_list(struct ctl *, int, char **);
int	ctlq_flush(struct ctl *, int, char **);
int	ctlq_release(struct ctl *, int, char **);
int	ctlq_expire(struct ctl *, int, char **);

/* ctl_reconcile.c */
int	ctlr_reconcile(struct ctl *, int, char **);
int	ctlr_reconcile_args(int, char **);

/* ctl_domains.c */
int	ctld_domains(struct ctl *, int, char **);
int	ctld_domains_args(int, char **);

/* ctl_util.c: pure helpers (unit-tested in tests/unit/test_etrnctl.c) */
int	ctl_domain_arg(const char *, int, struct buf *, struct buf *);
int	ctl_member_split(const char *, char *, size_t, char *, size_t);
int	ctl_setting_check(const char *, const char *, struct buf *);
const char *ctl_setting_names(void);

/* ctl_queue.c: queue IDs of this host, and the queue backend. */
int	ctl_ids(struct ctl *, const char *, int, char **, struct strv *);

struct ctl_qb {
	const struct qb_backend *qb;
	struct qb_conf qc;
};

int	ctl_qb_open(struct ctl *, struct ctl_qb *, const char *);
void	ctl_qb_close(struct ctl_qb *);
void	ctl_qb_hint(struct ctl *, const char *);

#endif
