/*
 * u256.h -- unsigned 256-bit integers on GMP's mpn layer, and Starknet felts.
 *
 * A u256 is four 64-bit little-endian limbs, a fixed-size value that lives
 * inside entity structs without allocation; arithmetic goes through GMP's
 * mpn functions.  Every operation that could wrap reports it instead:
 * overflow and underflow are errors, never silent.
 *
 * Parsing is strict.  Decimal: digits only, no sign, no leading zeros (except
 * "0"), at most 78 digits, value < 2^256.  Hex: "0x" then 1..64 hex digits of
 * either case (leading zeros accepted, so that padded addresses normalise).
 * Formatting is canonical: decimal without leading zeros, hex as "0x" +
 * lowercase without leading zeros ("0x0" for zero) -- the producer's format.
 */
#ifndef PL_U256_H
#define PL_U256_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"

typedef struct {
	uint64_t w[4]; /* w[0] least significant */
} u256;

#define U256_DEC_MAX 79 /* 78 digits + NUL */
#define U256_HEX_MAX 67 /* "0x" + 64 digits + NUL */

static inline void u256_zero(u256 *r)
{
	r->w[0] = r->w[1] = r->w[2] = r->w[3] = 0;
}
static inline void u256_set_u64(u256 *r, uint64_t v)
{
	r->w[0] = v;
	r->w[1] = r->w[2] = r->w[3] = 0;
}
static inline int u256_is_zero(const u256 *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}
static inline int u256_eq(const u256 *a, const u256 *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->w[3] == b->w[3];
}
/* Fits in 64 / 128 bits. */
static inline int u256_fits64(const u256 *a)
{
	return !(a->w[1] | a->w[2] | a->w[3]);
}
static inline int u256_fits128(const u256 *a)
{
	return !(a->w[2] | a->w[3]);
}
int u256_cmp(const u256 *a, const u256 *b);

/* Arithmetic: each returns 0, or -1 (r unspecified) on overflow, underflow
 * or division by zero.  r may alias an operand. */
int u256_add(u256 *r, const u256 *a, const u256 *b);
int u256_sub(u256 *r, const u256 *a, const u256 *b);
int u256_mul(u256 *r, const u256 *a, const u256 *b);
int u256_div(u256 *r, const u256 *a, const u256 *b); /* floor(a / b) */
/* floor(a * b / c) with a 512-bit intermediate product. */
int u256_muldiv(u256 *r, const u256 *a, const u256 *b, const u256 *c);

/* value = hi * 2^128 + lo, each half must fit in 128 bits (Cairo u256 Serde). */
int u256_from_halves(u256 *r, const u256 *lo, const u256 *hi);

/* Parsers: 0 on success, -1 with err_msg() set on bad syntax or range. */
int u256_parse_dec(u256 *r, const char *s, size_t n);
int u256_parse_hex(u256 *r, const char *s, size_t n);

/* Formatters: write NUL-terminated text into out, return its length. */
size_t u256_format_dec(const u256 *a, char out[U256_DEC_MAX]);
size_t u256_format_hex(const u256 *a, char out[U256_HEX_MAX]);
void sb_add_u256_dec(struct sb *sb, const u256 *a);
void sb_add_u256_hex(struct sb *sb, const u256 *a);

/*
 * Felts (Starknet field elements) are u256 values below
 * P = 2^251 + 17 * 2^192 + 1.
 */
extern const u256 FELT_P;
/* Hex parse + range check against P. */
int felt_parse(u256 *r, const char *s, size_t n);
/*
 * Cairo i128 carried in a felt: values >= P/2 are negative (x - P).
 * Writes a signed decimal string; fails unless -2^127 <= value < 2^127.
 */
int felt_format_i128(const u256 *felt, char out[U256_DEC_MAX + 1]);

#endif
