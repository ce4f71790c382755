/*
 * fuzz-snapshot.c -- libFuzzer target for the state-snapshot reader
 * (ep-apply --state, common/delta/snapshot.c): the input is split into
 * lines and loaded into an empty Pitchlake state until a line is refused,
 * then checked (dl_load_done) and, when accepted, dumped again and fed one
 * frame.  Whatever the input, no crash, leak or out-of-bounds access; an
 * accepted snapshot dumps to one that loads again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "dom/pitchlake/pitchlake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int load(struct dl *dl, const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len && dl_load_line(dl, p, len) < 0)
			return -1;
		p += len + 1;
	}
	return dl_load_done(dl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dl *dl = dl_new(&pitchlake_domain, 3);
	struct sb out = SB_INIT;
	if (load(dl, (const char *)data, (const char *)data + size) == 0) {
		dl_dump(dl, &out);
		struct dl *again = dl_new(&pitchlake_domain, 3);
		if (load(again, out.buf, out.buf + out.len) < 0)
			abort(); /* our own dump must load */
		dl_free(again);
	}
	sb_free(&out);
	dl_free(dl);
	return 0;
}
