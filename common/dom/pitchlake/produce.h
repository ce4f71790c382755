/*
 * pgproduce.h -- the producer side of the pipeline, for tests, benchmarks
 * and the demo: read event frames (design.md 3.2, as chain-sim writes them)
 * and write them into PostgreSQL the way the Juno event-logger plugin does
 * (pitchlake-spec.md 2.5): per StartBlock frame one transaction inserting
 * the events, the starknet_blocks row and a StartBlock driver event; per
 * RevertBlock frame one transaction marking the block REVERTED and
 * inserting a RevertBlock driver event.
 *
 * Two halves: a frame parser (pgp_parse_*, no database) that collects one
 * frame into a struct pgp_frame, and the writer (pgp_open, pgp_write) that
 * commits it with prepared statements, the events of a block in one
 * INSERT ... SELECT FROM unnest(...) and the whole StartBlock transaction
 * in one round trip (libpq pipeline mode).
 */
#ifndef PL_PGPRODUCE_H
#define PL_PGPRODUCE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/io.h"
#include "core/json.h"
#include "num/u256.h"

enum pgp_kind {
	PGP_START,  /* StartBlock (or its alias NewBlock) */
	PGP_REVERT, /* RevertBlock */
};

/* One complete frame, with its events rendered as PostgreSQL array literals. */
struct pgp_frame {
	enum pgp_kind kind;
	int64_t driver_id;	   /* as in the frame (informational) */
	int64_t number, timestamp; /* the block */
	char hash[U256_HEX_MAX];   /* canonical felt */
	uint64_t begin_line;	   /* input line of the begin line */
	uint64_t end_line;	   /* input line of the end line */
	uint32_t nevents;
	/* Array literals without the outer braces: elements joined by ','. */
	struct sb nonces, vaults, names, keys, data, txs;
	/* Vaults with a ContractDeployed event in this block, NUL-separated,
	 * each once (canonical felts). */
	struct sb deployed;
	uint32_t ndeployed;
};

/* Frame parser state. */
struct pgp_parser {
	struct js js;
	struct sb tmp;
	struct sb line; /* the event line block-fetch would write (its length is checked) */
	int in_frame;
	struct pgp_frame f;
};

void pgp_parser_init(struct pgp_parser *p);
void pgp_parser_free(struct pgp_parser *p);

/*
 * Feed one input line (without '\n'; NUL-terminated at line[len]) numbered
 * lineno.  Returns 1 when the line ended a frame (p->f holds it until the
 * next call), 0 when more lines are needed, -1 on bad input with err_msg()
 * set to the reason (the caller adds the line number).  Rejected: anything
 * that is not a begin/event/end line in frame order, missing or mistyped
 * fields, felts that are not felts, events whose block differs from the
 * begin line's, an end line whose driver_id differs, CatchupVault
 * frames (the producer's catch-up is not simulated), and an event whose
 * line, as block-fetch will write it, would exceed FR_MAX_LINE (the
 * pipeline would stop at it later).  Felts are
 * normalised ("0x" + lowercase hex without leading zeros).  After -1 the
 * parser is in an unspecified state: stop feeding it.
 */
int pgp_parse_line(struct pgp_parser *p, const char *line, size_t len, uint64_t lineno);

/* 1 while inside a frame (EOF now would leave an incomplete frame). */
static inline int pgp_parser_in_frame(const struct pgp_parser *p)
{
	return p->in_frame;
}

/* Writer. */
struct pgp {
	PGconn *conn;
	int reg; /* --register: insert vault_registry rows for ContractDeployed */
};

/* What one committed transaction produced. */
struct pgp_result {
	int64_t driver_id; /* driver_events.id (RETURNING) */
	int64_t seq;	   /* driver_events.sequence_index */
	int64_t commit_ns; /* CLOCK_REALTIME right after COMMIT returned */
};

/*
 * Connect (pgc_connect_or_die: exit 78 bad conninfo / authentication, 69
 * unreachable for connect_timeout seconds) and prepare the statements
 * (exit 78 when the producer tables are missing: run pl-migrate).
 * reg: also register deployed vaults in vault_registry.
 */
void pgp_open(struct pgp *w, const char *conninfo, int connect_timeout, int reg);
void pgp_close(struct pgp *w);

/*
 * Commit frame f in one transaction, as the plugin would, and fill *res.
 *   StartBlock: INSERT the events (nonce, block, vault, name, keys, data,
 *     tx), INSERT starknet_blocks (parent_hash = the non-REVERTED block at
 *     number - 1, or "0x0"; status 'MINED'), with reg an upsert of
 *     vault_registry per deployed vault, INSERT driver_events
 *     ('StartBlock', hash) RETURNING id, sequence_index; COMMIT.
 *   RevertBlock: UPDATE starknet_blocks SET status = 'REVERTED' for the
 *     block (number and hash, not already REVERTED), INSERT driver_events
 *     ('RevertBlock', hash); COMMIT.  Events rows stay.
 * Dies on failure, nothing of the frame committed: 65 when the data is
 * refused (a block already stored, a RevertBlock of a block that is not a
 * live row, a value too long), 78 schema problems, 75 otherwise (lost
 * connection, other errors).
 */
void pgp_write(struct pgp *w, const struct pgp_frame *f, struct pgp_result *res);

#endif
