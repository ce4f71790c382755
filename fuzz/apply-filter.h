/*
 * apply-filter.h -- the body of every apply filter's libFuzzer target
 * (fuzz-ep-apply, fuzz-rules-apply, fuzz-ix-apply, fuzz-stake-apply): the
 * input is split into lines and fed to dl_feed of the domain until it
 * reports an error, then the state is finished and dumped; whatever the
 * input, the engine and the domain must not crash, leak or corrupt memory.
 * A target is one line: FUZZ_APPLY_FILTER(&the_domain).
 */
#ifndef FUZZ_APPLY_FILTER_H
#define FUZZ_APPLY_FILTER_H

#include <stdint.h>
#include <string.h>

#include "core/io.h"
#include "delta/delta.h"

static int fuzz_apply_filter(const struct dl_domain *dom, const uint8_t *data, size_t size)
{
	struct dl *dl = dl_new(dom, 3);
	struct sb out = SB_INIT;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (dl_feed(dl, p, len, &out) < 0)
			break;
		sb_reset(&out);
		p += len + 1;
	}
	dl_finish(dl);
	sb_reset(&out);
	dl_dump(dl, &out);
	sb_free(&out);
	dl_free(dl);
	return 0;
}

#define FUZZ_APPLY_FILTER(dom)                                              \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);       \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)        \
	{                                                                   \
		return fuzz_apply_filter(dom, data, size);                  \
	}

#endif
