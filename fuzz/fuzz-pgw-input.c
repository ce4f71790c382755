/*
 * fuzz-pgw-input.c -- libFuzzer target for pg-write's frame reader
 * (common/pg/pgw_input.c: every input line parsed and checked into the
 * frame being assembled), without a database: the input is split into
 * lines and taken one by one; a completed frame is read back line by line
 * and the slot reused; a malformed line starts over.  Whatever the input,
 * no crash, leak or out-of-bounds access.
 * fuzz-sources: common/pg/pgw_input.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pgw_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgw w;
	memset(&w, 0, sizeof w);
	w.fr = xcalloc(1, sizeof *w.fr);
	js_init(&w.js);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		w.lr.lineno++;
		int r = pgw_take_line(&w, p, len);
		if (r == 1) {
			size_t total = 0;
			for (size_t i = 0; i < w.fr[0].nl; i++) {
				size_t n;
				pgw_frame_line(&w.fr[0], i, &n);
				total += n + 1;
			}
			if (total != w.fr[0].text.len)
				abort();
		} else if (r < 0) {
			if (w.reason.len == 0)
				abort(); /* a refusal always says why */
			w.in_frame = 0;
		}
		p += len + 1;
	}
	for (int i = 0; i < w.ntabs; i++) {
		free(w.tabs[i]->name);
		free(w.tabs[i]);
	}
	free(w.tabs);
	sb_free(&w.fr[0].text);
	sb_free(&w.fr[0].hash);
	free(w.fr[0].loff);
	free(w.fr);
	js_free(&w.js);
	sb_free(&w.tmp);
	sb_free(&w.tmp2);
	sb_free(&w.reason);
	return 0;
}
