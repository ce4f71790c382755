/*
 * delta.h -- the domain-independent state engine behind every apply filter
 * (ep-apply and its siblings).
 *
 * A domain is a descriptor: its tables (fixed-size C row structs described
 * column by column), the work-item types it accepts, and a handful of
 * hooks -- above all the event handler.  The engine does the rest: it reads
 * event frames (docs/formats.md), calls the handler for each event, keeps
 * the first before-image of every (table, key) the handler touches, and at
 * the end of the frame writes the delta frame: one put or del line per
 * changed row in canonical order, the undo lines of multi-block frames, and
 * the begin/end framing.  It keeps the undo journal (reverts are exact),
 * the checkpoint (frames already applied are skipped), and loads and dumps
 * snapshots.  Pure and deterministic: no clock, no I/O of its own.
 *
 * Row structs: the key columns come first and contiguous, so the first
 * keylen bytes of a row are its key.  Rows are zeroed before use and copied
 * with memcpy, so padding compares equal.
 */
#ifndef PL_DELTA_H
#define PL_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "core/json.h"
#include "num/u256.h"

#define DL_KEY_MAX 72	/* longest key of any table, in bytes */
#define DL_ROW_MAX 1024 /* largest row struct of any table, in bytes */

/* Column types: how a C field is written to and read from JSON. */
enum dl_type {
	DL_FELT,  /* u256, "0x…" lowercase hex */
	DL_FELT0, /* u256, "0x…", or null for zero */
	DL_DEC,	  /* u256, decimal string */
	DL_U64,	  /* uint64_t, decimal string */
	DL_I128,  /* u256 felt holding a signed 128-bit value, decimal string */
	DL_BOOL,  /* uint64_t 0/1, JSON boolean */
	DL_ENUM,  /* uint64_t index into names[], the name as a string */
	DL_H256,  /* u256, any 256-bit value, "0x…" lowercase hex (EVM hashes, topics) */
	/* Ethereum-style values (full 256-bit range, fixed-width hex): */
	DL_B32,	 /* u256, "0x" + 64 lowercase hex digits, or null for zero (bytes32) */
	DL_ADDR, /* u256 below 2^160, "0x" + 40 lowercase hex digits (address) */
	DL_TEXT, /* const char * (dl_text), a JSON string, or null for NULL */
};

struct dl_col {
	const char *name;
	uint8_t nlen; /* strlen(name) */
	uint8_t type;
	uint16_t off;		  /* offsetof the field in the row struct */
	const char *const *names; /* DL_ENUM: the value names (at most 256) */
	uint8_t nnames;
};

/* A column of struct s: DL_COL("name", DL_DEC, s, field). */
#define DL_COL(n, t, s, f)                                                               \
	{                                                                                \
		n, (uint8_t)(sizeof(n) - 1), t, (uint16_t)offsetof(struct s, f), NULL, 0 \
	}
#define DL_ENUM_COL(n, s, f, names)                                                                                                       \
	{                                                                                                                                 \
		n, (uint8_t)(sizeof(n) - 1), DL_ENUM, (uint16_t)offsetof(struct s, f), names, (uint8_t)(sizeof(names) / sizeof(names)[0]) \
	}

/*
 * A table.  Most tables are stored: their rows live in memory and in the
 * snapshot.  A history table is derived instead: it holds per-block images
 * of an entity table (its key is the entity's key followed by a uint64
 * block number), and the row (entity, block) exists iff the entity was
 * written with dl_update() in that block.  History rows are written to the
 * delta frames and the journal, never kept in memory.
 */
struct dl_table {
	const char *name;
	uint16_t size, keylen;
	const struct dl_col *key;
	int nkey;
	const struct dl_col *cols;
	int ncols;
	/* entity tables with history: the history table's id, else -1 */
	int hist;
	/* entity tables with history: offset of the uint64 "last block written" field */
	uint16_t latest_off;
	/* history tables: the entity table's id, else -1 */
	int src;
	/* history tables: the image of entity row ent at block */
	void (*image)(const void *ent, uint64_t block, void *out);
};

/* Work-item kinds are those of frame/frame.h (enum fr_kind). */

/* What an event handler did with the event (or -1 with error() set). */
enum dl_applied {
	DL_APPLIED,   /* applied */
	DL_UNTRACKED, /* an event the domain does not track (counted as ignored) */
	DL_ALREADY,   /* already applied earlier (counted as ignored, not as an event) */
};

struct dl;

struct dl_domain {
	const char *name;
	const struct dl_table *tabs; /* in canonical (bytewise name) order */
	int ntabs;
	/* Domain state beside the tables (secondary indexes); may be NULL. */
	void *(*init)(struct dl *dl);
	void (*fini)(struct dl *dl, void *dom);
	/* A row entered or left the table (also on rollback, revert and load). */
	void (*on_insert)(struct dl *dl, int tab, void *row);
	void (*on_delete)(struct dl *dl, int tab, void *row);
	/*
	 * Apply one event line: the event object is token 0 of dl_js(dl); the
	 * engine has checked its block fields (dl_block, dl_time).  Returns an
	 * enum dl_applied, or -1 with error() set: bad input or a broken
	 * invariant, after which the state is unusable.
	 */
	int (*event)(struct dl *dl);
	/* A journal entry of table tab left the journal: that change is final. */
	void (*on_final)(struct dl *dl, int tab, const void *key);
	/* After a snapshot is loaded: is it consistent?  0 or -1. */
	int (*check)(struct dl *dl);
	/* --stats: append domain counters (", name N" pieces) to out. */
	void (*stats)(struct dl *dl, struct sb *out);
	/*
	 * 0: reverts come newest first (one chain).  1: the blocks of the
	 * journal are independent lanes (several chains in one state): a
	 * block may be reverted while newer blocks stay applied, provided
	 * none of them changed a row it changed -- which is exactly when
	 * restoring its before-images is exact.
	 */
	int revert_independent;
	/*
	 * Block hashes (begin, event and snapshot lines, "reverts") are any
	 * 256-bit value (EVM chains) instead of felts below P (Starknet).
	 */
	int hash256;
	/*
	 * A StartBlock frame begins (not a skipped one): the domain may change
	 * rows for the block itself (dl_block, dl_time), e.g. a cursor; may be
	 * NULL.  0, or -1 with error() set.
	 */
	int (*block)(struct dl *dl);
};

struct dl_stats {
	uint64_t frames, skipped_frames, events, ignored_events, reverted_blocks;
};

/* ------------------------------------------------ for the apply filters */

/* A new, empty state of the domain.  finality: blocks kept in the undo journal. */
struct dl *dl_new(const struct dl_domain *dom, uint64_t finality);
void dl_free(struct dl *dl);

/*
 * Feed one input line (without its '\n').  When the line completes a frame,
 * the whole delta frame is appended to out (nothing is appended for a frame
 * that is skipped as already applied).  Returns 0, or -1 with err_msg() set:
 * bad input or a broken invariant; the state is then unusable.
 */
int dl_feed(struct dl *dl, const char *line, size_t len, struct sb *out);
/* End of input: discards (and rolls back) a partial frame.  1 if there was one. */
int dl_finish(struct dl *dl);

/* Load one snapshot line (into an empty state, in file order); 0 or -1. */
int dl_load_line(struct dl *dl, const char *line, size_t len);
/* Check the loaded snapshot is complete and consistent; 0 or -1. */
int dl_load_done(struct dl *dl);
/* Write the whole snapshot to out (canonical order). */
void dl_dump(struct dl *dl, struct sb *out);

const struct dl_stats *dl_stats(const struct dl *dl);
/* The counters of --stats in one line (domain counters included). */
void dl_describe_stats(struct dl *dl, struct sb *out);
/* One line describing the state's size: rows per table and the undo journal. */
void dl_describe(const struct dl *dl, struct sb *out);
/* One line on what holds the memory: the rows' slabs per table, the maps, the journal. */
void dl_describe_memory(const struct dl *dl, struct sb *out);
/* The driver_id of the frame being read, or -1 between frames (for messages). */
long long dl_current_driver(const struct dl *dl);
/* Same, and its seq in *seq (-1 between frames). */
long long dl_current_driver_seq(const struct dl *dl, long long *seq);
/* What kind of refusal the last error of dl_feed was (enum fr_reject_kind). */
int dl_error_kind(const struct dl *dl);
/* For handlers: classify the error being returned (default: invariant). */
void dl_set_error_kind(struct dl *dl, int kind);

/*
 * The whole apply filter: options (--state, --dump-state, --finality,
 * --max-line, --stats, --reject-file), the read-apply-write loop, the exit
 * codes.  A domain's program is main() { return dl_main(argc, argv,
 * &domain, about); } where about is one paragraph for --help.
 */
int dl_main(int argc, char **argv, const struct dl_domain *dom, const char *about);

/* ------------------------------------------------ for the domain's hooks */

void *dl_dom(struct dl *dl);
struct js *dl_js(struct dl *dl);
/* A scratch buffer for js_str() in handlers. */
struct sb *dl_scratch(struct dl *dl);
/* The block the current event belongs to, its timestamp. */
uint64_t dl_block(const struct dl *dl);
uint64_t dl_time(const struct dl *dl);

/* The stored row with this key, or NULL. */
void *dl_get(struct dl *dl, int tab, const void *key);
/* The stored row as it was when the frame began (NULL if it did not exist). */
const void *dl_get_before_frame(struct dl *dl, int tab, const void *key);
/* Record the before-image (once per frame and block), then return row for mutation. */
void *dl_mut(struct dl *dl, int tab, void *row);
/* dl_mut for an entity table with history: also records its history row for
 * the current block and sets its "last block written" field. */
void *dl_update(struct dl *dl, int tab, void *row);
/* Create a zeroed row with the given key (which must be absent). */
void *dl_new_row(struct dl *dl, int tab, const void *key);
/* Insert a copy of a complete row (its key must be absent). */
void *dl_insert_row(struct dl *dl, int tab, const void *full);
void dl_del_row(struct dl *dl, int tab, void *row);
/* Drop a row from memory without a delta (archived: its changes are final). */
void dl_forget_row(struct dl *dl, int tab, void *row);
/* 1 if the undo journal holds an entry for (tab, key). */
int dl_journal_mentions(const struct dl *dl, int tab, const void *key);
/* Rows of a stored table, in no particular order: *pos starts at 0. */
void *dl_next_row(struct dl *dl, int tab, size_t *pos);

/*
 * Text for DL_TEXT fields: an immutable copy of s[0..n) owned by the state,
 * equal texts sharing one copy (so rows compare equal bytewise).  The copies
 * live as long as the state: put only entity-bound or low-cardinality text
 * in stored rows.
 */
const char *dl_text(struct dl *dl, const char *s, size_t n);

/* Field helpers for handlers: a JSON string felt / a non-negative integer of object obj. */
int dl_field_felt(struct dl *dl, int obj, const char *name, u256 *v);
/* The same for any 256-bit "0x…" value (EVM hashes, topics, addresses). */
int dl_field_h256(struct dl *dl, int obj, const char *name, u256 *v);
/* A block hash field: a felt, or any 256-bit value for a hash256 domain. */
int dl_field_block_hash(struct dl *dl, int obj, const char *name, u256 *v);

#endif
