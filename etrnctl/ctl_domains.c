/*
 * NAME
 *	ctl_domains - etrnctl domains: the dial-up domains and their settings
 * SYNOPSIS
 *	etrnctl domains show [DOMAIN]
 *	etrnctl domains add DOMAIN [KEY=VALUE ...]
 *	etrnctl domains set DOMAIN KEY=VALUE ...
 *	etrnctl domains del [--force] DOMAIN
 * DESCRIPTION
 *	An entry is a member of etrn:domains ("example.net", or ".example.net"
 *	for every subdomain); its settings are the hash etrn:domain:<entry>:
 *	hold_time, warn_time, allow, max_messages, max_bytes and sasl_users
 *	(etrn-policy).  Values are
 *	checked before they are written (ctl_setting_check: the syntax and
 *	bounds of the settings they override, from the one table of
 *	settings.c) and stored as given; an empty value removes the key, so
 *	the default applies.
 *
 *	Each change is one Lua script, so the set and the hash change
 *	together and nothing can slip in between the check and the write:
 *	add refuses an entry that exists (use set) and starts from an empty
 *	hash (a hash left over from a removed entry is dropped); set refuses
 *	an entry that does not exist (use add); del refuses while mail is
 *	held under the entry (for ".example.net": in any of its subdomains)
 *	unless --force, as ETRN for that mail would then be refused.
 * SECURITY
 *	The domain passes dom_normalize() (after an optional leading dot);
 *	keys are a fixed list; values are parsed like the daemons parse them.
 * DIAGNOSTICS
 *	Every bad argument is named; nothing is written when one is bad.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etrnctl/ctl.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/rargs.h"

/* KEYS: domains hash; ARGV: entry, then field/value pairs.  0: exists. */
static struct rscript ctld_add_script = {
	"if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end\n"
	"redis.call('DEL', KEYS[2])\n"
	"for i = 2, #ARGV - 1, 2 do\n"
	"  if ARGV[i + 1] ~= '' then\n"
	"    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])\n"
	"  end\n"
	"end\n"
	"redis.call('SADD', KEYS[1], ARGV[1])\n"
	"return 1\n",
	""
};

/* KEYS: domains hash; ARGV: entry, then field/value pairs.  0: absent. */
static struct rscript ctld_set_script = {
	"if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
	"for i = 2, #ARGV - 1, 2 do\n"
	"  if ARGV[i + 1] == '' then\n"
	"    redis.call('HDEL', KEYS[2], ARGV[i])\n"
	"  else\n"
	"    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])\n"
	"  end\n"
	"end\n"
	"return 1\n",
	""
};

/*
 * KEYS: domains hash helddomains held; ARGV: entry force held_prefix
 * Returns {0: absent, 1: deleted, 2: refused; held messages}.
 */
static struct rscript ctld_del_script = {
	"if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then\n"
	"  return {0, 0}\n"
	"end\n"
	"local n = 0\n"
	"if string.sub(ARGV[1], 1, 1) == '.' then\n"
	"  for _, d in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
	"    if #d > #ARGV[1] and string.sub(d, -#ARGV[1]) == ARGV[1] then\n"
	"      n = n + redis.call('ZCARD', ARGV[3] .. d)\n"
	"    end\n"
	"  end\n"
	"else\n"
	"  n = redis.call('ZCARD', KEYS[4])\n"
	"end\n"
	"if n > 0 and ARGV[2] ~= '1' then return {2, n} end\n"
	"redis.call('SREM', KEYS[1], ARGV[1])\n"
	"redis.call('DEL', KEYS[2])\n"
	"return {1, n}\n",
	""
};

static const char *const ctld_fields[] = { DF_HOLD_TIME,
	DF_WARN_TIME, DF_ALLOW, DF_MAX_MESSAGES, DF_MAX_BYTES, DF_SASL_USERS };

#define NFIELDS	(sizeof(ctld_fields) / sizeof(ctld_fields[0]))

/* ctld_entry - the entry argument, normalised; -1 reported */
static int
ctld_entry(const char *arg, struct buf *entry)
{
	struct buf err = BUF_INIT;
	int	rc;

	if ((rc = ctl_domain_arg(arg, 1, entry, &err)) < 0)
		log_err("%s", buf_terminate(&err));
	buf_free(&err);
	return rc;
}

/* ctld_kv - KEY=VALUE arguments into field/value pairs; -1 reported */
static int
ctld_kv(int argc, char **argv, struct strv *kv)
{
	struct buf err = BUF_INIT, key = BUF_INIT;
	const char *eq;
	size_t	j;
	int	i, bad = 0;

	for (i = 0; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL) {
			log_err("expected KEY=VALUE, got \"%.80s\"", argv[i]);
			bad = 1;
			continue;
		}
		buf_reset(&key);
		buf_add(&key, argv[i], (size_t)(eq - argv[i]));
		buf_reset(&err);
		if (ctl_setting_check(key.s, eq + 1, &err) < 0) {
			log_err("%s", buf_terminate(&err));
			bad = 1;
			continue;
		}
		for (j = 0; j < kv->n && strcmp(kv->v[j], key.s) != 0; j += 2)
			;
		if (j < kv->n) {
			log_err("%s given twice", key.s);
			bad = 1;
			continue;
		}
		strv_add(kv, key.s);
		strv_add(kv, eq + 1);
	}
	buf_free(&key);
	buf_free(&err);
	return bad ? -1 : 0;
}

/* ctld_result - report a change */
static void
ctld_result(struct ctl *c, const char *entry, const char *what, long long held)
{
	struct jw w;

	if (c->json) {
		jw_init(&w, &c->out);
		jw_open(&w, '{');
		jw_key(&w, "domain");
		jw_str(&w, entry);
		jw_key(&w, "result");
		jw_str(&w, what);
		if (held >= 0) {
			jw_key(&w, "held");
			jw_int(&w, held);
		}
		jw_close(&w, '}');
		return;
	}
	buf_printf(&c->out, "%s %s\n", what, entry);
	if (held > 0)
		buf_printf(&c->out, "%lld held message%s stay%s held until "
		    "flushed (etrnctl flush) or expired\n", held, held == 1 ?
		    "" : "s", held == 1 ? "s" : "");
}

/* ctld_change - add or set: validate, run the script */
static int
ctld_change(struct ctl *c, int add, int argc, char **argv)
{
	struct buf entry = BUF_INIT, k[2];
	struct strv kv = { NULL, 0, 0 };
	struct rr_reply r;
	struct rargs a = RARGS_INIT;
	size_t	i;
	int	rc = CTL_ERR, bad;

	buf_init(&k[0]);
	buf_init(&k[1]);
	bad = ctld_entry(argv[0], &entry) < 0;	/* report both, then stop */
	if (ctld_kv(argc - 1, argv + 1, &kv) < 0 || bad)
		goto out;
	rkey_domains(&k[0]);
	rkey_domain(&k[1], entry.s);
	rargs_buf(&a, &k[0]);
	rargs_buf(&a, &k[1]);
	rargs_buf(&a, &entry);
	for (i = 0; i < kv.n; i++)
		rargs_str(&a, kv.v[i]);
	if (ctl_script(c, add ? &ctld_add_script : &ctld_set_script, 2, &a,
	    &r) == 0) {
		if (r.type == RRT_INT && r.integer == 1) {
			ctld_result(c, entry.s, add ? "added" : "updated", -1);
			rc = CTL_OK;
		} else if (add)
			log_err("%s is already a dial-up domain (change it "
			    "with etrnctl domains set)", entry.s);
		else
			log_err("%s is not a dial-up domain (add it with "
			    "etrnctl domains add)", entry.s);
		rr_reply_free(&r);
	}
	rargs_free(&a);
out:
	strv_free(&kv);
	buf_free(&entry);
	buf_free(&k[0]);
	buf_free(&k[1]);
	return rc;
}

/* ctld_del_run - the delete script; its reply array is left in *r */
static int
ctld_del_run(struct ctl *c, const char *entry, int force, struct rr_reply *r)
{
	struct buf k[5];
	struct rargs a = RARGS_INIT;
	int	i, rc;

	for (i = 0; i < 5; i++)
		buf_init(&k[i]);
	rkey_domains(&k[0]);
	rkey_domain(&k[1], entry);
	rkey_helddomains(&k[2]);
	rkey_held(&k[3], entry);
	rkey_held(&k[4], "");
	for (i = 0; i < 4; i++)
		rargs_buf(&a, &k[i]);
	rargs_strs(&a, entry, force ? "1" : "0", NULL);
	rargs_buf(&a, &k[4]);
	rc = ctl_script(c, &ctld_del_script, 4, &a, r);
	rargs_free(&a);
	for (i = 0; i < 5; i++)
		buf_free(&k[i]);
	if (rc == 0 && (r->type != RRT_ARRAY || r->nelem != 2 ||
	    !r->elems[0] || !r->elems[1])) {
		log_err("domains del: unexpected reply from Redis");
		rr_reply_free(r);
		rc = -1;
	}
	return rc;
}

/* ctld_del - etrnctl domains del [--force] DOMAIN */
static int
ctld_del(struct ctl *c, int argc, char **argv)
{
	struct buf entry = BUF_INIT;
	struct rr_reply r;
	const char *arg = NULL;
	long long code, held;
	int	i, force = 0, rc = CTL_ERR;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else
			arg = argv[i];
	if (ctld_entry(arg, &entry) < 0 || ctld_del_run(c, entry.s, force,
	    &r) < 0) {
		buf_free(&entry);
		return CTL_ERR;
	}
	code = ctl_ll(r.elems[0]);
	held = ctl_ll(r.elems[1]);
	rr_reply_free(&r);
	if (code == 0)
		log_err("%s is not a dial-up domain", entry.s);
	else if (code == 2)
		log_err("mail is still held for %s%s (%lld message%s): flush "
		    "it first or use --force", entry.s[0] == '.' ?
		    "subdomains of " : "", entry.s[0] == '.' ? entry.s + 1 :
		    entry.s, held, held == 1 ? "" : "s");
	else {
		ctld_result(c, entry.s, "deleted", held);
		rc = CTL_OK;
	}
	buf_free(&entry);
	return rc;
}

/* ctld_show_one - one entry's settings as a row or a JSON object */
static int
ctld_show_one(struct ctl *c, const char *entry, struct table *t,
    struct jw *w)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply r;
	size_t	i;
	int	rc;

	rkey_domain(&key, entry);
	rargs_str(&a, "HMGET");
	rargs_buf(&a, &key);
	for (i = 0; i < NFIELDS; i++)
		rargs_str(&a, ctld_fields[i]);
	rc = ctl_command(c, &a, &r);
	rargs_free(&a);
	buf_free(&key);
	if (rc < 0)
		return -1;
	if (c->json) {
		jw_open(w, '{');
		jw_key(w, "domain");
		jw_str(w, entry);
	} else
		table_cell(t, entry);
	for (i = 0; i < NFIELDS; i++) {
		const char *v = i < r.nelem ? r.elems[i] : NULL;

		if (c->json) {
			jw_key(w, ctld_fields[i]);
			jw_str(w, v);
		} else
			table_cell(t, v && *v ? v : "-");
	}
	if (c->json)
		jw_close(w, '}');
	rr_reply_free(&r);
	return 0;
}

/* ctld_list - the entry named (it must exist), or all, sorted */
static int
ctld_list(struct ctl *c, int argc, char **argv, struct strv *out)
{
	struct buf entry = BUF_INIT, key = BUF_INIT;
	struct rr_reply r;
	size_t	i;
	int	rc;

	if (argc > 0 && ctld_entry(argv[0], &entry) < 0)
		return -1;
	rkey_domains(&key);
	if (argc > 0)
		rc = ctl_redis(c, &r, "SISMEMBER", key.s, entry.s, NULL);
	else
		rc = ctl_redis(c, &r, "SMEMBERS", key.s, NULL);
	buf_free(&key);
	if (rc < 0) {
		buf_free(&entry);
		return -1;
	}
	if (argc > 0 && r.type == RRT_INT && r.integer == 1)
		strv_add(out, entry.s);
	else if (argc > 0) {
		log_err("%s is not a dial-up domain", entry.s);
		rc = -1;
	}
	for (i = 0; argc == 0 && i < r.nelem; i++)
		if (r.elems[i] != NULL)
			strv_add(out, r.elems[i]);
	rr_reply_free(&r);
	strv_sort(out);
	buf_free(&entry);
	return rc;
}

/* ctld_show - etrnctl domains show [DOMAIN] */
static int
ctld_show(struct ctl *c, int argc, char **argv)
{
	static const char *const head[] = { "DOMAIN", "HOLD_TIME",
		"WARN_TIME", "ALLOW", "MAX_MESSAGES", "MAX_BYTES",
		"SASL_USERS" };
	struct strv doms = { NULL, 0, 0 };
	struct table t;
	struct jw w;
	size_t	i;
	int	rc = CTL_OK;

	if (ctld_list(c, argc, argv, &doms) < 0) {
		strv_free(&doms);
		return CTL_ERR;
	}
	table_init(&t, NFIELDS + 1, "lrrlrrl");
	for (i = 0; i < NFIELDS + 1; i++)
		table_cell(&t, head[i]);
	jw_init(&w, &c->out);
	if (c->json) {
		jw_open(&w, '{');
		jw_key(&w, "domains");
		jw_open(&w, '[');
	}
	for (i = 0; i < doms.n && rc == CTL_OK; i++)
		if (ctld_show_one(c, doms.v[i], &t, &w) < 0)
			rc = CTL_ERR;
	if (rc == CTL_OK && c->json) {
		jw_close(&w, ']');
		jw_close(&w, '}');
	} else if (rc == CTL_OK && doms.n > 0)
		table_print(&t, &c->out);
	else if (rc == CTL_OK)
		buf_cat(&c->out, "no dial-up domains\n");
	table_free(&t);
	strv_free(&doms);
	return rc;
}

/* ctld_domains_args - argument counts of the domains subcommands */
int
ctld_domains_args(int argc, char **argv)
{
	int	i, n = 0;

	if (strcmp(argv[0], "show") == 0)
		return argc <= 2 ? 0 : -1;
	if (strcmp(argv[0], "add") == 0)
		return argc >= 2 ? 0 : -1;
	if (strcmp(argv[0], "set") == 0)
		return argc >= 3 ? 0 : -1;
	if (strcmp(argv[0], "del") != 0)
		return -1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--force") != 0)
			n++;
	return n == 1 ? 0 : -1;
}

/* ctld_domains - etrnctl domains show|add|set|del ... */
int
ctld_domains(struct ctl *c, int argc, char **argv)
{
	if (strcmp(argv[0], "show") == 0)
		return ctld_show(c, argc - 1, argv + 1);
	if (strcmp(argv[0], "add") == 0)
		return ctld_change(c, 1, argc - 1, argv + 1);
	if (strcmp(argv[0], "set") == 0)
		return ctld_change(c, 0, argc - 1, argv + 1);
	return ctld_del(c, argc - 1, argv + 1);
}
