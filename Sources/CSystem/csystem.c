#define _GNU_SOURCE
#include "csystem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int csystem_rename_exchange(const char *from, const char *to) {
    /* The raw syscall: glibc's renameat2 wrapper needs glibc 2.28 headers with _GNU_SOURCE. */
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE);
}

int csystem_memfd(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
