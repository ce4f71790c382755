/*
 * redis-read -- a Redis stream source: one consumer of a consumer group on
 * a rindexer stream, one event frame per message (common/redis/rread.c).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "redis/rdx.h"
#include "redis/rread.h"

static const char usage[] =
	"usage: redis-read [options] STREAM...\n"
	"       redis-read --replay FILE [STREAM...]\n"
	"       redis-read --newest | --history [options] STREAM...\n"
	"Joins consumer group GROUP on each STREAM (XGROUP CREATE ... MKSTREAM), and writes one event frame per\n"
	"message on stdout (docs/formats.md, \"Redis sources\"): the frame's seq is the message id MS-N as\n"
	"MS * 2^16 + N (with one stream its driver_id too; with several, driver_id is the stream's place\n"
	"among the arguments times 2^40, and the streams are merged in (id, place) order: a message is\n"
	"written once no other stream can still get a smaller id, by the server's clock), its events the\n"
	"message's event_data array in order; a\n"
	"__rindexer_reorg message becomes a RevertBlock frame with fork_block.  One consumer of a group\n"
	"reads at a time (a lease in Redis, STREAM:GROUP:lease); others wait as standbys (a standby that\n"
	"takes the lease exits 75: the formation restarts from a fresh snapshot); a second process\n"
	"with the same consumer name waits as a standby too while the first is connected.  On taking the\n"
	"lease it claims the pending entries of consumers gone for --claim-idle (XAUTOCLAIM), re-reads its\n"
	"pending entries in id order, then blocks for new ones (XREADGROUP ... BLOCK).  Nothing is kept on\n"
	"disk: what was applied already is skipped downstream by the pipeline's checkpoint.  Reconnects\n"
	"with capped backoff.  A message that cannot be framed is copied to the dead-letter stream and\n"
	"stops the source (exit 65, naming the stream and id); redis-ack --skip ID moves past it.\n"
	"\n"
	"  -u, --url URL           redis://HOST:PORT (default $REDIS_URL, else redis://127.0.0.1:6379)\n"
	"  -s, --socket PATH       a Unix socket instead (default $REDIS_SOCKET)\n"
	"  -g, --group NAME        consumer group (default $CONSUMER_GROUP, else postgres-sync)\n"
	"  -c, --consumer NAME     consumer name (default $CONSUMER_NAME, else consumer-HOST)\n"
	"      --count N           messages per read and stream (default $BATCH_SIZE, else 500)\n"
	"      --block MS          XREADGROUP BLOCK time (default 1000)\n"
	"      --claim-idle MS     on taking the lease, claim others' pending entries idle this long\n"
	"                          (default 0: the lease says their consumers are gone)\n"
	"      --lease MS          the lease's time to live (default 10000)\n"
	"      --dead-letter NAME  dead-letter stream (default STREAM:dead, for each stream)\n"
	"      --reject-file FILE  append a reject line for a bad message (the supervisor quarantines it)\n"
	"      --once              read what is there and exit 0\n"
	"      --newest            print \"SEQ DRIVER\" of the newest message of the streams (\"-\": none)\n"
	"                          and exit (run-pipeline's stall watchdog: BACKLOG in a pipeline conf)\n"
	"      --history           write the frames of every message of the streams (XRANGE: no group,\n"
	"                          nothing changed), merged, less the ones skipped with redis-ack --skip\n"
	"                          (pl-verify: HISTORY in a pipeline conf)\n"
	"      --replay FILE       offline: records {\"stream\",\"id\",\"payload\"} (ix-sim's output) to frames\n"
	"                          (STREAMs given: their driver_ids as in the pipeline of those streams)\n"
	"  -h, --help              this text\n"
	"      --version           the version\n"
	"STREAMs default to $REDIS_STREAMS (comma-separated); the lease is the first stream's.  Exit: 0 stopped (SIGTERM/SIGINT) or drained,\n"
	"64 usage, 65 bad message, 70 Redis refused a command, 75 output closed or the lease taken over.\n";

enum { O_COUNT = OPT_LONG,
	O_BLOCK,
	O_IDLE,
	O_LEASE,
	O_DEAD,
	O_ONCE,
	O_REPLAY,
	O_REJECT,
	O_NEWEST,
	O_HISTORY };
static const struct option longopts[] = {{"url", required_argument, NULL, 'u'}, {"socket", required_argument, NULL, 's'},
	{"group", required_argument, NULL, 'g'}, {"consumer", required_argument, NULL, 'c'},
	{"count", required_argument, NULL, O_COUNT}, {"block", required_argument, NULL, O_BLOCK},
	{"claim-idle", required_argument, NULL, O_IDLE}, {"lease", required_argument, NULL, O_LEASE},
	{"dead-letter", required_argument, NULL, O_DEAD}, {"once", no_argument, NULL, O_ONCE},
	{"replay", required_argument, NULL, O_REPLAY}, {"reject-file", required_argument, NULL, O_REJECT},
	{"newest", no_argument, NULL, O_NEWEST}, {"history", no_argument, NULL, O_HISTORY}, {NULL, 0, NULL, 0}};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	die_set_prog(argv[0]);
	struct rread_opts o = {0};
	const char *replay = NULL;
	int mode = 0; /* 1 --newest, 2 --history */
	o.url = env("REDIS_URL", NULL);
	o.socket = env("REDIS_SOCKET", NULL);
	o.group = env("CONSUMER_GROUP", "postgres-sync");
	o.consumer = env("CONSUMER_NAME", NULL);
	o.count = 500;
	if (getenv("BATCH_SIZE"))
		o.count = opt_u64("$BATCH_SIZE", getenv("BATCH_SIZE"), 1, 100000);
	o.block_ms = 1000;
	o.claim_idle_ms = 0;
	o.lease_ms = 10000;
	o.stop = &stop;
	struct opt op;
	opt_init(&op, argc, argv, longopts, "u:s:g:c:", usage);
	int c;
	while ((c = opt_next(&op)) != -1) {
		switch (c) {
		case 'u':
			o.url = opt_str("--url", optarg);
			break;
		case 's':
			o.socket = opt_str("--socket", optarg);
			break;
		case 'g':
			o.group = opt_str("--group", optarg);
			break;
		case 'c':
			o.consumer = opt_str("--consumer", optarg);
			break;
		case O_COUNT:
			o.count = opt_u64("--count", optarg, 1, 100000);
			break;
		case O_BLOCK:
			o.block_ms = opt_u64("--block", optarg, 1, 600000);
			break;
		case O_IDLE:
			o.claim_idle_ms = opt_u64("--claim-idle", optarg, 0, 86400000);
			break;
		case O_LEASE:
			o.lease_ms = opt_u64("--lease", optarg, 100, 3600000);
			break;
		case O_DEAD:
			o.dead_letter = opt_str("--dead-letter", optarg);
			break;
		case O_ONCE:
			o.once = 1;
			break;
		case O_REPLAY:
			replay = opt_str("--replay", optarg);
			break;
		case O_NEWEST:
			mode = 1;
			break;
		case O_HISTORY:
			mode = 2;
			break;
		case O_REJECT:
			o.reject_file = opt_str("--reject-file", optarg);
			break;
		}
	}
	char **rest;
	int nrest = opt_rest(&op, &rest);
	io_init_stdout();
	if (replay) {
		if (nrest > RDX_MAX_STREAMS)
			opt_usage_error("too many streams");
		int fd = strcmp(replay, "-") ? open(replay, O_RDONLY | O_CLOEXEC) : 0;
		if (fd < 0)
			die_errno(66, "unable to open %s", replay);
		int r = rread_replay(fd, (const char **)rest, nrest);
		if (fd > 0)
			close(fd);
		io_close_stdout();
		opt_free(&op);
		return r;
	}
	static char streams[4096], consumer[128];
	static const char *names[RDX_MAX_STREAMS];
	if (nrest > RDX_MAX_STREAMS)
		opt_usage_error("too many streams");
	if (nrest >= 1) {
		o.streams = (const char **)rest;
		o.nstreams = nrest;
	} else if (getenv("REDIS_STREAMS") && *getenv("REDIS_STREAMS")) {
		snprintf(streams, sizeof streams, "%s", getenv("REDIS_STREAMS"));
		for (char *p = streams, *q; p && *p && o.nstreams < RDX_MAX_STREAMS; p = q) {
			q = strchr(p, ',');
			if (q)
				*q++ = 0;
			if (*p)
				names[o.nstreams++] = p;
		}
		o.streams = names;
	}
	if (!o.nstreams)
		opt_usage_error("no STREAM given (and $REDIS_STREAMS is empty)");
	for (int i = 0; i < o.nstreams; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(o.streams[i], o.streams[j]))
				opt_usage_error("a STREAM given twice");
	if (!o.consumer) {
		char host[64] = "host";
		gethostname(host, sizeof host - 1);
		snprintf(consumer, sizeof consumer, "consumer-%s", host);
		o.consumer = consumer;
	}
	if (strlen(o.consumer) > RREAD_CONSUMER_MAX)
		opt_usage_error("--consumer: a name of at most 200 characters");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (mode) {
		/* one-shot: give up on an unreachable Redis after 10 s (exit 69) */
		sigaction(SIGALRM, &sa, NULL);
		alarm(10);
		int r = mode == 1 ? rread_newest(&o) : rread_history(&o);
		alarm(0);
		io_close_stdout();
		opt_free(&op);
		return r;
	}
	int r = rread_run(&o);
	io_close_stdout();
	opt_free(&op);
	if (r)
		die_code(r, "%s", err_msg());
	return 0;
}
