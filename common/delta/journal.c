/*
 * journal.c -- the undo journal: per block (number, hash), the
 * before-image of every row the block changed, kept for `finality` blocks
 * so that a RevertBlock frame restores the state exactly.  Pruned entries
 * are final; the domain hears of each (on_final) and may archive.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"

struct jblock *dl_jblock_find(struct jblock *head, const u256 *hash)
{
	for (struct jblock *b = head; b; b = b->next)
		if (u256_eq(&b->hash, hash))
			return b;
	return NULL;
}

void dl_jblock_add(struct dl *dl, struct jblock *b, int tab, const void *key, void *before)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->e = xrealloc(b->e, b->cap * sizeof *b->e);
	}
	struct jentry *e = &b->e[b->n++];
	e->tab = (uint32_t)tab;
	e->koff = 0;
	e->before = before;
	if (!before) {
		size_t kl = (dl->tabs[tab].keylen + 7u) & ~(size_t)7;
		if (b->klen + kl > b->kcap) {
			b->kcap = b->kcap ? b->kcap * 2 : 1024;
			while (b->kcap < b->klen + kl)
				b->kcap *= 2;
			b->keys = xrealloc(b->keys, b->kcap);
		}
		memset(b->keys + b->klen, 0, kl);
		memcpy(b->keys + b->klen, key, dl->tabs[tab].keylen);
		e->koff = (uint32_t)b->klen;
		b->klen += kl;
	}
}

void dl_jblock_free(struct dl *dl, struct jblock *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		dl_release_row(dl, (int)b->e[i].tab, b->e[i].before);
	free(b->e);
	free(b->keys);
	free(b);
}

/* The journal block for (number, hash): existing, or a new one at the tail. */
struct jblock *dl_journal_block(struct dl *dl, uint64_t number, const u256 *hash)
{
	struct jblock *b = dl_jblock_find(dl->jhead, hash);
	if (b)
		return b;
	b = xcalloc(1, sizeof *b);
	b->number = number;
	b->hash = *hash;
	if (dl->jtail)
		dl->jtail->next = b;
	else
		dl->jhead = b;
	dl->jtail = b;
	return b;
}

void dl_journal_unlink(struct dl *dl, struct jblock *victim)
{
	struct jblock **pp = &dl->jhead, *prev = NULL;
	while (*pp && *pp != victim) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = victim->next;
	if (dl->jtail == victim)
		dl->jtail = prev;
}

int dl_journal_mentions(const struct dl *dl, int tab, const void *key)
{
	for (const struct jblock *b = dl->jhead; b; b = b->next)
		for (uint32_t i = 0; i < b->n; i++)
			if (b->e[i].tab == (uint32_t)tab && !memcmp(dl_je_key(b, &b->e[i]), key, dl->tabs[tab].keylen))
				return 1;
	return 0;
}

/* Drop the blocks at or below the finality horizon; their changes are final. */
void dl_journal_prune(struct dl *dl)
{
	struct jblock *b = dl->jhead, *pruned = NULL;
	while (b) {
		struct jblock *next = b->next;
		if (b->number <= dl->finalized) {
			dl_journal_unlink(dl, b);
			b->next = pruned;
			pruned = b;
		}
		b = next;
	}
	while (pruned) {
		struct jblock *next = pruned->next;
		if (dl->dom->on_final)
			for (uint32_t i = 0; i < pruned->n; i++)
				dl->dom->on_final(dl, (int)pruned->e[i].tab, dl_je_key(pruned, &pruned->e[i]));
		dl_jblock_free(dl, pruned);
		pruned = next;
	}
}

void dl_journal_drop(struct dl *dl, struct jblock *b)
{
	dl_journal_unlink(dl, b);
	if (dl->dom->on_final)
		for (uint32_t i = 0; i < b->n; i++)
			dl->dom->on_final(dl, (int)b->e[i].tab, dl_je_key(b, &b->e[i]));
	dl_jblock_free(dl, b);
}

void dl_add_undo_line(struct dl *dl, struct sb *sb, uint64_t number, const u256 *hash, int tab, const void *key,
	const void *before)
{
	sb_adds(sb, "{\"op\":\"undo\",\"block_number\":");
	sb_add_u64(sb, number);
	sb_adds(sb, ",\"block_hash\":\"");
	sb_add_u256_hex(sb, hash);
	sb_adds(sb, "\",\"table\":\"");
	sb_adds(sb, dl->tabs[tab].name);
	sb_adds(sb, "\",\"key\":");
	dl_add_key(dl, sb, tab, key);
	sb_adds(sb, ",\"before\":");
	dl_add_row(dl, sb, tab, before);
	sb_adds(sb, "}\n");
}

/* ---------------------------------------------------------------- revert */

static void restore_row(struct dl *dl, int tab, const void *key, const void *before)
{
	void *cur = hm_get(&dl->tab[tab], key);
	if (!before) {
		if (cur)
			dl_del_row(dl, tab, cur);
		return;
	}
	if (cur) {
		dl_mut(dl, tab, cur);
		memcpy(cur, before, dl->tabs[tab].size);
		return;
	}
	dl_insert_row(dl, tab, before);
}

/* Undo the block of the frame in progress (dl->f_hash) from the journal. */
/* The table of a row that both journal blocks changed, or -1. */
static int overlap(const struct dl *dl, const struct jblock *a, const struct jblock *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		for (uint32_t k = 0; k < b->n; k++)
			if (a->e[i].tab == b->e[k].tab &&
				!memcmp(dl_je_key(a, &a->e[i]), dl_je_key(b, &b->e[k]), dl->tabs[a->e[i].tab].keylen))
				return (int)a->e[i].tab;
	return -1;
}

int dl_revert(struct dl *dl)
{
	struct jblock *b = dl_jblock_find(dl->jhead, &dl->f_hash);
	char hb[U256_HEX_MAX];
	u256_format_hex(&dl->f_hash, hb);
	if (!b) {
		uint64_t lo = UINT64_MAX, hi = 0;
		for (struct jblock *x = dl->jhead; x; x = x->next) {
			lo = x->number < lo ? x->number : lo;
			hi = x->number > hi ? x->number : hi;
		}
		if (!dl->jhead)
			return error("unable to revert block %lld (%s): the undo journal is empty "
				     "(deeper than the finality depth %llu, or never applied)",
				(long long)dl->f_block, hb, (unsigned long long)dl->finality);
		return error("unable to revert block %lld (%s): not in the undo journal, which holds blocks %llu..%llu "
			     "(deeper than the finality depth %llu, or never applied)",
			(long long)dl->f_block, hb, (unsigned long long)lo, (unsigned long long)hi,
			(unsigned long long)dl->finality);
	}
	if (dl->f_block >= 0 && (uint64_t)dl->f_block != b->number)
		return error("unable to revert block %s: the frame says height %lld, the journal %llu", hb,
			(long long)dl->f_block, (unsigned long long)b->number);
	for (struct jblock *x = dl->jhead; x; x = x->next)
		if (x->number > b->number) {
			if (!dl->dom->revert_independent)
				return error("unable to revert block %llu (%s): newer block %llu is still applied "
					     "(reverts must come newest first)",
					(unsigned long long)b->number, hb, (unsigned long long)x->number);
			int tab = overlap(dl, b, x);
			if (tab >= 0)
				return error("unable to revert block %llu (%s): newer block %llu, still applied, changed a "
					     "row of table %s that this block changed (revert it first)",
					(unsigned long long)b->number, hb, (unsigned long long)x->number, dl->tabs[tab].name);
		}
	dl->cur_block = b->number;
	/* Pass 1: before-images of everything the revert touches, history rows included. */
	for (uint32_t i = b->n; i-- > 0;) {
		struct jentry *e = &b->e[i];
		const void *ekey = dl_je_key(b, e);
		const struct dl_table *t = &dl->tabs[e->tab];
		if (t->src < 0) {
			dl_touch_row(dl, (int)e->tab, ekey, hm_get(&dl->tab[e->tab], ekey));
			continue;
		}
		const struct dl_table *et = &dl->tabs[t->src];
		const void *ent = hm_get(&dl->tab[t->src], ekey);
		unsigned char img[DL_ROW_MAX];
		uint64_t latest = 0;
		if (ent) {
			memcpy(&latest, (const unsigned char *)ent + et->latest_off, 8);
			memset(img, 0, t->size);
			t->image(ent, b->number, img);
		}
		struct touch *tt = dl_ts_touch(dl, &dl->frame, (int)e->tab, ekey,
			ent && latest == b->number ? (void *)img : NULL, NULL);
		dl_release_row(dl, (int)tt->tab, tt->after);
		tt->after = dl_dup_row(dl, (int)e->tab, e->before);
	}
	/* Pass 2: restore, newest entry first. */
	for (uint32_t i = b->n; i-- > 0;) {
		struct jentry *e = &b->e[i];
		if (dl->tabs[e->tab].src < 0)
			restore_row(dl, (int)e->tab, dl_je_key(b, e), e->before);
	}
	dl->st.reverted_blocks++;
	return 0;
}
