/*
 * rpc-listen -- the source of an EVM pipeline: follows a chain over
 * JSON-RPC (eth_blockNumber, eth_getLogs, eth_getBlockByNumber) from the
 * database's checkpoint and writes event frames (docs/formats.md,
 * "rpc-listen") for the apply filter: historic sync in batches, then live
 * with confirmations; reorgs found by block hashes become RevertBlock
 * frames.  The logic is in common/rpc/.
 *
 *   rpc-listen --rpc-url URL [--rpc-url BACKUP]... --address ADDR [options] | stake-apply ... | pg-write
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "pg/pgconn.h"
#include "pg/pgresume.h"
#include "pg/pipeline.h"
#include "rpc/rpc.h"

static const char usage_text[] =
	"usage: rpc-listen --rpc-url URL [--rpc-url URL]... [--address ADDR]... [--topic0 HASH]...\n"
	"                  [--pipeline NAME] [--conninfo STR | --no-db] [--from-block N]\n"
	"                  [--confirmations N] [--batch N] [--window N] [--poll-interval MS]\n"
	"                  [--once | --until-block N] [--status-file FILE] [options]\n"
	"\n"
	"Follows an EVM chain over JSON-RPC and writes event frames (NDJSON,\n"
	"docs/formats.md \"rpc-listen\") on stdout: one StartBlock frame per block with\n"
	"logs of the given contracts and per batch end, a RevertBlock frame for every\n"
	"block it emitted that left the canonical chain (found by block hashes, newest\n"
	"first), then the replacements.  It resumes after the pipeline's checkpoint:\n"
	"the newest block of its undo journal (pl_journal_block) in the database.\n"
	"\n"
	"  --rpc-url URL          a JSON-RPC endpoint (repeat: the first is the primary,\n"
	"                         the others backups, in order); default $RPC_URL\n"
	"  --address ADDR         a contract whose logs are followed (repeatable; none: all)\n"
	"  --topic0 HASH          an accepted first topic (event selector; repeatable)\n"
	"  --pipeline NAME        the pipeline (default $PL_PIPELINE, or the only one)\n"
	"  -d, --conninfo STR     libpq connection string (default: PG* environment)\n"
	"  --no-db                no database: start at --from-block, no checkpoint\n"
	"  --from-block N         first block without a checkpoint (default 0)\n"
	"  --confirmations N      follow head - N (default 2)\n"
	"  --batch N              blocks per eth_getLogs (default 1000); halved on rate\n"
	"                         limits (HTTP 429, JSON-RPC -32005, too large) and errors,\n"
	"                         doubled back after 8 batches without one\n"
	"  --window N             recent blocks remembered for reorgs (default 64; at most\n"
	"                         the apply filter's --finality)\n"
	"  --poll-interval MS     wait when caught up (default 1000, at least 10)\n"
	"  --timeout MS           per request (default 10000)\n"
	"  --primary-retry MS     after a failover, try the primary again after MS (default 30000)\n"
	"  --backoff-min MS, --backoff-max MS\n"
	"                         retry delays: doubling from min to max, with jitter\n"
	"                         (default 100, 5000)\n"
	"  --max-response BYTES   largest response accepted (default 67108864; larger: the\n"
	"                         batch is halved)\n"
	"  --max-bad N            malformed or refused responses in a row before giving up\n"
	"                         (default 10)\n"
	"  --once                 stop once caught up with head - confirmations\n"
	"  --until-block N        stop once block N is emitted\n"
	"  --status-file FILE     rewrite FILE (atomically, each second) with a JSON line:\n"
	"                         head, block, lag, healthy, RPC counters\n"
	"  --stats-file FILE      rewrite FILE each second with \"name value\" lines for\n"
	"                         pl-status (docs/status.md): head_block, caught_up,\n"
	"                         healthy_lag_blocks, rpc_*_total counters\n"
	"  --healthy-lag N        healthy while head - block < N (default 100; pl-status\n"
	"                         applies it to the block committed)\n"
	"  --no-progress          no progress lines during historic sync\n"
	"  -h, --help             this text\n"
	"  --version              print the version\n"
	"\n"
	"exit status:\n"
	"  0   --once / --until-block done, or SIGTERM/SIGINT\n"
	"  64  usage error\n"
	"  65  a reorg deeper than --window, or an endpoint that keeps sending malformed\n"
	"      or refused responses (do not restart)\n"
	"  69  database unavailable (restart with backoff)\n"
	"  75  output error or lost database connection (restart)\n"
	"  78  configuration error (bad conninfo, unknown pipeline, missing schema)\n"
	"  141 downstream closed the pipe\n"
	"An endpoint that does not answer is retried forever (with backoff, failing\n"
	"over to the backups); after 5 consecutive errors an ALERT line is logged.\n";

enum {
	O_URL = OPT_LONG,
	O_ADDR,
	O_TOPIC,
	O_PIPELINE,
	O_NODB,
	O_FROM,
	O_CONF,
	O_BATCH,
	O_WINDOW,
	O_POLL,
	O_TIMEOUT,
	O_PRIMARY,
	O_BMIN,
	O_BMAX,
	O_MAXRESP,
	O_MAXBAD,
	O_ONCE,
	O_UNTIL,
	O_STATUS,
	O_LAG,
	O_STATSF,
	O_NOPROG,
};

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void parse_hex(const char *opt, const char *val, u256 *out, int address)
{
	if (u256_parse_hex(out, val, strlen(val)) < 0)
		die_code(EXIT_USAGE, "option '%s': %s", opt, err_msg());
	if (address && (out->w[3] || out->w[2] >> 32))
		die_code(EXIT_USAGE, "option '%s': '%s' is longer than 20 bytes", opt, val);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rpc-url", required_argument, NULL, O_URL},
		{"address", required_argument, NULL, O_ADDR},
		{"topic0", required_argument, NULL, O_TOPIC},
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"conninfo", required_argument, NULL, 'd'},
		{"no-db", no_argument, NULL, O_NODB},
		{"from-block", required_argument, NULL, O_FROM},
		{"confirmations", required_argument, NULL, O_CONF},
		{"batch", required_argument, NULL, O_BATCH},
		{"window", required_argument, NULL, O_WINDOW},
		{"poll-interval", required_argument, NULL, O_POLL},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"primary-retry", required_argument, NULL, O_PRIMARY},
		{"backoff-min", required_argument, NULL, O_BMIN},
		{"backoff-max", required_argument, NULL, O_BMAX},
		{"max-response", required_argument, NULL, O_MAXRESP},
		{"max-bad", required_argument, NULL, O_MAXBAD},
		{"once", no_argument, NULL, O_ONCE},
		{"until-block", required_argument, NULL, O_UNTIL},
		{"status-file", required_argument, NULL, O_STATUS},
		{"healthy-lag", required_argument, NULL, O_LAG},
		{"stats-file", required_argument, NULL, O_STATSF},
		{"no-progress", no_argument, NULL, O_NOPROG},
		{NULL, 0, NULL, 0},
	};
	char **urls = xcalloc((size_t)argc + 1, sizeof(*urls));
	int nurls = 0;
	struct rf_config cfg = {
		.addresses = xcalloc((size_t)argc + 1, sizeof(u256)),
		.topic0 = xcalloc((size_t)argc + 1, sizeof(u256)),
		.confirmations = 2,
		.batch = 1000,
		.window = 64,
		.poll_ms = 1000,
		.backoff_min_ms = 100,
		.backoff_max_ms = 5000,
		.progress = 1,
		.healthy_lag = 100,
		.max_bad = 10,
	};
	const char *conninfo = NULL, *pipeline = NULL;
	int nodb = 0;
	long timeout = 10000;
	uint64_t primary_retry = 30000, max_resp = 64u << 20;

	die_set_prog(argv[0]);
	struct opt op;
	opt_init(&op, argc, argv, longopts, "d:", usage_text);
	for (int c; (c = opt_next(&op)) != -1;) {
		switch (c) {
		case O_URL:
			urls[nurls++] = (char *)opt_str("--rpc-url", optarg);
			break;
		case O_ADDR:
			parse_hex("--address", optarg, &cfg.addresses[cfg.naddresses++], 1);
			break;
		case O_TOPIC:
			parse_hex("--topic0", optarg, &cfg.topic0[cfg.ntopic0++], 0);
			break;
		case O_PIPELINE:
			pipeline = opt_str("--pipeline", optarg);
			break;
		case 'd':
			conninfo = optarg;
			break;
		case O_NODB:
			nodb = 1;
			break;
		case O_FROM:
			cfg.from_block = opt_u64("--from-block", optarg, 0, INT64_MAX);
			break;
		case O_CONF:
			cfg.confirmations = opt_u64("--confirmations", optarg, 0, 1000000);
			break;
		case O_BATCH:
			cfg.batch = opt_u64("--batch", optarg, 1, 1000000);
			break;
		case O_WINDOW:
			cfg.window = opt_u64("--window", optarg, 1, 100000);
			break;
		case O_POLL:
			cfg.poll_ms = opt_u64("--poll-interval", optarg, 10, 3600000);
			break;
		case O_TIMEOUT:
			timeout = (long)opt_u64("--timeout", optarg, 10, 3600000);
			break;
		case O_PRIMARY:
			primary_retry = opt_u64("--primary-retry", optarg, 0, UINT32_MAX);
			break;
		case O_BMIN:
			cfg.backoff_min_ms = opt_u64("--backoff-min", optarg, 1, 3600000);
			break;
		case O_BMAX:
			cfg.backoff_max_ms = opt_u64("--backoff-max", optarg, 1, 3600000);
			break;
		case O_MAXRESP:
			max_resp = opt_u64("--max-response", optarg, 1024, SIZE_MAX);
			break;
		case O_MAXBAD:
			cfg.max_bad = opt_u64("--max-bad", optarg, 1, UINT32_MAX);
			break;
		case O_ONCE:
			cfg.once = 1;
			break;
		case O_UNTIL:
			cfg.until_block = opt_u64("--until-block", optarg, 1, INT64_MAX);
			break;
		case O_STATUS:
			cfg.status_file = opt_str("--status-file", optarg);
			break;
		case O_STATSF:
			cfg.stats_file = opt_str("--stats-file", optarg);
			break;
		case O_LAG:
			cfg.healthy_lag = opt_u64("--healthy-lag", optarg, 1, UINT32_MAX);
			break;
		case O_NOPROG:
			cfg.progress = 0;
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if (!nurls && getenv("RPC_URL") && *getenv("RPC_URL"))
		urls[nurls++] = getenv("RPC_URL");
	if (!nurls)
		die_code(EXIT_USAGE, "no endpoint: give --rpc-url URL (or set RPC_URL)");
	if (cfg.backoff_min_ms > cfg.backoff_max_ms)
		die_code(EXIT_USAGE, "--backoff-min is larger than --backoff-max");
	if (nodb && (conninfo || pipeline))
		die_code(EXIT_USAGE, "--no-db excludes --conninfo and --pipeline");

	struct rf_resume res = {0};
	struct pgr pr = {0};
	if (!nodb) {
		PGconn *conn = pgc_connect_or_die(conninfo, "rpc-listen", 30);
		struct pip pip;
		pip_resolve(conn, pipeline, &pip);
		if (pip.work_table)
			die_code(EXIT_CONFIG, "pipeline '%s' has a work table (%s): its source is pg-listen, not rpc-listen",
				pip.name, pip.work_table);
		pgr_load(conn, pip.name, cfg.window, &pr);
		pip_free(&pip);
		PQfinish(conn);
		res.have_cp = pr.have_cp;
		res.driver_id = pr.driver_id;
		res.seq = pr.seq;
		res.finalized = pr.finalized;
		res.blocks = xcalloc(pr.nblocks + 1, sizeof(*res.blocks));
		for (size_t i = 0; i < pr.nblocks; i++) {
			res.blocks[i].number = pr.blocks[i].number;
			if (u256_parse_hex(&res.blocks[i].hash, pr.blocks[i].hash, strlen(pr.blocks[i].hash)) < 0)
				die_code(EXIT_CONFIG, "the journal's block %llu has hash '%s': %s",
					(unsigned long long)pr.blocks[i].number, pr.blocks[i].hash, err_msg());
		}
		res.nblocks = pr.nblocks;
		free(pr.blocks);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	io_init_stdout();

	struct rpc *r = rpc_new(urls, nurls, timeout, primary_retry, (size_t)max_resp);
	int rc = rf_follow(r, &cfg, &res, &stop);
	rpc_free(r);
	free(res.blocks);
	free(cfg.addresses);
	free(cfg.topic0);
	free(urls);
	io_close_stdout();
	return rc;
}
