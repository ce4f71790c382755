/*
 * action-run -- execute the "rest" actions of erc8004.job_queue
 * (docs/erc8004.md; logic in common/dom/erc8004/run.c).
 */
#include <signal.h>
#include <stdlib.h>

#include "core/die.h"
#include "core/opt.h"
#include "dom/erc8004/jobs.h"

static const char usage_text[] =
	"usage: action-run [--conninfo STR] [--max-attempts N] [--backoff-ms MS] [--backoff-max-ms MS]\n"
	"                  [--timeout-ms MS] [--lease SECONDS] [--poll-interval MS] [--once]\n"
	"\n"
	"Execute the rest actions of erc8004.job_queue: claim one runnable job at a time\n"
	"(FOR UPDATE SKIP LOCKED: run as many workers as you like), POST its body (the\n"
	"seed's job) to the action's config.url with an Idempotency-Key header (the job\n"
	"id), record every attempt in action_results, retry with exponential backoff\n"
	"and leave the job 'dead' after the last attempt.  A claim is a lease: a worker\n"
	"that dies mid-call is replaced when it expires (at least once).\n"
	"\n"
	"options:\n"
	"  -d, --conninfo STR     libpq connection string or URI (default: PG* environment)\n"
	"  --max-attempts N       attempts before a job is dead (default 5)\n"
	"  --backoff-ms MS        delay after the first failure, doubling (default 1000)\n"
	"  --backoff-max-ms MS    longest delay (default 60000)\n"
	"  --timeout-ms MS        per HTTP request (default 5000)\n"
	"  --lease SECONDS        a claim's lifetime (default 60; more than the timeout)\n"
	"  --poll-interval MS     look at the queue at least this often (default 1000)\n"
	"  --once                 run until no rest job is pending or waiting for a retry\n"
	"  -h, --help             this text\n"
	"  --version              print the version\n"
	"\n"
	"exit status: 0 done (--once, SIGTERM), 64 usage, 69 database unavailable,\n"
	"75 connection lost (restart), 78 configuration\n";

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

enum { O_MAX = OPT_LONG,
	O_BACKOFF,
	O_BACKOFF_MAX,
	O_TIMEOUT,
	O_LEASE,
	O_POLL,
	O_ONCE };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'd'},
		{"max-attempts", required_argument, NULL, O_MAX},
		{"backoff-ms", required_argument, NULL, O_BACKOFF},
		{"backoff-max-ms", required_argument, NULL, O_BACKOFF_MAX},
		{"timeout-ms", required_argument, NULL, O_TIMEOUT},
		{"lease", required_argument, NULL, O_LEASE},
		{"poll-interval", required_argument, NULL, O_POLL},
		{"once", no_argument, NULL, O_ONCE},
		{NULL, 0, NULL, 0},
	};
	struct ar_opts o = {.max_attempts = 5, .backoff_ms = 1000, .backoff_max_ms = 60000, .timeout_ms = 5000, .lease_s = 60, .poll_ms = 1000};
	struct opt op;
	int c;
	die_set_prog(argv[0]);
	opt_init(&op, argc, argv, longopts, "d:", usage_text);
	while ((c = opt_next(&op)) != -1) {
		switch (c) {
		case 'd':
			o.conninfo = optarg;
			break;
		case O_MAX:
			o.max_attempts = (long)opt_u64("--max-attempts", optarg, 1, 1000);
			break;
		case O_BACKOFF:
			o.backoff_ms = (long)opt_u64("--backoff-ms", optarg, 0, 86400000);
			break;
		case O_BACKOFF_MAX:
			o.backoff_max_ms = (long)opt_u64("--backoff-max-ms", optarg, 0, 86400000);
			break;
		case O_TIMEOUT:
			o.timeout_ms = (long)opt_u64("--timeout-ms", optarg, 1, 3600000);
			break;
		case O_LEASE:
			o.lease_s = (long)opt_u64("--lease", optarg, 1, 86400);
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
	return ar_run(&o, &stop);
}
