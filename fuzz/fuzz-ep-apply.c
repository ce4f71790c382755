/*
 * fuzz-ep-apply.c -- libFuzzer target for the whole ep-apply engine: the
 * input is split into lines and fed to ep_feed until it reports an error;
 * whatever the input, the engine must not crash, leak or corrupt memory.
 * The seed corpus holds the worked example, so mutations explore real frames.
 */
#include <stdint.h>
#include <string.h>

#include "ep.h"
#include "io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep *ep = ep_new(3);
	struct sb out = SB_INIT;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ep_feed(ep, p, len, &out) < 0)
			break;
		sb_reset(&out);
		p += len + 1;
	}
	ep_finish(ep);
	sb_reset(&out);
	ep_dump(ep, &out);
	sb_free(&out);
	ep_free(ep);
	return 0;
}
