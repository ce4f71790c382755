/*
 * job-relay -- committed erc8004 jobs to the Redis list of agentauri's
 * action workers (docs/erc8004.md; logic in common/dom/erc8004/relay.c).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/opt.h"
#include "dom/erc8004/jobs.h"

static const char usage_text[] =
	"usage: job-relay [--conninfo STR] [--redis HOST:PORT | --redis-socket PATH] [--list NAME]\n"
	"                 [--types T,T] [--seen-ttl SECONDS] [--poll-interval MS] [--once]\n"
	"\n"
	"Move committed jobs of erc8004.job_queue, in queue order, to the Redis list of\n"
	"agentauri's workers (LPUSH, the seed's job body), at least once and idempotent\n"
	"by job id: one Lua call sets the key LIST:seen:ID (NX, with a TTL) and pushes\n"
	"only if it was not set.  Jobs of reverted blocks that were relayed are taken\n"
	"out of the list again (LREM) when no worker has popped them yet.\n"
	"\n"
	"options:\n"
	"  -d, --conninfo STR    libpq connection string or URI (default: PG* environment)\n"
	"  --redis HOST:PORT     Redis over TCP (default 127.0.0.1:6379)\n"
	"  --redis-socket PATH   Redis over a Unix socket\n"
	"  --list NAME           the list (default action_jobs)\n"
	"  --types T,T           only these action types (default: all; e.g. telegram,mcp\n"
	"                        when action-run executes the rest actions)\n"
	"  --seen-ttl SECONDS    lifetime of the idempotency keys (default 604800)\n"
	"  --poll-interval MS    look at the queue at least this often (default 1000)\n"
	"  --once                relay what is there, then exit 0\n"
	"  -h, --help            this text\n"
	"  --version             print the version\n"
	"\n"
	"exit status: 0 done (--once, SIGTERM), 64 usage, 69 database or Redis unavailable,\n"
	"75 connection lost (restart: nothing is pushed twice), 78 configuration\n";

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

enum { O_REDIS = OPT_LONG,
	O_SOCKET,
	O_LIST,
	O_TYPES,
	O_TTL,
	O_POLL,
	O_ONCE };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'd'},
		{"redis", required_argument, NULL, O_REDIS},
		{"redis-socket", required_argument, NULL, O_SOCKET},
		{"list", required_argument, NULL, O_LIST},
		{"types", required_argument, NULL, O_TYPES},
		{"seen-ttl", required_argument, NULL, O_TTL},
		{"poll-interval", required_argument, NULL, O_POLL},
		{"once", no_argument, NULL, O_ONCE},
		{NULL, 0, NULL, 0},
	};
	struct jr_opts o = {.redis_host = "127.0.0.1", .redis_port = 6379, .list = "action_jobs", .seen_ttl = 604800, .poll_ms = 1000};
	static char host[256], types[256];
	struct opt op;
	int c;
	die_set_prog(argv[0]);
	opt_init(&op, argc, argv, longopts, "d:", usage_text);
	while ((c = opt_next(&op)) != -1) {
		switch (c) {
		case 'd':
			o.conninfo = optarg;
			break;
		case O_REDIS: {
			const char *colon = strrchr(optarg, ':');
			if (!colon || colon == optarg || (size_t)(colon - optarg) >= sizeof host)
				die_code(EXIT_USAGE, "unable to use --redis '%s': want HOST:PORT", optarg);
			memcpy(host, optarg, (size_t)(colon - optarg));
			o.redis_host = host;
			o.redis_port = (int)opt_u64("--redis", colon + 1, 1, 65535);
			break;
		}
		case O_SOCKET:
			o.redis_socket = opt_str("--redis-socket", optarg);
			break;
		case O_LIST:
			o.list = opt_str("--list", optarg);
			break;
		case O_TYPES: {
			size_t n = strlen(optarg);
			if (n == 0 || n + 3 > sizeof types || strspn(optarg, "abcdefghijklmnopqrstuvwxyz,") != n)
				die_code(EXIT_USAGE, "unable to use --types '%s': want names like rest,mcp", optarg);
			types[0] = '{';
			memcpy(types + 1, optarg, n);
			types[n + 1] = '}';
			o.types = types;
			break;
		}
		case O_TTL:
			o.seen_ttl = (long)opt_u64("--seen-ttl", optarg, 1, 315360000);
			break;
		case O_POLL:
			o.poll_ms = (long)opt_u64("--poll-interval", optarg, 1, 3600000);
			break;
		case O_ONCE:
			o.once = 1;
			break;
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	return jr_run(&o, &stop);
}
