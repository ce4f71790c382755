/*
 * keccak.c -- Keccak-f[1600] and Keccak-256 with the original 0x01 padding
 * (Ethereum's keccak256, not FIPS-202 SHA3-256).
 */
#include <string.h>

#include "dom/intuition/keccak.h"

static const uint64_t rc[24] = {0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL,
	0x8000000000008009ULL, 0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL,
	0x000000008000000aULL, 0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL,
	0x800000008000000aULL, 0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL,
	0x8000000080008008ULL};
static const int rotc[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
static const int piln[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};

static uint64_t rotl(uint64_t x, int n)
{
	return (x << n) | (x >> (64 - n));
}

static void keccakf(uint64_t st[25])
{
	uint64_t bc[5], t;
	for (int r = 0; r < 24; r++) {
		for (int i = 0; i < 5; i++)
			bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
		for (int i = 0; i < 5; i++) {
			t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
			for (int j = 0; j < 25; j += 5)
				st[j + i] ^= t;
		}
		t = st[1];
		for (int i = 0; i < 24; i++) {
			int j = piln[i];
			bc[0] = st[j];
			st[j] = rotl(t, rotc[i]);
			t = bc[0];
		}
		for (int j = 0; j < 25; j += 5) {
			for (int i = 0; i < 5; i++)
				bc[i] = st[j + i];
			for (int i = 0; i < 5; i++)
				st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
		}
		st[0] ^= rc[r];
	}
}

void ix_keccak256(const void *data, size_t n, unsigned char out[32])
{
	enum { RATE = 136 };
	uint64_t st[25];
	unsigned char blk[RATE];
	const unsigned char *p = data;
	memset(st, 0, sizeof st);
	for (;;) {
		size_t take = n < RATE ? n : RATE;
		memset(blk, 0, RATE);
		memcpy(blk, p, take);
		int last = take < RATE;
		if (last) {
			blk[take] ^= 0x01;
			blk[RATE - 1] ^= 0x80;
		}
		for (int i = 0; i < RATE / 8; i++) {
			uint64_t w = 0;
			for (int b = 7; b >= 0; b--)
				w = (w << 8) | blk[8 * i + b];
			st[i] ^= w;
		}
		keccakf(st);
		p += take;
		n -= take;
		if (last)
			break;
	}
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 8; b++)
			out[8 * i + b] = (unsigned char)(st[i] >> (8 * b));
}

void ix_u256_be(const u256 *v, unsigned char out[32])
{
	for (int i = 0; i < 32; i++)
		out[31 - i] = (unsigned char)(v->w[i / 8] >> (8 * (i % 8)));
}

void ix_be_u256(const unsigned char in[32], u256 *v)
{
	u256_zero(v);
	for (int i = 0; i < 32; i++)
		v->w[i / 8] |= (uint64_t)in[31 - i] << (8 * (i % 8));
}

void ix_counter_id(const u256 *t, u256 *out)
{
	unsigned char buf[64];
	ix_keccak256("COUNTER_SALT", 12, buf);
	ix_u256_be(t, buf + 32);
	unsigned char h[32];
	ix_keccak256(buf, 64, h);
	ix_be_u256(h, out);
}
