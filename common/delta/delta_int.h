/*
 * delta_int.h -- internals shared by the engine's modules: codec.c (rows
 * as JSON), rows.c (row access, touch sets, history), journal.c (the undo
 * journal and reverts), apply.c (frames and the apply loop) and snapshot.c.
 * Not a public interface: domains use delta.h.
 */
#ifndef PL_DELTA_INT_H
#define PL_DELTA_INT_H

#include <stdint.h>

#include "core/hmap.h"
#include "core/io.h"
#include "core/json.h"
#include "core/slab.h"
#include "delta/delta.h"
#include "num/u256.h"

/* First touch of a (table, key) in a frame or a block: the before-image. */
struct touch {
	uint64_t tab; /* 64 bits so that key is 8-byte aligned (rows are read in place) */
	unsigned char key[DL_KEY_MAX];
	void *before; /* owned copy, NULL if the row did not exist */
	void *after;  /* history tables only: owned copy of the final image */
	uint32_t order;
};

struct touchset {
	struct hmap map;
	struct touch **list;
	uint32_t n, cap;
};

/*
 * A journal entry: 24 bytes.  Its key is the before-image's (whose first
 * keylen bytes are the key); a row that did not exist has its key in the
 * block's key buffer instead (dl_je_key).  `unit` numbers the journal's
 * units -- one frame's changes in one block -- in the order they were
 * recorded; a block's entries are in that order too.
 */
struct jentry {
	uint32_t tab;
	uint32_t koff; /* before == NULL: offset of the key in the block's keys */
	void *before;  /* owned copy or NULL */
	uint64_t unit;
};

struct jblock {
	uint64_t number;
	u256 hash;
	struct jentry *e;
	uint32_t n, cap;
	unsigned char *keys; /* keys of the entries without a before-image, 8-byte aligned */
	size_t klen, kcap;
	struct jblock *next;
};

static inline const void *dl_je_key(const struct jblock *b, const struct jentry *e)
{
	return e->before ? (const void *)e->before : (const void *)(b->keys + e->koff);
}

struct dl {
	const struct dl_domain *dom;
	const struct dl_table *tabs;
	void *domstate;
	uint64_t finality;
	struct hmap *tab;    /* [dom->ntabs] stored tables; history ones stay empty */
	struct slab *rows;   /* [dom->ntabs] every row, before- and after-image of each table */
	struct slab touches; /* struct touch records of the touch sets */

	/* journal, oldest block first */
	struct jblock *jhead, *jtail;
	uint64_t junit;	     /* the last journal unit number given out */
	uint64_t final_unit; /* the newest unit that left the journal final (this process only) */
	uint64_t finalized;
	int have_cp;
	int64_t cp_driver, cp_seq;

	/* the frame in progress */
	int in_frame, skipping, multi;
	int kind; /* enum dl_kind */
	int64_t f_driver, f_seq, f_block;
	u256 f_hash;
	uint64_t f_maxblock;
	int f_final;	       /* the begin line's "head" says the block is final: no journal (docs/formats.md) */
	int64_t f_head;	       /* a multi-block frame's "head" (-1: none): final when all its blocks are */
	struct touchset frame; /* before-images for the frame's put/del lines */
	struct touchset blk;   /* before-images for the current block (multi-block frames) */
	int blk_open;
	uint64_t cur_block, cur_time;
	u256 cur_hash;
	struct touch **hist_pending; /* history rows touched in the current block */
	uint32_t nhist, caphist;
	struct jblock *pending; /* journal blocks of this frame (committed at end) */
	struct sb undo;		/* undo lines of a multi-block frame */

	struct js js;
	struct sb tmp, tmp2;
	struct dl_stats st;
	int err_kind;		    /* enum fr_reject_kind of the last error */
	int64_t fork;		    /* a RevertBlock frame with fork_block: revert every block above it, else -1 */
	struct outl *outv, *outtmp; /* dl_changed_sorted's result and merge buffer */
	size_t *namelen;	    /* [tab]: strlen of the table's name */
	size_t outcap;
	struct hmap texts; /* dl_text's copies (struct dl_textrec) */
	int texts_init;
};

/* codec.c: text interning */
void dl_texts_free(struct dl *dl);

/* codec.c */
void dl_add_key(struct dl *dl, struct sb *sb, int tab, const void *row);
void dl_add_row(struct dl *dl, struct sb *sb, int tab, const void *row);
/* ,"row":AFTER (if after) and, if with_before, ,"before":BEFORE (null if NULL):
 * the before-image's unchanged columns copied from the row's text. */
void dl_add_images(struct dl *dl, struct sb *sb, int tab, const void *after, const void *before, int with_before);
int dl_parse_obj(struct dl *dl, int obj, const struct dl_col *cols, int n, void *row);
int dl_table_by_name(struct dl *dl, int tok);
int dl_get_i64(struct dl *dl, int obj, const char *name, int64_t *v, int required);

/* rows.c */
void dl_ts_init(struct touchset *ts);
/* Release the entries of ts and empty it (keeping a small map's capacity). */
void dl_ts_clear(struct dl *dl, struct touchset *ts);
/* Free what ts holds for good (dl_free). */
void dl_ts_free(struct dl *dl, struct touchset *ts);
struct touch *dl_ts_touch(struct dl *dl, struct touchset *ts, int tab, const void *key, const void *cur, int *fresh);
/* A copy of row (NULL for NULL) from the table's slab; released with dl_release_row. */
void *dl_dup_row(struct dl *dl, int tab, const void *row);
void dl_release_row(struct dl *dl, int tab, void *row);
void dl_touch_row(struct dl *dl, int tab, const void *key, const void *cur);
void dl_close_hist(struct dl *dl);
/* Put a copy of row into table tab without a touch (load, rollback); returns it. */
void *dl_store_row(struct dl *dl, int tab, const void *row);
/* Remove row from table tab without a touch, and free it. */
void dl_unstore_row(struct dl *dl, int tab, void *row);

/* Rows of ts that changed, in canonical order (keys in dl->tmp). */
struct outl {
	struct touch *t;
	const void *after;
	size_t koff, klen;
};
/* *out is dl->outv, valid until the next call. */
size_t dl_changed_sorted(struct dl *dl, struct touchset *ts, struct outl **out, int all_hist);
/* Sort order of canonical key texts (table, then key text). */
int dl_cmp_keytext(const struct sb *keys, size_t ao, size_t al, size_t bo, size_t bl);

/* journal.c */
struct jblock *dl_jblock_find(struct jblock *head, const u256 *hash);
void dl_jblock_add(struct dl *dl, struct jblock *b, int tab, const void *key, void *before, uint64_t unit);
/* Drop journal block b at once, its changes final (on_final for each entry, as a prune). */
void dl_journal_drop(struct dl *dl, struct jblock *b);
void dl_jblock_free(struct dl *dl, struct jblock *b);
struct jblock *dl_journal_block(struct dl *dl, uint64_t number, const u256 *hash);
void dl_journal_unlink(struct dl *dl, struct jblock *victim);
void dl_journal_prune(struct dl *dl);
void dl_add_undo_line(struct dl *dl, struct sb *sb, uint64_t number, const u256 *hash, int tab, const void *key,
	const void *before);
int dl_revert(struct dl *dl);
/* Revert every journaled block above the fork (dl->fork), emitting one
 * RevertBlock delta frame per block through emit(dl, out). */
int dl_revert_fork(struct dl *dl, struct sb *out, void (*emit)(struct dl *, struct sb *));

#endif
