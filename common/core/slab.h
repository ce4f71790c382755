/*
 * slab.h -- a pool of fixed-size objects: rows of one table, touch records.
 *
 * Objects are carved from chunks of about 64 KiB and recycled through a
 * free list, so the apply loop allocates nothing per event once the pool
 * has grown to its peak, and a row costs its size rounded to 8 bytes (no
 * allocator header, no size-class rounding, no fragmentation between
 * long-lived rows and per-frame copies).  Chunks are kept until sl_free:
 * the pool's size follows the peak number of live objects.
 *
 * Under AddressSanitizer every object is its own malloc, so that use after
 * release and overflows are still caught.
 */
#ifndef PL_SLAB_H
#define PL_SLAB_H

#include <stddef.h>

struct slab {
	size_t size;   /* object size, a multiple of 8 */
	size_t per;    /* objects per chunk */
	void *free;    /* released objects, linked through their first word */
	char *chunk;   /* the newest chunk */
	size_t used;   /* objects handed out from it */
	void **chunks; /* every chunk, for sl_free */
	size_t nchunks, capchunks;
	size_t live; /* objects handed out and not released */
};

void sl_init(struct slab *s, size_t size);
/* Release every chunk (the objects die with them). */
void sl_free(struct slab *s);
/* An object of s->size bytes, contents unspecified. */
void *sl_get(struct slab *s);
/* The same, zeroed. */
void *sl_zget(struct slab *s);
/* Give obj (from sl_get on s, or NULL) back. */
void sl_put(struct slab *s, void *obj);
/* Bytes held by the pool (chunks), for --stats. */
size_t sl_bytes(const struct slab *s);

#endif
