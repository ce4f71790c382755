/*
 * sim.h -- ix-sim: a deterministic generator of rindexer stream messages
 * for the Intuition MultiVault, and its own model of the tables.
 */
#ifndef PL_IX_SIM_H
#define PL_IX_SIM_H

#include <stdint.h>
#include <stdio.h>

struct ix_sim_opts {
	uint64_t seed, blocks, accounts, chunk;
	const char *stream; /* for the records and the RESP commands */
	int resp;	    /* write redis-cli --pipe commands instead of records */
	uint64_t first_ms;  /* records: ids first_ms-0, first_ms+1-0, ... */
	FILE *model;	    /* the final state, or NULL */
	uint64_t reorgs;    /* reorg messages to emit (each replays the blocks above its fork) */
};

/* Write every message to out; 0, or -1 with err_msg() set. */
int ix_sim_run(const struct ix_sim_opts *o, FILE *out);

#endif
