/*
 * fuzz-u256.c -- libFuzzer target for the u256 parsers and arithmetic:
 * parse∘format is the identity, and add/sub/mul/div agree with each other
 * (a + b - b = a, a * b / b = a, muldiv(a, b, b) = a) whenever they succeed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num/u256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const u256 *a)
{
	char buf[U256_DEC_MAX], hbuf[U256_HEX_MAX];
	u256 b;
	size_t n = u256_format_dec(a, buf);
	if (u256_parse_dec(&b, buf, n) < 0 || !u256_eq(a, &b))
		abort();
	n = u256_format_hex(a, hbuf);
	if (u256_parse_hex(&b, hbuf, n) < 0 || !u256_eq(a, &b))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	u256 a, b, r, t;
	const char *s = (const char *)data;
	/* Text: split at the first ',' into two numbers. */
	const char *comma = memchr(s, ',', size);
	size_t n1 = comma ? (size_t)(comma - s) : size;
	int ok1 = u256_parse_dec(&a, s, n1) == 0 || u256_parse_hex(&a, s, n1) == 0;
	if (ok1)
		check_roundtrip(&a);
	if (felt_parse(&t, s, n1) == 0) {
		char ibuf[U256_DEC_MAX + 1];
		(void)felt_format_i128(&t, ibuf);
	}
	/* Binary: the first 64 bytes as two raw values. */
	if (size >= 64) {
		memcpy(a.w, data, 32);
		memcpy(b.w, data + 32, 32);
		check_roundtrip(&a);
		if (u256_add(&r, &a, &b) == 0) {
			if (u256_sub(&t, &r, &b) < 0 || !u256_eq(&t, &a))
				abort();
		}
		if (u256_mul(&r, &a, &b) == 0 && !u256_is_zero(&b)) {
			if (u256_div(&t, &r, &b) < 0 || !u256_eq(&t, &a))
				abort();
		}
		if (!u256_is_zero(&b)) {
			if (u256_muldiv(&t, &a, &b, &b) < 0 || !u256_eq(&t, &a))
				abort();
		} else if (u256_muldiv(&t, &a, &b, &b) == 0) {
			abort(); /* division by zero must fail */
		}
		if (u256_sub(&r, &a, &b) == 0 && u256_cmp(&a, &b) < 0)
			abort(); /* underflow must be reported */
	}
	return 0;
}
