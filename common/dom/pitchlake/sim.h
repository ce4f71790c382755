/*
 * sim.h -- chain-sim's engine: a deterministic generator of Pitchlake chains.
 *
 * It models vaults, liquidity providers, option rounds and option buyers
 * with the contract formulas (pitchlake-spec §6, Layout A, re-implemented
 * here independently of ep-apply, with GMP) and writes the event frames of
 * design.md §3.2 to stdout: one StartBlock frame per block, and, now and
 * then, a reorg (RevertBlock frames newest first, then replacement blocks at
 * the same heights).  Same options => byte-identical output.
 */
#ifndef PL_SIM_H
#define PL_SIM_H

#include <stdint.h>

struct sim_opts {
	uint64_t seed;
	unsigned vaults;	   /* vaults deployed over the first blocks */
	unsigned lps;		   /* liquidity providers per vault */
	unsigned buyers;	   /* option buyers per vault */
	uint64_t blocks;	   /* canonical blocks to produce; 0 = no limit */
	uint64_t events;	   /* stop after this many events; 0 = no limit */
	unsigned events_per_block; /* mean actions (~events) per block */
	unsigned reorg_rate;	   /* permille of blocks followed by a reorg */
	unsigned max_reorg_depth;  /* 1.. SIM_MAX_DEPTH */
	uint64_t start_block;	   /* number of the first block */
	uint64_t start_time;	   /* timestamp of the first block */
	const char *dump_state;	   /* NULL, or where to write the final state */
	int transfers;		   /* also emit ERC-20 Transfer noise */
	unsigned time_scale;	   /* multiplies round/auction/transition durations */
};

#define SIM_MAX_VAULTS 10000
#define SIM_MAX_MEMBERS 10000
#define SIM_MAX_ENTITIES 200000 /* vaults * (lps + buyers): bounds the memory */
#define SIM_MAX_DEPTH 64

struct sim_stats {
	uint64_t blocks;   /* StartBlock frames */
	uint64_t events;   /* events in StartBlock frames */
	uint64_t reorgs;   /* reorgs */
	uint64_t reverted; /* RevertBlock frames */
};

/* Fill o with the documented defaults. */
void sim_opts_default(struct sim_opts *o);

/*
 * Generate the whole stream described by o on stdout (io_out), then, if
 * o->dump_state is set, write the final model state there as sorted snapshot
 * put lines (docs/formats.md).  Dies on error (75 output, 78 dump file,
 * 70 internal).  Fills *st if it is not NULL.
 */
void sim_run(const struct sim_opts *o, struct sim_stats *st);

#endif
