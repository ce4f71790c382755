/*
 * u256.c -- see u256.h.  All heavy lifting is GMP's mpn layer on 64-bit limbs.
 */
#include <assert.h>
#include <string.h>

#include <gmp.h>

#include "core/die.h"
#include "num/u256.h"

_Static_assert(GMP_NUMB_BITS == 64 && sizeof(mp_limb_t) == 8, "u256 needs 64-bit GMP limbs");

/* 2^251 + 17 * 2^192 + 1 */
const u256 FELT_P = {{1, 0, 0, 0x0800000000000011ULL}};

static const mp_limb_t *L(const u256 *a)
{
	return (const mp_limb_t *)a->w;
}

static mp_size_t size_of(const uint64_t *w, mp_size_t n)
{
	while (n > 0 && w[n - 1] == 0)
		n--;
	return n;
}

int u256_cmp(const u256 *a, const u256 *b)
{
	return mpn_cmp(L(a), L(b), 4);
}

int u256_add(u256 *r, const u256 *a, const u256 *b)
{
	return mpn_add_n((mp_limb_t *)r->w, L(a), L(b), 4) ? -1 : 0;
}

int u256_sub(u256 *r, const u256 *a, const u256 *b)
{
	return mpn_sub_n((mp_limb_t *)r->w, L(a), L(b), 4) ? -1 : 0;
}

int u256_mul(u256 *r, const u256 *a, const u256 *b)
{
	mp_limb_t p[8];
	mpn_mul_n(p, L(a), L(b), 4);
	if (p[4] | p[5] | p[6] | p[7])
		return -1;
	memcpy(r->w, p, sizeof r->w);
	return 0;
}

/* q = floor(n[0..nn) / d), q must fit in 256 bits. */
static int divide(u256 *r, const mp_limb_t *n, mp_size_t nn, const u256 *d)
{
	mp_size_t dn = size_of(d->w, 4);
	if (dn == 0)
		return -1;
	nn = size_of((const uint64_t *)n, nn);
	if (nn < dn) {
		u256_zero(r);
		return 0;
	}
	mp_limb_t q[8] = {0}, rem[4];
	mpn_tdiv_qr(q, rem, 0, n, nn, L(d), dn);
	if (q[4] | q[5] | q[6] | q[7])
		return -1;
	memcpy(r->w, q, sizeof r->w);
	return 0;
}

int u256_div(u256 *r, const u256 *a, const u256 *b)
{
	mp_limb_t n[4];
	memcpy(n, a->w, sizeof n);
	return divide(r, n, 4, b);
}

int u256_muldiv(u256 *r, const u256 *a, const u256 *b, const u256 *c)
{
	mp_limb_t p[8];
	mpn_mul_n(p, L(a), L(b), 4);
	return divide(r, p, 8, c);
}

int u256_from_halves(u256 *r, const u256 *lo, const u256 *hi)
{
	if (!u256_fits128(lo) || !u256_fits128(hi))
		return -1;
	r->w[0] = lo->w[0];
	r->w[1] = lo->w[1];
	r->w[2] = hi->w[0];
	r->w[3] = hi->w[1];
	return 0;
}

int u256_parse_dec(u256 *r, const char *s, size_t n)
{
	unsigned char digits[80];
	if (n == 0)
		return error("empty number");
	if (n > 78)
		return error("number '%.*s...' has more than 78 digits", 20, s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return error("'%.*s' is not a non-negative decimal integer", (int)(n > 80 ? 80 : n), s);
		digits[i] = (unsigned char)(s[i] - '0');
	}
	if (n > 1 && s[0] == '0')
		return error("'%.*s' has leading zeros", (int)n, s);
	mp_limb_t tmp[5] = {0};
	mp_size_t sz = mpn_set_str(tmp, digits, n, 10);
	if (sz > 4)
		return error("'%.*s' does not fit in 256 bits", (int)n, s);
	memcpy(r->w, tmp, sizeof r->w);
	return 0;
}

/* Hex digit values, 0xff for anything else. */
static unsigned char hexv[256];
static int hexv_ready;

static void hexv_init(void)
{
	memset(hexv, 0xff, sizeof hexv);
	for (int i = 0; i < 10; i++)
		hexv['0' + i] = (unsigned char)i;
	for (int i = 0; i < 6; i++) {
		hexv['a' + i] = (unsigned char)(10 + i);
		hexv['A' + i] = (unsigned char)(10 + i);
	}
	hexv_ready = 1;
}

/* Eight hex digits (most significant first) as a 32-bit value; -1 if one is not a hex digit. */
static int hex8(const unsigned char *p, uint32_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t H = 0x8080808080808080ULL, L = 0x0101010101010101ULL;
	uint64_t x;
	memcpy(&x, p, 8); /* p[0] in the low byte */
	if (x & H)
		return -1;
	/* per byte (all < 0x80, so no carry crosses a byte): '0'..'9', or 'a'..'f' in either case */
	uint64_t digit = (x + L * (0x80 - '0')) & ~(x + L * (0x7f - '9')) & H;
	uint64_t l = x | L * 0x20;
	uint64_t alpha = (l + L * (0x80 - 'a')) & ~(l + L * (0x7f - 'f')) & H;
	if ((digit | alpha) != H)
		return -1;
	uint64_t v = (x & L * 0x0f) + (alpha >> 7) * 9;
	v = ((v & 0x0f000f000f000f00ULL) >> 8) | ((v & 0x000f000f000f000fULL) << 4);
	v = ((v & 0x00ff000000ff0000ULL) >> 16) | ((v & 0x000000ff000000ffULL) << 8);
	v = ((v & 0x0000ffff00000000ULL) >> 32) | ((v & 0x000000000000ffffULL) << 16);
	*out = (uint32_t)v;
	return 0;
#else
	uint32_t w = 0;
	unsigned bad = 0;
	for (int i = 0; i < 8; i++) {
		unsigned v = hexv[p[i]];
		bad |= v;
		w = (w << 4) | (v & 15);
	}
	*out = w;
	return bad > 15 ? -1 : 0;
#endif
}

int u256_parse_hex(u256 *r, const char *s, size_t n)
{
	if (!hexv_ready)
		hexv_init();
	if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return error("'%.*s' is not a 0x-prefixed hex number", (int)(n > 80 ? 80 : n), s);
	s += 2;
	n -= 2;
	while (n > 1 && *s == '0') /* leading zeros normalise away */
		s++, n--;
	if (n > 64)
		return error("hex value '0x%.*s...' does not fit in 256 bits", 20, s);
	u256_zero(r);
	/* From the least significant end: groups of eight digits (32 bits
	 * each) at a time, then the at most seven leading digits one by one. */
	const unsigned char *b = (const unsigned char *)s, *p = b + n;
	unsigned bit = 0;
	while (p - b >= 8) {
		p -= 8;
		uint32_t g;
		if (hex8(p, &g) < 0)
			return error("'0x%.*s' is not a hex number", (int)n, s);
		r->w[bit / 64] |= (uint64_t)g << (bit % 64);
		bit += 32;
	}
	if (p > b) {
		uint64_t w = 0;
		unsigned bad = 0; /* the values of all digits or'ed: > 15 if one is not a digit */
		for (const unsigned char *q = b; q < p; q++) {
			unsigned v = hexv[*q];
			bad |= v;
			w = (w << 4) | v;
		}
		if (bad > 15)
			return error("'0x%.*s' is not a hex number", (int)n, s);
		r->w[bit / 64] |= w << (bit % 64);
	}
	return 0;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				     "8081828384858687888990919293949596979899";

/* The decimal digits of v, right-aligned to end (two per step); returns where they start. */
static char *dec_u64(uint64_t v, char *end, int pad)
{
	char *o = end;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--o = digit_pairs[d + 1];
		*--o = digit_pairs[d];
	}
	if (v >= 10) {
		*--o = digit_pairs[v * 2 + 1];
		*--o = digit_pairs[v * 2];
	} else {
		*--o = (char)('0' + v);
	}
	while (end - o < pad)
		*--o = '0';
	return o;
}

size_t u256_format_dec(const u256 *a, char out[U256_DEC_MAX])
{
	if (u256_fits128(a)) {
		/* Below 2^128: three pieces of at most 19 digits (10^19 < 2^64),
		 * without GMP. */
		__extension__ typedef unsigned __int128 u128;
		const uint64_t e19 = 10000000000000000000ULL;
		char tmp[48], *end = tmp + sizeof tmp, *o;
		u128 x = ((u128)a->w[1] << 64) | a->w[0];
		if (!a->w[1]) {
			o = dec_u64(a->w[0], end, 0);
		} else {
			uint64_t lo = (uint64_t)(x % e19);
			u128 q = x / e19;
			o = dec_u64(lo, end, 19);
			if (q >= e19) {
				o = dec_u64((uint64_t)(q % e19), o, 19);
				o = dec_u64((uint64_t)(q / e19), o, 0);
			} else {
				o = dec_u64((uint64_t)q, o, 0);
			}
		}
		size_t n = (size_t)(end - o);
		memcpy(out, o, n);
		out[n] = '\0';
		return n;
	}
	mp_limb_t tmp[4];
	memcpy(tmp, a->w, sizeof tmp);
	unsigned char digits[U256_DEC_MAX + 2];
	size_t n = mpn_get_str(digits, 10, tmp, size_of(a->w, 4));
	size_t skip = 0;
	while (skip + 1 < n && digits[skip] == 0)
		skip++;
	for (size_t i = skip; i < n; i++)
		out[i - skip] = (char)('0' + digits[i]);
	out[n - skip] = '\0';
	return n - skip;
}

size_t u256_format_hex(const u256 *a, char out[U256_HEX_MAX])
{
	static const char hex[] = "0123456789abcdef";
	static char pairs[512];
	if (!pairs[0])
		for (int i = 0; i < 256; i++) {
			pairs[2 * i] = hex[i >> 4];
			pairs[2 * i + 1] = hex[i & 15];
		}
	char *o = out;
	*o++ = '0';
	*o++ = 'x';
	int limb = 3;
	while (limb > 0 && a->w[limb] == 0)
		limb--;
	uint64_t v = a->w[limb];
	int shift = 60;
	while (shift > 0 && (v >> shift) == 0) /* skip leading zero nibbles */
		shift -= 4;
	if (shift % 8 == 0) { /* odd number of digits: one single nibble first */
		*o++ = hex[(v >> shift) & 15];
		shift -= 8;
	} else {
		shift -= 4; /* now the shift of a whole byte */
	}
	for (; shift >= 0; shift -= 8) {
		memcpy(o, pairs + 2 * ((v >> shift) & 255), 2);
		o += 2;
	}
	while (limb-- > 0) {
		v = a->w[limb];
		for (shift = 56; shift >= 0; shift -= 8) {
			memcpy(o, pairs + 2 * ((v >> shift) & 255), 2);
			o += 2;
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

void sb_add_u256_dec(struct sb *sb, const u256 *a)
{
	char buf[U256_DEC_MAX];
	sb_add(sb, buf, u256_format_dec(a, buf));
}

void sb_add_u256_hex(struct sb *sb, const u256 *a)
{
	char buf[U256_HEX_MAX];
	sb_add(sb, buf, u256_format_hex(a, buf));
}

int felt_parse(u256 *r, const char *s, size_t n)
{
	if (u256_parse_hex(r, s, n) < 0)
		return -1;
	if (u256_cmp(r, &FELT_P) >= 0)
		return error("'%.*s' is not a field element (>= P)", (int)(n > 80 ? 80 : n), s);
	return 0;
}

int felt_format_i128(const u256 *felt, char out[U256_DEC_MAX + 1])
{
	static const u256 two127 = {{0, 0x8000000000000000ULL, 0, 0}};
	if (u256_cmp(felt, &two127) < 0) {
		u256_format_dec(felt, out);
		return 0;
	}
	u256 neg;
	if (u256_cmp(felt, &FELT_P) >= 0 || u256_sub(&neg, &FELT_P, felt) < 0)
		return error("felt is not an i128");
	if (u256_cmp(&neg, &two127) > 0)
		return error("felt is not an i128");
	out[0] = '-';
	u256_format_dec(&neg, out + 1);
	return 0;
}
