/*
 * NAME
 *	safepath - files and sockets that root creates, in directories
 *	nobody else can write
 * DESCRIPTION
 *	safepath_resolve: the path with its directory resolved (realpath:
 *	no symbolic link, no "." or ".." left) and, when the caller is
 *	root, checked: every directory on the way must be root's, the last
 *	one writable by root only, the ones above it not group- or
 *	world-writable unless sticky (/tmp: nobody else can rename root's
 *	entries there).  Root may then create, bind and chown by that path:
 *	no other user can put a link or another file in its place.
 *	Without root nothing is checked (the caller can only hurt itself).
 *
 *	safepath_write: a small file (a pid file) written to a new file in
 *	the checked directory (O_CREAT|O_EXCL|O_NOFOLLOW, the final mode
 *	set with fchmod) and renamed over the old name.  A symbolic or hard
 *	link at that name is replaced, never written through; nothing is
 *	truncated.  The file stays the creator's: it is never given away.
 * DIAGNOSTICS
 *	-1 with the reason in *err: a missing directory, a directory
 *	another user can write (named with its owner and mode), a write or
 *	rename error.
 * SECURITY
 *	docs/design.md, "Privileges": root never opens, creates or chowns
 *	a path in a directory another user can write.  The check follows the
 *	resolved path, so a symbolic link on the configured path (such as
 *	/var/run -> /run) is fine when it leads to root-only directories.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/safepath.h"

/* safepath_dir_ok - one directory of the chain; last: the parent itself */
static int
safepath_dir_ok(const char *dir, int last, struct buf *err)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		buf_printf(err, "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || ((st.st_mode & 022) &&
	    (last || !(st.st_mode & S_ISVTX)))) {
		buf_printf(err, "directory %s (uid %ld, mode %04o) is writable "
		    "by a user other than root: make it root's and not group- "
		    "or world-writable", dir, (long)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* safepath_check - every directory of an absolute resolved path */
static int
safepath_check(char *dir, struct buf *err)
{
	char	*p;
	int	rc;

	if (safepath_dir_ok("/", dir[1] == '\0', err) < 0)
		return -1;
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = safepath_dir_ok(dir, 0, err);
		*p = '/';
		if (rc < 0)
			return -1;
	}
	return dir[1] == '\0' ? 0 : safepath_dir_ok(dir, 1, err);
}

/* safepath_resolve - resolved, checked path of a file to create */
int
safepath_resolve(const char *path, struct buf *out, struct buf *err)
{
	const char *slash = strrchr(path, '/'), *base;
	char	*dir, *real;
	int	rc = 0;

	if (slash == NULL || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0) {
		buf_printf(err, "%s: not an absolute path to a file", path);
		return -1;
	}
	base = slash + 1;
	dir = slash == path ? strdup("/") :
	    strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		buf_printf(err, "out of memory");
		return -1;
	}
	if ((real = realpath(dir, NULL)) == NULL) {
		buf_printf(err, "directory %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	if (geteuid() == 0)
		rc = safepath_check(real, err);
	if (rc == 0) {
		buf_reset(out);
		buf_printf(out, "%s/%s", real[1] ? real : "", base);
	}
	free(real);
	return rc;
}

/* safepath_write - replace a small file by rename, never through a link */
int
safepath_write(const char *path, const void *data, size_t len, mode_t mode,
    struct buf *err)
{
	struct buf real = BUF_INIT, tmp = BUF_INIT;
	int	fd = -1, i, rc = -1;
	ssize_t	n;

	if (safepath_resolve(path, &real, err) < 0)
		goto out;
	buf_terminate(&real);
	/* A name of our own: O_EXCL creates it, or fails on what is there. */
	for (i = 0; i < 100 && fd < 0; i++) {
		buf_reset(&tmp);
		buf_printf(&tmp, "%s.%ld.%d.tmp", real.s, (long)getpid(), i);
		fd = open(buf_terminate(&tmp), O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST) {
			buf_printf(err, "%s: %s", tmp.s, strerror(errno));
			goto out;
		}
	}
	if (fd < 0) {
		buf_printf(err, "%s: no free temporary name", real.s);
		goto out;
	}
	n = write(fd, data, len);
	if (n != (ssize_t)len || fchmod(fd, mode) < 0 || close(fd) < 0) {
		buf_printf(err, "%s: %s", tmp.s, n >= 0 && n != (ssize_t)len ?
		    "short write" : strerror(errno));
		(void)unlink(tmp.s);
		goto out;
	}
	fd = -1;
	if (rename(tmp.s, real.s) < 0) {
		buf_printf(err, "%s: %s", real.s, strerror(errno));
		(void)unlink(tmp.s);
		goto out;
	}
	rc = 0;
out:
	buf_free(&real);
	buf_free(&tmp);
	return rc;
}
