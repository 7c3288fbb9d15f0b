#ifndef CSYSTEM_H
#define CSYSTEM_H

/* Linux calls Swift's Glibc module does not expose (it is built without _GNU_SOURCE). */

/* renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE): swaps two existing paths
 * (files or folders) in one atomic step. 0 on success, -1 with errno set. */
int csystem_rename_exchange(const char *from, const char *to);

/* memfd_create(name, MFD_CLOEXEC): an anonymous in-memory regular file. Its descriptor, or -1
 * with errno set. */
int csystem_memfd(const char *name);

#endif
