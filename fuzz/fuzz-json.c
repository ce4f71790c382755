/*
 * fuzz-json.c -- libFuzzer target for the NDJSON tokenizer: any input must
 * either parse or be rejected with a message, never crash; a parsed input
 * must round-trip through js_str / sb_add_jstr for every string token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct js js;
	static struct sb tmp, out, tmp2;
	if (js_parse(&js, (const char *)data, size) < 0)
		return 0;
	for (uint32_t i = 0; i < js.n; i++) {
		if (js.t[i].next <= i || js.t[i].next > js.n)
			abort();
		if (js.t[i].type != JS_STR)
			continue;
		const char *s;
		size_t n;
		if (js_str(&js, (int)i, &tmp, &s, &n) < 0)
			abort();
		/* Re-encode the string and parse it back: the contents must survive. */
		char *copy = malloc(n ? n : 1);
		memcpy(copy, s, n);
		sb_reset(&out);
		sb_add_jstr(&out, copy, n);
		struct js js2;
		js_init(&js2);
		if (js_parse(&js2, out.buf, out.len) < 0)
			abort();
		const char *s2;
		size_t n2;
		if (js_str(&js2, 0, &tmp2, &s2, &n2) < 0 || n2 != n || memcmp(s2, copy, n))
			abort();
		js_free(&js2);
		free(copy);
	}
	if (js.t[0].type == JS_OBJ)
		(void)js_get(&js, 0, "op");
	return 0;
}
