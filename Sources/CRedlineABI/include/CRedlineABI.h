/* Swift's view of bpf/include/redline_abi.h: the same header the kernel
 * programs include, so the record layouts cannot drift. */
#ifndef C_REDLINE_ABI_H
#define C_REDLINE_ABI_H
#include "../../../bpf/include/redline_abi.h"
#include "../../../bpf/include/redline_maps.h"

/* Size in bytes of a record type's struct; 0 for an unknown type. */
unsigned int credline_record_size(unsigned int type);
/* Layout version this build writes for a record type; 0 for an unknown type. */
unsigned int credline_record_version(unsigned int type);

#endif
