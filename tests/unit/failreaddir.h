/* failreaddir.h - make readdir fail on demand in unit tests */
#ifndef OE_FAILREADDIR_H
#define OE_FAILREADDIR_H

/*
 * Link the test with -Wl,--wrap=readdir -Wl,--wrap=readdir64 (readdir64
 * is the name glibc links) and tests/unit/failreaddir.c: while
 * readdir_fail is set, readdir ends in an error (EIO), as a failing disk
 * or file system would make it.
 */
extern int readdir_fail;

#endif
