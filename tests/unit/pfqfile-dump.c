/*
 * NAME
 *	pfqfile-dump - print a queue file's header section as pfqfile reads it
 * SUMMARY
 *	pfqfile-dump file PATH
 *	pfqfile-dump reader QUEUE_DIR MAIL_OWNER HASH_QUEUES DEPTH QUEUE ID...
 *	pfqfile-dump count QUEUE_DIR MAIL_OWNER HASH_QUEUES DEPTH QUEUE < IDS
 * DESCRIPTION
 *	file: pfqf_parse_mem() on the file's bytes.  reader: one reader
 *	process (pfqf_reader_start(), as root it drops to MAIL_OWNER) asked
 *	for each ID in turn; the header sections are written one after the
 *	other.  count: the IDs one a line on stdin, through one reader,
 *	printing only how many came back ok, gone and doubt (for timing).
 * DIAGNOSTICS
 *	Exit 0 when every ID (or the file) was PFQF_OK, 2 when one was
 *	PFQF_GONE, 3 when one was PFQF_DOUBT (the reason on stderr), 1 on a
 *	usage error or a reader that did not start.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/pfqfile.h"
#include "util/buf.h"

/* dump_file - parse one file read whole */
static int
dump_file(const char *path)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *why = NULL;
	char	chunk[65536];
	size_t	n;
	FILE	*fp;
	int	st;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&in, chunk, n);
	fclose(fp);
	st = pfqf_parse_mem(in.s, in.len, &out, &why);
	if (st == PFQF_OK)
		fwrite(out.s, 1, out.len, stdout);
	else
		fprintf(stderr, "%s: %s: %s\n", path, pfqf_status_name(st),
		    why != NULL ? why : "?");
	buf_free(&in);
	buf_free(&out);
	return st == PFQF_OK ? 0 : st == PFQF_GONE ? 2 : 3;
}

/* dump_reader - ask one reader for ids (or stdin's lines when count) */
static int
dump_reader(char **argv, int argc, int count)
{
	struct pfqf_reader *rd;
	struct buf out = BUF_INIT;
	char	line[256];
	long	n[3] = { 0, 0, 0 };
	int	i, st, rc = 0;

	rd = pfqf_reader_start(argv[0], argv[1], argv[2], atoi(argv[3]));
	if (rd == NULL)
		return 1;
	for (i = 5; count || i < argc; i++) {
		if (count) {
			if (fgets(line, sizeof(line), stdin) == NULL)
				break;
			line[strcspn(line, "\n")] = '\0';
		}
		st = pfqf_reader_headers(rd, argv[4], count ? line : argv[i],
		    &out);
		n[st]++;
		if (st == PFQF_OK && !count)
			fwrite(out.s, 1, out.len, stdout);
		else if (st != PFQF_OK && !count)
			fprintf(stderr, "%s: %s\n", argv[i],
			    pfqf_status_name(st));
		if (st != PFQF_OK && rc == 0)
			rc = st == PFQF_GONE ? 2 : 3;
	}
	if (count)
		printf("ok %ld doubt %ld gone %ld\n", n[PFQF_OK],
		    n[PFQF_DOUBT], n[PFQF_GONE]);
	pfqf_reader_stop(rd);
	buf_free(&out);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "file") == 0)
		return dump_file(argv[2]);
	if (argc >= 8 && strcmp(argv[1], "reader") == 0)
		return dump_reader(argv + 2, argc - 2, 0);
	if (argc == 7 && strcmp(argv[1], "count") == 0)
		return dump_reader(argv + 2, argc - 2, 1);
	fprintf(stderr, "usage: pfqfile-dump file PATH | reader|count "
	    "QUEUE_DIR MAIL_OWNER HASH_QUEUES DEPTH QUEUE [ID...]\n");
	return 1;
}
