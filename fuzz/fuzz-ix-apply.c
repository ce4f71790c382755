/*
 * fuzz-ix-apply.c -- libFuzzer target for ix-apply (the Intuition domain on the engine): the
 * input is split into lines and fed to dl_feed until it reports an error;
 * whatever the input, the engine must not crash, leak or corrupt memory.
 * The seed corpus holds a small frame file (tests/data/ix-small.frames), so mutations explore real frames.
 */
#include <stdint.h>
#include <string.h>

#include "dom/intuition/intuition.h"
#include "core/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dl *ep = dl_new(&ix_domain, 3);
	struct sb out = SB_INIT;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (dl_feed(ep, p, len, &out) < 0)
			break;
		sb_reset(&out);
		p += len + 1;
	}
	dl_finish(ep);
	sb_reset(&out);
	dl_dump(ep, &out);
	sb_free(&out);
	dl_free(ep);
	return 0;
}
