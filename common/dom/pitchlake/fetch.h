/*
 * pgfetch.h -- the database side of block-fetch: look blocks up in
 * starknet_blocks, read a block's or a vault range's events from the
 * producer's events table with prepared statements, and render them as
 * event lines (design.md 3.2) with every felt normalised.
 */
#ifndef PL_PGFETCH_H
#define PL_PGFETCH_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/io.h"
#include "core/json.h"
#include "num/u256.h"

struct pgf {
	PGconn *conn;
	int batch;     /* events per CatchupVault query */
	struct js js;  /* scratch for keys/data arrays */
	struct sb tmp; /* scratch for unescaping */
	PGresult *ev;  /* events of block ev_hash, fetched ahead by pgf_block_prefetch */
	char *ev_hash;
	/* --shard K/N: only the events of vaults in shard K of N (N 0: all) */
	int shard_index, shard_count;
};

/*
 * The shard of a vault among n (n >= 1): the low 60 bits of its address
 * (the last 15 hex digits) modulo n, as sql/025's pl_shard_of.  -1 when
 * the address is not a felt (err_msg()).
 */
int pgf_shard_of(const char *addr, size_t len, int n);
/* 1 when the vault is f's to serve (no shard set, or in f's shard); -1 bad address. */
int pgf_in_shard(const struct pgf *f, const char *addr, size_t len);

/* A starknet_blocks row. */
struct pgf_block {
	int64_t number, timestamp;
	int reverted; /* status = 'REVERTED' */
	int64_t head; /* the chain head: highest block_number not REVERTED (-1: none) */
};

/*
 * Connect (pgc_connect_or_die: exit 78 / 69) and prepare the statements
 * (exit 78 when the schema is missing).  batch: rows per range query.
 */
void pgf_open(struct pgf *f, const char *conninfo, int connect_timeout, int batch);
void pgf_close(struct pgf *f);

/*
 * Look a block up by its (normalised) hash.  1 and *b filled when found,
 * 0 when there is no row, -1 when the row is unusable (err_msg()).
 * Database failures die (75 when the connection is lost).
 */
int pgf_block(struct pgf *f, const char *hash, struct pgf_block *b);
/* pgf_block, and the block's events in the same round trip (pipeline mode),
 * kept for the pgf_block_events call of the same hash that follows. */
int pgf_block_prefetch(struct pgf *f, const char *hash, struct pgf_block *b);

/*
 * The number of a block that has no starknet_blocks row, taken from the
 * events stored under its hash (the producer stores a vault's deployment
 * block that way).  1 found, 0 not found, -1 unusable (err_msg()).
 */
int pgf_block_number_from_events(struct pgf *f, const char *hash, int64_t *number);

/*
 * Append an event line per event stored under block hash, ordered by
 * (vault_address, event_nonce), each carrying block number b->number and
 * timestamp b->timestamp.  0, or -1 with err_msg() on bad stored data.
 */
int pgf_block_events(struct pgf *f, const char *hash, const struct pgf_block *b, struct sb *out);

/*
 * Append an event line per event of vault with start <= block_number <= end,
 * in chain order (block_number, event_nonce), over the chain as it was at
 * the work item (item_seq, item_id): blocks reverted by earlier items
 * (or REVERTED without a RevertBlock item) and blocks announced by later
 * items are left out, blocks reverted by later items count; blocks
 * without a starknet_blocks row are left out too -- except the block
 * start_hash, whose events count even without a row (timestamp 0).
 * Reads f->batch rows per query (keyset pagination); after each query, if
 * out holds more than flush_at bytes, it is written with io_out() and
 * reset (flush_at 0: never).  0, or -1 with err_msg() on bad stored data.
 */
int pgf_vault_events(struct pgf *f, const char *vault, const char *start_hash, int64_t start,
	int64_t end, int64_t item_seq, int64_t item_id, struct sb *out, size_t flush_at);

/*
 * Append a JSON array of the block hashes of the run of RevertBlock items
 * that starts at item (item_seq, item_id) -- the whole reorg, newest block
 * first, as far as it is written now.  0, or -1 with err_msg().
 */
int pgf_reorg(struct pgf *f, int64_t item_seq, int64_t item_id, struct sb *out);

/* Append the canonical form of felt text s[0..n) ("0x" + lowercase hex
 * without leading zeros) as a JSON string.  -1 with err_msg() if not a felt. */
int pgf_add_felt(struct sb *out, const char *s, size_t n);

#endif
