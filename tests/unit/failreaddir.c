/*
 * NAME
 *	failreaddir - readdir that fails on demand, for unit tests
 * SUMMARY
 *	readdir_fail = 1; ... readdir_fail = 0;
 * DESCRIPTION
 *	The test is linked with --wrap=readdir and --wrap=readdir64: while
 *	readdir_fail is set, both end in an error with errno EIO; otherwise
 *	they call the real ones.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>

#include "failreaddir.h"

struct dirent *__real_readdir(DIR *);
struct dirent *__wrap_readdir(DIR *);
struct dirent *__real_readdir64(DIR *);
struct dirent *__wrap_readdir64(DIR *);

int	readdir_fail;

/* __wrap_readdir - readdir, or EIO while readdir_fail is set */
struct dirent *
__wrap_readdir(DIR *d)
{
	if (readdir_fail) {
		errno = EIO;
		return NULL;
	}
	return __real_readdir(d);
}

/* __wrap_readdir64 - readdir64, or EIO while readdir_fail is set */
struct dirent *
__wrap_readdir64(DIR *d)
{
	if (readdir_fail) {
		errno = EIO;
		return NULL;
	}
	return __real_readdir64(d);
}
