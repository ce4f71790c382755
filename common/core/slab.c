/*
 * slab.c -- see slab.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define SL_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SL_MALLOC 1
#endif
#endif

#define SL_CHUNK 65536

void sl_init(struct slab *s, size_t size)
{
	memset(s, 0, sizeof *s);
	if (size < sizeof(void *))
		size = sizeof(void *);
	s->size = (size + 7) & ~(size_t)7;
	s->per = SL_CHUNK / s->size;
	if (s->per < 16)
		s->per = 16;
}

void sl_free(struct slab *s)
{
	for (size_t i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	size_t size = s->size;
	sl_init(s, size);
}

void *sl_get(struct slab *s)
{
	s->live++;
#ifdef SL_MALLOC
	return xmalloc(s->size);
#else
	if (s->free) {
		void *o = s->free;
		memcpy(&s->free, o, sizeof(void *));
		return o;
	}
	if (!s->chunk || s->used == s->per) {
		if (s->nchunks == s->capchunks) {
			s->capchunks = s->capchunks ? s->capchunks * 2 : 16;
			s->chunks = xrealloc(s->chunks, s->capchunks * sizeof *s->chunks);
		}
		s->chunk = xmalloc(s->per * s->size);
		s->chunks[s->nchunks++] = s->chunk;
		s->used = 0;
	}
	return s->chunk + s->size * s->used++;
#endif
}

void *sl_zget(struct slab *s)
{
	void *o = sl_get(s);
	memset(o, 0, s->size);
	return o;
}

void sl_put(struct slab *s, void *obj)
{
	if (!obj)
		return;
	s->live--;
#ifdef SL_MALLOC
	free(obj);
#else
	memcpy(obj, &s->free, sizeof(void *));
	s->free = obj;
#endif
}

size_t sl_bytes(const struct slab *s)
{
#ifdef SL_MALLOC
	return s->live * s->size;
#else
	return s->nchunks * s->per * s->size;
#endif
}
