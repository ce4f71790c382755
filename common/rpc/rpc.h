/*
 * rpc.h -- an Ethereum JSON-RPC source: the response parser (rpc_parse.c,
 * fuzzed), an HTTP client with backup endpoints (rpc_http.c, libcurl), and
 * the chain follower behind rpc-listen (rpc_follow.c): historic sync in
 * batches, confirmations, reorgs by block hash, event frames out.
 *
 * Everything numeric is exact: quantities are parsed into uint64_t or
 * u256 from their hex text, never through double.
 */
#ifndef PL_RPC_H
#define PL_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "core/json.h"
#include "num/u256.h"

/* ------------------------------------------------------------ parser */

struct rpc_header {
	uint64_t number, timestamp;
	u256 hash, parent;
};

#define RPC_MAX_TOPICS 4

struct rpc_log {
	u256 address, block_hash, tx_hash;
	u256 topics[RPC_MAX_TOPICS];
	int ntopics;
	uint64_t block_number, tx_index, log_index;
	int has_timestamp; /* blockTimestamp (newer nodes send it) */
	uint64_t timestamp;
	int data; /* token of the "data" string (checked: 0x + an even number of hex digits) */
};

/* What a response (or one member of a batch response) holds. */
enum rpc_outcome {
	RPC_RESULT = 0, /* *result is the token of "result" */
	RPC_ERROR = 1,	/* *code is the JSON-RPC error code */
};

/*
 * The response object with this id: the root object, or the member of a
 * root array (a batch response, in any order).  -1 with error() set when
 * there is none or the text is not a JSON-RPC response.
 */
int rpcp_find(const struct js *js, uint64_t id);
/* The outcome of response object obj: RPC_RESULT or RPC_ERROR, or -1 (error()). */
int rpcp_outcome(const struct js *js, int obj, int *result, int64_t *code);
/* A QUANTITY: "0x" and 1 to 16 hex digits. 0 or -1 (error()). */
int rpcp_quantity(const struct js *js, int tok, struct sb *tmp, uint64_t *v);
/* A 256-bit DATA or QUANTITY string ("0x" and 1 to 64 hex digits). */
int rpcp_u256(const struct js *js, int tok, struct sb *tmp, u256 *v);
/* Member name of object obj as a QUANTITY / u256 (missing: error). */
int rpcp_get_quantity(const struct js *js, int obj, const char *name, struct sb *tmp, uint64_t *v);
int rpcp_get_u256(const struct js *js, int obj, const char *name, struct sb *tmp, u256 *v);
/* A block (eth_getBlockByNumber): 0, 1 when the result is null (no such block), -1 (error()). */
int rpcp_header(const struct js *js, int tok, struct sb *tmp, struct rpc_header *h);
/* One log object of eth_getLogs.  0 or -1 (error()). */
int rpcp_log(const struct js *js, int tok, struct sb *tmp, struct rpc_log *l);
/* Append the log's data (lowercase hex with 0x) as a JSON string. */
void rpcp_add_data(struct sb *out, const struct js *js, const struct rpc_log *l, struct sb *tmp);

/* ------------------------------------------------------------ client */

/* How a request went (rpc_http.c). */
enum rpc_status {
	RPC_OK = 0,
	RPC_DOWN,  /* no answer: connection, timeout, HTTP 5xx or other non-200 */
	RPC_BAD,   /* an answer that is not JSON (counts toward --max-bad) */
	RPC_LIMIT, /* rate limited or too much asked: HTTP 429, JSON-RPC -32005, response too large */
	RPC_FAULT, /* a JSON-RPC error for this request (code in rpc->last_code) */
};

struct rpc_stats {
	uint64_t requests, errors, limited, failovers, returns;
};

struct rpc;

/*
 * A client of urls[0] (the primary) and the backups after it.  timeout_ms:
 * per request; primary_retry_ms: how long after a failover the primary is
 * tried again; max_body: the largest response accepted (larger: RPC_LIMIT).
 */
struct rpc *rpc_new(char **urls, int nurls, long timeout_ms, uint64_t primary_retry_ms, size_t max_body);
void rpc_free(struct rpc *r);
/*
 * POST body (one request or a batch) to the current endpoint; on success
 * js holds the parsed response.  A request that is not answered moves on to
 * the next endpoint for the following call (failover); a warning names it.
 */
int rpc_post(struct rpc *r, const char *body, size_t len, struct js *js);
/* Move the last response's text into *into (swapping buffers), so that the
 * tokens of js stay valid across the next rpc_post. */
void rpc_take_body(struct rpc *r, struct sb *into);
const char *rpc_endpoint(const struct rpc *r);
int rpc_endpoint_index(const struct rpc *r);
int rpc_nendpoints(const struct rpc *r);
const struct rpc_stats *rpc_stats(const struct rpc *r);
int64_t rpc_last_code(const struct rpc *r);

/* ------------------------------------------------------------ follower */

struct rf_block {
	uint64_t number;
	u256 hash;
};

struct rf_config {
	u256 *addresses; /* contracts whose logs are followed (none: every contract) */
	int naddresses;
	u256 *topic0; /* first topics accepted (none: all) */
	int ntopic0;
	uint64_t from_block;	/* where to start without a checkpoint */
	uint64_t confirmations; /* follow head - N */
	uint64_t batch;		/* blocks per eth_getLogs */
	uint64_t window;	/* recent blocks remembered for reorgs */
	uint64_t poll_ms;	/* between polls when caught up */
	uint64_t backoff_min_ms, backoff_max_ms;
	uint64_t until_block; /* stop (exit 0) once this block is emitted; 0: never */
	int once;	      /* stop once caught up with head - confirmations */
	int progress;	      /* progress lines on stderr during historic sync */
	const char *status_file;
	const char *stats_file; /* pl-stats lines for pl-status (docs/status.md) */
	uint64_t healthy_lag;	/* healthy while head - emitted < this */
	uint64_t max_bad;	/* consecutive malformed responses before giving up */
};

/* The checkpoint the database says (rpc-listen reads it at start). */
struct rf_resume {
	int have_cp;
	int64_t driver_id, seq;
	uint64_t finalized;	 /* blocks at or below are final (journal pruned) */
	struct rf_block *blocks; /* the journal's newest blocks, oldest first */
	size_t nblocks;
};

/*
 * Follow the chain and write event frames to stdout (docs/formats.md,
 * "rpc-listen").  Returns an exit code: 0 (--once, --until-block, stop
 * requested), or dies: 65 on a reorg deeper than the window or a node
 * that keeps answering nonsense, 69 when no endpoint answers for too long.
 * *stop is polled between requests (signals).
 */
int rf_follow(struct rpc *r, const struct rf_config *cfg, const struct rf_resume *res, volatile int *stop);

#endif
