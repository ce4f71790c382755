/*
 * pgresume.h -- where a source that has no work table (rpc-listen) resumes:
 * the pipeline's checkpoint and the newest blocks of its undo journal
 * (their numbers and hashes: what was applied, for reorg detection).
 */
#ifndef PL_PGRESUME_H
#define PL_PGRESUME_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct pgr_block {
	uint64_t number;
	char hash[80]; /* as stored: "0x…" */
};

struct pgr {
	int have_cp;
	int64_t driver_id, seq;
	uint64_t finalized;
	struct pgr_block *blocks; /* oldest first; free() it */
	size_t nblocks;
};

/*
 * Read the checkpoint and at most max journal blocks (the newest) of the
 * pipeline in one REPEATABLE READ transaction.  Dies: 75 on a lost
 * connection, 78 when the schema is missing.
 */
void pgr_load(PGconn *conn, const char *pipeline, size_t max, struct pgr *out);

#endif
