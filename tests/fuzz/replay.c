/*
 * NAME
 *	replay - run a fuzz target's corpus as a unit test
 * SUMMARY
 *	replay_TARGET [file-or-dir ...]
 * DESCRIPTION
 *	Feeds every file of tests/fuzz/corpus/TARGET (under $top_srcdir,
 *	or ".") through the target's LLVMFuzzerTestOneInput(), so every
 *	build, with any compiler, checks the corpus and the invariants the
 *	target asserts.  With arguments, replays those files (or the files
 *	of those directories) instead: a crash file kept by make fuzz is
 *	replayed with the same binary under gdb or valgrind.
 * DIAGNOSTICS
 *	Names each file on stderr before feeding it, so the log of a
 *	failed run ends with the input that broke an invariant (the target
 *	aborts).  Exit 1 when no input was found or a file is unreadable.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET (the corpus name) must be defined"
#endif

/* replay_file - feed one file; -1 when it cannot be read */
static int
replay_file(const char *path)
{
	FILE	*fp;
	uint8_t	*data;
	long	size;
	size_t	n;

	if ((fp = fopen(path, "rb")) == NULL || fseek(fp, 0, SEEK_END) < 0 ||
	    (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp)
			fclose(fp);
		return -1;
	}
	/* an exact-size copy: ASan sees any read past the input */
	if ((data = malloc(size ? (size_t)size : 1)) == NULL) {
		fclose(fp);
		return -1;
	}
	n = fread(data, 1, (size_t)size, fp);
	fclose(fp);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

/* replay_path - a file, or every file of a directory; count them */
static int
replay_path(const char *path, int *count)
{
	char	sub[4096];
	struct dirent *de;
	struct stat st;
	DIR	*d;
	int	rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
			(*count)++;
			if (replay_file(sub) < 0)
				rc = -1;
		}
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char	dir[4096];
	int	i, count = 0, rc = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &count) < 0)
				rc = 1;
	} else {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
		    top ? top : ".", FUZZ_TARGET);
		if (replay_path(dir, &count) < 0)
			rc = 1;
	}
	printf("%s: %d inputs replayed\n", FUZZ_TARGET, count);
	if (count == 0) {
		fprintf(stderr, "replay: no inputs\n");
		rc = 1;
	}
	return rc;
}
