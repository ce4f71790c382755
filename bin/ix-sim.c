/*
 * ix-sim -- deterministic rindexer messages for the Intuition MultiVault,
 * and the model of the tables they must produce (common/dom/intuition/sim.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/die.h"
#include "core/opt.h"
#include "dom/intuition/sim.h"

static const char usage[] =
	"usage: ix-sim [options]\n"
	"Writes the messages rindexer writes into Redis for a generated history of the Intuition\n"
	"MultiVault (atoms, triples, deposits, redeems, share prices, other events): one message per\n"
	"event type and block range, event_data chunked, log indexes as hex strings, uint256 as\n"
	"decimal strings.  Default output: one record per message,\n"
	"  {\"stream\":\"S\",\"id\":\"<ms>-0\",\"payload\":{...}}\n"
	"(the format redis-read --replay reads); with --resp, XADD commands for redis-cli --pipe.\n"
	"Same options => same bytes.\n"
	"\n"
	"  --seed N        random seed (default 1)\n"
	"  --blocks N      blocks to generate (default 200)\n"
	"  --accounts N    depositing accounts (default 8)\n"
	"  --chunk N       events per message at most (default 40)\n"
	"  --stream NAME   the stream (default intuition)\n"
	"  --first-ms N    records: the first id is N+1-0 (default 1000)\n"
	"  --reorgs N      about N reorgs: orphan blocks, then __rindexer_reorg (default 0)\n"
	"  --resp          write redis-cli --pipe commands (XADD NAME * payload JSON)\n"
	"  --model FILE    write the model: the rows the base and analytics tables must hold\n"
	"  -h, --help      this text\n"
	"      --version   the version\n";

enum { O_SEED = OPT_LONG,
	O_BLOCKS,
	O_ACCOUNTS,
	O_CHUNK,
	O_STREAM,
	O_FIRST,
	O_RESP,
	O_MODEL,
	O_REORGS };
static const struct option longopts[] = {{"seed", required_argument, NULL, O_SEED},
	{"blocks", required_argument, NULL, O_BLOCKS}, {"accounts", required_argument, NULL, O_ACCOUNTS},
	{"chunk", required_argument, NULL, O_CHUNK}, {"stream", required_argument, NULL, O_STREAM},
	{"first-ms", required_argument, NULL, O_FIRST}, {"resp", no_argument, NULL, O_RESP},
	{"model", required_argument, NULL, O_MODEL}, {"reorgs", required_argument, NULL, O_REORGS}, {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	die_set_prog(argv[0]);
	struct ix_sim_opts o = {1, 200, 8, 40, "intuition", 0, 1000, NULL, 0};
	const char *model = NULL;
	struct opt op;
	opt_init(&op, argc, argv, longopts, "", usage);
	int c;
	while ((c = opt_next(&op)) != -1) {
		switch (c) {
		case O_SEED:
			o.seed = opt_u64("--seed", optarg, 0, UINT64_MAX);
			break;
		case O_BLOCKS:
			o.blocks = opt_u64("--blocks", optarg, 1, 100000000);
			break;
		case O_ACCOUNTS:
			o.accounts = opt_u64("--accounts", optarg, 1, 100000);
			break;
		case O_CHUNK:
			o.chunk = opt_u64("--chunk", optarg, 1, 100000);
			break;
		case O_STREAM:
			o.stream = opt_str("--stream", optarg);
			break;
		case O_FIRST:
			o.first_ms = opt_u64("--first-ms", optarg, 0, 1ULL << 42);
			break;
		case O_RESP:
			o.resp = 1;
			break;
		case O_REORGS:
			o.reorgs = opt_u64("--reorgs", optarg, 0, 1000000);
			break;
		case O_MODEL:
			model = opt_str("--model", optarg);
			break;
		}
	}
	opt_no_operands(&op);
	if (model && !(o.model = fopen(model, "w")))
		die_code(73, "unable to open '%s' for writing", model);
	ix_sim_run(&o, stdout);
	if (fflush(stdout) || ferror(stdout))
		die_code(75, "unable to write the messages");
	if (o.model && fclose(o.model))
		die_code(73, "unable to write '%s'", model);
	opt_free(&op);
	return 0;
}
