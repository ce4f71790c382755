/*
 * fuzz-json.c -- libFuzzer target for the NDJSON tokenizer: any input must
 * either parse or be rejected with a message, never crash; a parsed input
 * must round-trip through js_str / sb_add_jstr for every string token, every
 * string's contents must be valid UTF-8 without NUL, and no object may name
 * a member twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 without NUL (an independent check of what js_parse accepts). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], cp, len;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* The object at token obj names no member twice (contents compared). */
static void check_members(const struct js *js, int obj, struct sb *a, struct sb *b)
{
	int k = obj + 1;
	for (uint32_t i = 0; i < js->t[obj].n; i++, k = js_sibling(js, k + 1)) {
		const char *s;
		size_t n;
		js_str(js, k, a, &s, &n);
		char *copy = malloc(n ? n : 1);
		memcpy(copy, s, n);
		int m = js_sibling(js, k + 1);
		for (uint32_t j = i + 1; j < js->t[obj].n; j++, m = js_sibling(js, m + 1)) {
			const char *s2;
			size_t n2;
			js_str(js, m, b, &s2, &n2);
			if (n2 == n && !memcmp(s2, copy, n))
				abort();
		}
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct js js;
	static struct sb tmp, out, tmp2;
	if (js_parse(&js, (const char *)data, size) < 0)
		return 0;
	for (uint32_t i = 0; i < js.n; i++) {
		if (js.t[i].next <= i || js.t[i].next > js.n)
			abort();
		if (js.t[i].type == JS_OBJ && js.t[i].n <= 64)
			check_members(&js, (int)i, &tmp, &tmp2);
		if (js.t[i].type != JS_STR)
			continue;
		const char *s;
		size_t n;
		if (js_str(&js, (int)i, &tmp, &s, &n) < 0)
			abort();
		if (!valid_utf8((const unsigned char *)s, n))
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
