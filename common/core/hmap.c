/*
 * hmap.c -- see hmap.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/hmap.h"

void hm_init(struct hmap *m, size_t keylen)
{
	m->slot = NULL;
	m->cap = m->n = 0;
	m->keylen = keylen;
}

void hm_free(struct hmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

void hm_clear(struct hmap *m)
{
	if (m->n)
		memset(m->slot, 0, m->cap * sizeof *m->slot);
	m->n = 0;
}

uint64_t hm_hash(const void *key, size_t len)
{
	/* Keys are mostly felts (already random-looking): fold 8-byte words
	 * with a multiply-xorshift mixer. */
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		len -= 8;
	}
	while (len--) {
		h = (h ^ *p++) * 0x94d049bb133111ebULL;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	return h;
}

static void grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	void **ns = xcalloc(ncap, sizeof *ns);
	for (size_t i = 0; i < m->cap; i++) {
		void *r = m->slot[i];
		if (!r)
			continue;
		size_t j = hm_hash(r, m->keylen) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = r;
	}
	free(m->slot);
	m->slot = ns;
	m->cap = ncap;
}

void *hm_get(const struct hmap *m, const void *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	size_t i = hm_hash(key, m->keylen) & mask;
	for (;;) {
		void *r = m->slot[i];
		if (!r)
			return NULL;
		if (!memcmp(r, key, m->keylen))
			return r;
		i = (i + 1) & mask;
	}
}

void hm_put(struct hmap *m, void *rec)
{
	if ((m->n + 1) * 10 > m->cap * 7)
		grow(m);
	size_t mask = m->cap - 1;
	size_t i = hm_hash(rec, m->keylen) & mask;
	while (m->slot[i])
		i = (i + 1) & mask;
	m->slot[i] = rec;
	m->n++;
}

void *hm_del(struct hmap *m, const void *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	size_t i = hm_hash(key, m->keylen) & mask;
	for (;;) {
		void *r = m->slot[i];
		if (!r)
			return NULL;
		if (!memcmp(r, key, m->keylen))
			break;
		i = (i + 1) & mask;
	}
	void *found = m->slot[i];
	/* Backward-shift: move later entries of the cluster into the hole. */
	size_t hole = i, j = i;
	for (;;) {
		j = (j + 1) & mask;
		void *r = m->slot[j];
		if (!r)
			break;
		size_t home = hm_hash(r, m->keylen) & mask;
		/* r may move to hole if home is not cyclically in (hole, j]. */
		if ((j > hole && (home <= hole || home > j)) || (j < hole && (home <= hole && home > j))) {
			m->slot[hole] = r;
			hole = j;
		}
	}
	m->slot[hole] = NULL;
	m->n--;
	return found;
}

void *hm_next(const struct hmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		void *r = m->slot[(*pos)++];
		if (r)
			return r;
	}
	return NULL;
}
