/*
 * fuzz-rdx.c -- libFuzzer target for redis-read's message -> frame
 * conversion (common/redis/rdx.c): any payload must either frame or be
 * rejected with a message, never crash; a frame must be lines of strict
 * JSON, begin first and end last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "redis/rdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sb out;
	static struct js js;
	int64_t mb;
	rdx_scan((const char *)data, size, &mb);
	sb_reset(&out);
	if (rdx_frame("s", "1700000000000-3", -1, 1000, (const char *)data, size, &out) < 0)
		return 0;
	const char *p = out.buf, *end = out.buf + out.len;
	int first = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			abort();
		if (js_parse(&js, p, (size_t)(nl - p)) < 0)
			abort();
		int op = js_get(&js, 0, "op");
		if (op < 0 || (first && !js_str_eq(&js, op, "begin")) || (nl + 1 == end && !js_str_eq(&js, op, "end")))
			abort();
		first = 0;
		p = nl + 1;
	}
	return 0;
}
