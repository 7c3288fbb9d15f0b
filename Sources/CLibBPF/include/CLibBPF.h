/* libbpf for Swift: the library's own headers plus prefixed shims for what
 * Swift cannot import (option macros, variadic print callbacks). */
#ifndef C_LIBBPF_H
#define C_LIBBPF_H
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* libbpf's version, "major.minor". */
const char *clibbpf_version(void);
#endif
