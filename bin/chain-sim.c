/*
 * chain-sim -- generate a deterministic, realistic Pitchlake chain as event
 * frames (design.md §3.2): vaults, deposits, auctions, bids, settlements,
 * and reorgs.  An independent model of the contract maths, used to
 * differential-test ep-apply.  The engine is common/dom/pitchlake/sim*.c.
 */
#include <stdio.h>
#include <time.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "dom/pitchlake/sim.h"

static const char usage_text[] =
	"usage: chain-sim [options]\n"
	"       chain-sim --help | --version\n"
	"\n"
	"Write a deterministic Pitchlake chain (Layout A events) to stdout as event\n"
	"frames: one StartBlock frame per block; with reorgs, RevertBlock frames\n"
	"(newest first, repeating the reverted block's events) followed by\n"
	"replacement blocks at the same heights.  Same options => same bytes.\n"
	"\n"
	"  --seed N               random seed (default 1)\n"
	"  --vaults N             vaults, deployed over the first blocks (default 3)\n"
	"  --lps N                liquidity providers per vault (default 5); the same\n"
	"                         accounts serve every vault\n"
	"  --buyers N             option buyers per vault (default 4); vaults *\n"
	"                         (lps + buyers) is at most 200000\n"
	"  --blocks N             stop when the chain has N blocks (default 200,\n"
	"                         unless --events is given)\n"
	"  --events N             stop at the end of the first block that brings the\n"
	"                         number of generated events to N or more (events of\n"
	"                         RevertBlock frames are not counted); with --blocks,\n"
	"                         whichever limit is reached first\n"
	"  --time-scale K         multiply the vaults' round, auction and transition\n"
	"                         durations by K (default 1: short rounds, many phase\n"
	"                         changes; large K: long rounds, as on chain)\n"
	"  --events-per-block N   mean actions per block, each one or two events\n"
	"                         (default 6); phase changes come on top\n"
	"  --reorg-rate PERMILLE  blocks followed by a reorg, per mille (default 20)\n"
	"  --max-reorg-depth N    blocks reverted by one reorg, at most (default 3,\n"
	"                         at most 64)\n"
	"  --no-reorgs            same as --reorg-rate 0\n"
	"  --start-block N        number of the first block (default 1000)\n"
	"  --start-time T         timestamp of the first block (default 1735711223)\n"
	"  --transfers            also emit ERC-20 Transfer events (to be ignored)\n"
	"  --dump-state FILE      at the end, write the final state as sorted snapshot\n"
	"                         put lines (VaultStates, Liquidity_Providers,\n"
	"                         Option_Rounds, Queued_Liquidity, Option_Buyers, Bids)\n"
	"  --stats                print counts and the rate on stderr at the end\n"
	"  -h, --help             show this help\n"
	"  --version              print the version\n"
	"\n"
	"Exit codes: 0 done; 64 usage; 70 internal error; 75 unable to write\n"
	"(stdout or the dump file); 78 unable to create the dump file.\n";

enum {
	O_SEED = OPT_LONG,
	O_VAULTS,
	O_LPS,
	O_BUYERS,
	O_BLOCKS,
	O_EVENTS,
	O_EPB,
	O_RATE,
	O_DEPTH,
	O_NOREORG,
	O_START_BLOCK,
	O_START_TIME,
	O_TRANSFERS,
	O_DUMP,
	O_STATS,
	O_TIME_SCALE,
};

static const struct option longopts[] = {
	{"seed", required_argument, NULL, O_SEED},
	{"vaults", required_argument, NULL, O_VAULTS},
	{"lps", required_argument, NULL, O_LPS},
	{"buyers", required_argument, NULL, O_BUYERS},
	{"blocks", required_argument, NULL, O_BLOCKS},
	{"events", required_argument, NULL, O_EVENTS},
	{"events-per-block", required_argument, NULL, O_EPB},
	{"reorg-rate", required_argument, NULL, O_RATE},
	{"max-reorg-depth", required_argument, NULL, O_DEPTH},
	{"no-reorgs", no_argument, NULL, O_NOREORG},
	{"start-block", required_argument, NULL, O_START_BLOCK},
	{"start-time", required_argument, NULL, O_START_TIME},
	{"transfers", no_argument, NULL, O_TRANSFERS},
	{"dump-state", required_argument, NULL, O_DUMP},
	{"stats", no_argument, NULL, O_STATS},
	{"time-scale", required_argument, NULL, O_TIME_SCALE},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct sim_opts o;
	int stats = 0, no_reorgs = 0;
	const uint64_t big = UINT64_C(1) << 62;

	die_set_prog(argv[0]);
	sim_opts_default(&o);
	struct opt op;
	opt_init(&op, argc, argv, longopts, "", usage_text);
	for (int c; (c = opt_next(&op)) != -1;) {
		switch (c) {
		case O_SEED:
			o.seed = opt_u64("--seed", optarg, 0, UINT64_MAX);
			break;
		case O_VAULTS:
			o.vaults = (unsigned)opt_u64("--vaults", optarg, 1, SIM_MAX_VAULTS);
			break;
		case O_LPS:
			o.lps = (unsigned)opt_u64("--lps", optarg, 1, SIM_MAX_MEMBERS);
			break;
		case O_BUYERS:
			o.buyers = (unsigned)opt_u64("--buyers", optarg, 1, SIM_MAX_MEMBERS);
			break;
		case O_BLOCKS:
			o.blocks = opt_u64("--blocks", optarg, 1, big);
			break;
		case O_EVENTS:
			o.events = opt_u64("--events", optarg, 1, big);
			break;
		case O_TIME_SCALE:
			o.time_scale = (unsigned)opt_u64("--time-scale", optarg, 1, 100000);
			break;
		case O_EPB:
			o.events_per_block = (unsigned)opt_u64("--events-per-block", optarg, 0, 100000);
			break;
		case O_RATE:
			o.reorg_rate = (unsigned)opt_u64("--reorg-rate", optarg, 0, 1000);
			break;
		case O_DEPTH:
			o.max_reorg_depth = (unsigned)opt_u64("--max-reorg-depth", optarg, 1, SIM_MAX_DEPTH);
			break;
		case O_NOREORG:
			no_reorgs = 1;
			break;
		case O_START_BLOCK:
			o.start_block = opt_u64("--start-block", optarg, 0, big);
			break;
		case O_START_TIME:
			o.start_time = opt_u64("--start-time", optarg, 0, big);
			break;
		case O_TRANSFERS:
			o.transfers = 1;
			break;
		case O_DUMP:
			o.dump_state = opt_str("--dump-state", optarg);
			break;
		case O_STATS:
			stats = 1;
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if ((uint64_t)o.vaults * (o.lps + o.buyers) > SIM_MAX_ENTITIES)
		opt_usage_error("unable to use --vaults %u with --lps %u and --buyers %u: too many accounts (vaults * (lps + buyers) > %d)",
			o.vaults, o.lps, o.buyers, SIM_MAX_ENTITIES);
	if (no_reorgs)
		o.reorg_rate = 0;
	if (!o.blocks && !o.events)
		o.blocks = 200;

	io_init_stdout();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sim_stats st;
	sim_run(&o, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	io_close_stdout();
	if (stats) {
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		note("%llu blocks, %llu events, %llu reorgs (%llu blocks reverted) in %.3fs: %.0f events/s",
			(unsigned long long)st.blocks, (unsigned long long)st.events,
			(unsigned long long)st.reorgs, (unsigned long long)st.reverted, secs,
			secs > 0 ? (double)st.events / secs : 0.0);
	}
	return 0;
}
