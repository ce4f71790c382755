/*
 * fuzz-stats.c -- libFuzzer target for the stats-file parser pl-status
 * reads (common/status/statsfile.c): whatever a stage left in its stats
 * file, parsing must not crash or overrun, and every value it keeps is one
 * it can give back.
 */
#include <stdint.h>
#include <string.h>

#include "status/statsfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_file f;
	memset(&f, 0, sizeof f);
	if (st_parse_stats(&f, (const char *)data, size) == 0)
		for (int i = 0; i < f.nkeys; i++) {
			int found;
			(void)st_file_value(&f, f.keys[i].key, &found);
			if (!found)
				__builtin_trap();
		}
	return 0;
}
