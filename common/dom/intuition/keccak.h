/*
 * keccak.h -- Keccak-256 (the pre-SHA-3 padding Ethereum uses), for the
 * counter-triple ids: keccak256(abi.encodePacked(COUNTER_SALT, tripleId)).
 */
#ifndef PL_IX_KECCAK_H
#define PL_IX_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#include "num/u256.h"

void ix_keccak256(const void *data, size_t n, unsigned char out[32]);
/* A u256 as 32 big-endian bytes, and back. */
void ix_u256_be(const u256 *v, unsigned char out[32]);
void ix_be_u256(const unsigned char in[32], u256 *v);
/* The counter term of triple term t: keccak256(COUNTER_SALT ++ t). */
void ix_counter_id(const u256 *t, u256 *out);

#endif
