/*
 * hmap.h -- an open-addressing hash set of pointers to records whose key is
 * the first keylen bytes of the record itself (so rows carry their own key
 * and the map stores one pointer per entry).  Linear probing, backward-shift
 * deletion (no tombstones), power-of-two capacity, load factor <= 0.7.
 * Iteration order is unspecified: callers that produce output sort first.
 */
#ifndef PL_HMAP_H
#define PL_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap {
	void **slot;
	size_t cap; /* power of two, or 0 */
	size_t n;
	size_t keylen;
};

void hm_init(struct hmap *m, size_t keylen);
/* Frees the table only; the records belong to the caller. */
void hm_free(struct hmap *m);
/* Remove every record, keeping the table's capacity (records belong to the caller). */
void hm_clear(struct hmap *m);
/* The record whose key equals key[0..keylen), or NULL. */
void *hm_get(const struct hmap *m, const void *key);
/* Insert rec (its key must not be present). */
void hm_put(struct hmap *m, void *rec);
/* Remove and return the record with this key, or NULL. */
void *hm_del(struct hmap *m, const void *key);
/* Iterate: start with *pos = 0; returns NULL at the end. */
void *hm_next(const struct hmap *m, size_t *pos);
uint64_t hm_hash(const void *key, size_t len);

#endif
