/*
 * rows.c -- row access for the domain's handlers, and the touch sets that
 * remember the first before-image of every (table, key) touched in the
 * frame and, in multi-block frames, in the current block.  History tables
 * (delta.h) are kept here too: their rows exist only as images in the
 * touch sets, computed from the entity rows at the end of each block.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"

void dl_ts_init(struct touchset *ts)
{
	hm_init(&ts->map, offsetof(struct touch, before));
	ts->list = NULL;
	ts->n = ts->cap = 0;
}

/* A touch set that grew past this many entries gives its memory back when cleared. */
#define TS_KEEP 4096

static void ts_release(struct dl *dl, struct touchset *ts)
{
	for (uint32_t i = 0; i < ts->n; i++) {
		struct touch *t = ts->list[i];
		dl_release_row(dl, (int)t->tab, t->before);
		dl_release_row(dl, (int)t->tab, t->after);
		sl_put(&dl->touches, t);
	}
	ts->n = 0;
}

void dl_ts_free(struct dl *dl, struct touchset *ts)
{
	ts_release(dl, ts);
	free(ts->list);
	ts->list = NULL;
	ts->cap = 0;
	hm_free(&ts->map);
}

void dl_ts_clear(struct dl *dl, struct touchset *ts)
{
	if (ts->cap > TS_KEEP)
		dl_ts_free(dl, ts);
	else {
		ts_release(dl, ts);
		hm_clear(&ts->map);
	}
}

void *dl_dup_row(struct dl *dl, int tab, const void *row)
{
	if (!row)
		return NULL;
	void *p = sl_get(&dl->rows[tab]);
	memcpy(p, row, dl->tabs[tab].size);
	return p;
}

void dl_release_row(struct dl *dl, int tab, void *row)
{
	sl_put(&dl->rows[tab], row);
}

static void probe_init(struct dl *dl, struct touch *probe, int tab, const void *key)
{
	memset(probe, 0, offsetof(struct touch, before));
	probe->tab = (uint64_t)tab;
	memcpy(probe->key, key, dl->tabs[tab].keylen);
}

/* The entry for (tab, key) in ts, created with before = copy of cur if new. *fresh tells. */
struct touch *dl_ts_touch(struct dl *dl, struct touchset *ts, int tab, const void *key, const void *cur, int *fresh)
{
	struct touch probe;
	probe_init(dl, &probe, tab, key);
	struct touch *t = hm_get(&ts->map, &probe);
	if (fresh)
		*fresh = !t;
	if (t)
		return t;
	t = sl_get(&dl->touches);
	memcpy(t, &probe, offsetof(struct touch, before));
	t->before = dl_dup_row(dl, tab, cur);
	t->after = NULL;
	t->order = ts->n;
	hm_put(&ts->map, t);
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 64;
		ts->list = xrealloc(ts->list, ts->cap * sizeof *ts->list);
	}
	ts->list[ts->n++] = t;
	return t;
}

void *dl_get(struct dl *dl, int tab, const void *key)
{
	return hm_get(&dl->tab[tab], key);
}

const void *dl_get_before_frame(struct dl *dl, int tab, const void *key)
{
	struct touch probe;
	probe_init(dl, &probe, tab, key);
	struct touch *t = hm_get(&dl->frame.map, &probe);
	return t ? t->before : hm_get(&dl->tab[tab], key);
}

void *dl_next_row(struct dl *dl, int tab, size_t *pos)
{
	return hm_next(&dl->tab[tab], pos);
}

void dl_touch_row(struct dl *dl, int tab, const void *key, const void *cur)
{
	dl_ts_touch(dl, &dl->frame, tab, key, cur, NULL);
	if (dl->multi)
		dl_ts_touch(dl, &dl->blk, tab, key, cur, NULL);
}

void *dl_store_row(struct dl *dl, int tab, const void *row)
{
	void *r = dl_dup_row(dl, tab, row);
	hm_put(&dl->tab[tab], r);
	if (dl->dom->on_insert)
		dl->dom->on_insert(dl, tab, r);
	return r;
}

void dl_unstore_row(struct dl *dl, int tab, void *row)
{
	hm_del(&dl->tab[tab], row);
	if (dl->dom->on_delete)
		dl->dom->on_delete(dl, tab, row);
	dl_release_row(dl, tab, row);
}

void *dl_mut(struct dl *dl, int tab, void *row)
{
	dl_touch_row(dl, tab, row, row);
	return row;
}

void *dl_insert_row(struct dl *dl, int tab, const void *full)
{
	dl_touch_row(dl, tab, full, NULL);
	return dl_store_row(dl, tab, full);
}

void *dl_new_row(struct dl *dl, int tab, const void *key)
{
	unsigned char zero[DL_ROW_MAX];
	memset(zero, 0, dl->tabs[tab].size);
	memcpy(zero, key, dl->tabs[tab].keylen);
	return dl_insert_row(dl, tab, zero);
}

void dl_del_row(struct dl *dl, int tab, void *row)
{
	dl_touch_row(dl, tab, row, row);
	dl_unstore_row(dl, tab, row);
}

void dl_forget_row(struct dl *dl, int tab, void *row)
{
	dl_unstore_row(dl, tab, row);
}

/* ---------------------------------------------------------------- history */

static uint64_t latest_of(const struct dl_table *et, const void *ent)
{
	uint64_t v;
	memcpy(&v, (const unsigned char *)ent + et->latest_off, 8);
	return v;
}

/* Before an entity's columns change in the current block. */
static void hist_touch(struct dl *dl, int htab, const void *ent)
{
	const struct dl_table *ht = &dl->tabs[htab];
	unsigned char img[DL_ROW_MAX];
	memset(img, 0, ht->size);
	ht->image(ent, dl->cur_block, img);
	/* The history row (entity, block) exists iff the entity was already
	 * written in this block (reverts are newest-first, so no later block
	 * can have moved its "last block written" on). */
	const void *cur = latest_of(&dl->tabs[ht->src], ent) == dl->cur_block ? img : NULL;
	int fresh;
	struct touch *t = dl_ts_touch(dl, &dl->frame, htab, img, cur, &fresh);
	if (fresh) {
		if (dl->nhist == dl->caphist) {
			dl->caphist = dl->caphist ? dl->caphist * 2 : 64;
			dl->hist_pending = xrealloc(dl->hist_pending, dl->caphist * sizeof *dl->hist_pending);
		}
		dl->hist_pending[dl->nhist++] = t;
	}
	if (dl->multi)
		dl_ts_touch(dl, &dl->blk, htab, img, cur, NULL);
}

void *dl_update(struct dl *dl, int tab, void *row)
{
	const struct dl_table *t = &dl->tabs[tab];
	if (t->hist >= 0)
		hist_touch(dl, t->hist, row);
	dl_mut(dl, tab, row);
	memcpy((unsigned char *)row + t->latest_off, &dl->cur_block, 8);
	return row;
}

/* End of a block inside a frame: fix the history after-images. */
void dl_close_hist(struct dl *dl)
{
	for (uint32_t i = 0; i < dl->nhist; i++) {
		struct touch *t = dl->hist_pending[i];
		const struct dl_table *ht = &dl->tabs[t->tab];
		const void *ent = hm_get(&dl->tab[ht->src], t->key);
		dl_release_row(dl, (int)t->tab, t->after);
		t->after = NULL;
		if (ent) {
			t->after = sl_zget(&dl->rows[t->tab]);
			uint64_t blk;
			memcpy(&blk, t->key + ht->keylen - 8, 8);
			ht->image(ent, blk, t->after);
		}
	}
	dl->nhist = 0;
}

/* ---------------------------------------------------------------- changes */

int dl_cmp_keytext(const struct sb *keys, size_t ao, size_t al, size_t bo, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(keys->buf + ao, keys->buf + bo, n);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int cmp_outl(const struct sb *keys, const struct outl *x, const struct outl *y)
{
	if (x->t->tab != y->t->tab)
		return x->t->tab < y->t->tab ? -1 : 1;
	return dl_cmp_keytext(keys, x->koff, x->klen, y->koff, y->klen);
}

/* Merge sort of v[0..n) by canonical key (tmp: n slots); no allocation. */
static void sort_outl(const struct sb *keys, struct outl *v, struct outl *tmp, size_t n)
{
	/* insertion sort of runs of 8, then bottom-up merges */
	for (size_t lo = 0; lo < n; lo += 8) {
		size_t hi = lo + 8 < n ? lo + 8 : n;
		for (size_t i = lo + 1; i < hi; i++) {
			struct outl x = v[i];
			size_t k = i;
			while (k > lo && cmp_outl(keys, &x, &v[k - 1]) < 0) {
				v[k] = v[k - 1];
				k--;
			}
			v[k] = x;
		}
	}
	for (size_t w = 8; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			if (mid == hi || cmp_outl(keys, &v[mid - 1], &v[mid]) < 0) {
				memcpy(tmp + lo, v + lo, (hi - lo) * sizeof *v);
				continue;
			}
			while (i < mid && j < hi)
				tmp[k++] = cmp_outl(keys, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
			while (i < mid)
				tmp[k++] = v[i++];
			while (j < hi)
				tmp[k++] = v[j++];
		}
		memcpy(v, tmp, n * sizeof *v);
	}
}

static const void *after_of(struct dl *dl, const struct touch *t)
{
	return dl->tabs[t->tab].src < 0 ? hm_get(&dl->tab[t->tab], t->key) : t->after;
}

/* The changed entries of ts in canonical order; returns count, *out malloc'd. keys in dl->tmp. */
size_t dl_changed_sorted(struct dl *dl, struct touchset *ts, struct outl **out, int all_hist)
{
	if (ts->n > dl->outcap) {
		dl->outcap = ts->n > 2 * dl->outcap ? ts->n : 2 * dl->outcap;
		dl->outv = xrealloc(dl->outv, dl->outcap * sizeof *dl->outv);
		dl->outtmp = xrealloc(dl->outtmp, dl->outcap * sizeof *dl->outtmp);
	}
	struct outl *v = dl->outv;
	size_t n = 0;
	sb_reset(&dl->tmp);
	for (uint32_t i = 0; i < ts->n; i++) {
		struct touch *t = ts->list[i];
		const void *after = after_of(dl, t);
		size_t sz = dl->tabs[t->tab].size;
		/* A block's journal keeps every history entry: their after-images
		 * are only known to the frame's touch set. */
		int keep = all_hist && dl->tabs[t->tab].src >= 0;
		if (!keep && !after && !t->before)
			continue;
		if (!keep && after && t->before && !memcmp(after, t->before, sz))
			continue;
		v[n].t = t;
		v[n].after = after;
		v[n].koff = dl->tmp.len;
		dl_add_key(dl, &dl->tmp, (int)t->tab, t->key);
		v[n].klen = dl->tmp.len - v[n].koff;
		n++;
	}
	sort_outl(&dl->tmp, v, dl->outtmp, n);
	*out = v;
	return n;
}
