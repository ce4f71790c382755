/*
 * redis-ack -- XACK each Redis message once pg-write committed it (common/redis/rack.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "redis/rack.h"
#include "redis/rdx.h"

static const char usage[] =
	"usage: redis-ack [options] STREAM...\n"
	"       redis-ack --skip ID [options] STREAM\n"
	"Reads pg-write's ack lines ({\"op\":\"ack\",\"driver_id\":D,\"seq\":S}) on stdin and, once they are\n"
	"there (after COMMIT), XACKs in group GROUP every pending entry of STREAM up to the message id of\n"
	"S (MS-N with S = MS * 2^16 + N): the pipeline's checkpoint orders the stream, so everything up\n"
	"to S is applied -- including entries re-delivered after a crash and skipped as already applied.\n"
	"Several streams (the same, in the same order, as redis-read's): D names the stream of the ack\n"
	"(D / 2^40); the streams before it are acked up to id(S), the ones after it below id(S).\n"
	"At the end of its input (the pipeline stopped), each message the apply filter refused (a reject\n"
	"line in --reject-file) is copied to the dead-letter stream, its stream, id and reason with it.\n"
	"--skip ID: the explicit way past a message the pipeline refused (a poison message): copies it to\n"
	"the dead-letter stream with reason 'skipped' and XACKs it; the next start goes on after it.\n"
	"\n"
	"  -u, --url URL           redis://HOST:PORT (default $REDIS_URL, else redis://127.0.0.1:6379)\n"
	"  -s, --socket PATH       a Unix socket instead (default $REDIS_SOCKET)\n"
	"  -g, --group NAME        consumer group (default $CONSUMER_GROUP, else postgres-sync)\n"
	"      --dead-letter NAME  dead-letter stream (default STREAM:dead)\n"
	"      --reject-file FILE  the run's reject lines (run-pipeline passes it: ACK_REJECTS=1)\n"
	"      --skip ID           skip message ID (see above) and exit\n"
	"  -h, --help              this text\n"
	"      --version           the version\n"
	"Exit: 0 at end of input or on SIGTERM, 64 usage, 65 a bad ack line or no such message, 70 Redis\n"
	"refused a command.\n";

enum { O_DEAD = OPT_LONG,
	O_SKIP,
	O_REJECT };
static const struct option longopts[] = {{"url", required_argument, NULL, 'u'}, {"socket", required_argument, NULL, 's'},
	{"group", required_argument, NULL, 'g'}, {"dead-letter", required_argument, NULL, O_DEAD},
	{"skip", required_argument, NULL, O_SKIP}, {"reject-file", required_argument, NULL, O_REJECT}, {NULL, 0, NULL, 0}};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	die_set_prog(argv[0]);
	struct rack_opts o = {0};
	const char *skip = NULL;
	o.url = getenv("REDIS_URL") && *getenv("REDIS_URL") ? getenv("REDIS_URL") : NULL;
	o.group = getenv("CONSUMER_GROUP") && *getenv("CONSUMER_GROUP") ? getenv("CONSUMER_GROUP") : "postgres-sync";
	o.socket = getenv("REDIS_SOCKET") && *getenv("REDIS_SOCKET") ? getenv("REDIS_SOCKET") : NULL;
	o.stop = &stop;
	struct opt op;
	opt_init(&op, argc, argv, longopts, "u:s:g:", usage);
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
		case O_DEAD:
			o.dead_letter = opt_str("--dead-letter", optarg);
			break;
		case O_SKIP:
			skip = opt_str("--skip", optarg);
			break;
		case O_REJECT:
			o.reject_file = opt_str("--reject-file", optarg);
			break;
		}
	}
	char **rest;
	int n = opt_rest(&op, &rest);
	if (n < 1)
		opt_usage_error("no STREAM given");
	if (skip && n != 1)
		opt_usage_error("--skip takes one STREAM (the message's)");
	if (n > RDX_MAX_STREAMS)
		opt_usage_error("too many streams");
	o.streams = (const char **)rest;
	o.nstreams = n;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	io_init_stdout();
	int r = skip ? rack_skip(&o, skip) : rack_run(&o);
	opt_free(&op);
	return r;
}
