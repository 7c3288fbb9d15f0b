#include "CLibBPF.h"
#include <stdio.h>

const char *clibbpf_version(void)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	return buf;
}
