/*
 * block-fetch -- turn driver-event lines (design.md 3.1, from pg-listen) into
 * event frames (design.md 3.2, for ep-apply): for each work item, read its
 * block and events from the producer's starknet_blocks and events tables.
 *
 *   StartBlock / NewBlock, RevertBlock: the block's events, ordered by
 *     (vault_address, event_nonce); the begin line has the block's number and
 *     timestamp (for RevertBlock whatever the block's status).
 *   --shard K/N (or the shard of the --pipeline's registry row, sql/025):
 *     only the events of the vaults in shard K of N (pgf_shard_of); every
 *     item still yields its frame, empty when none of its events is ours.
 *   CatchupVault: the vault's events from the start block (inclusive: the
 *     producer stores the deployment block's events there without ever
 *     sending a driver event for them; ep-apply skips blocks it has applied)
 *     to the end block, in chain order, without REVERTED blocks; the begin
 *     line carries the end block.
 *
 * A frame is written only once complete (one io_out), except a CatchupVault
 * frame larger than FLUSH_AT, which is streamed (a reader discards a partial
 * frame).  A driver event that cannot be served (unknown block, bad stored
 * data, unparseable line) stops the program with exit 65 after recording it
 * in pl_quarantine.  Stateless: EOF on stdin ends it with exit 0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "core/opt.h"
#include "dom/pitchlake/fetch.h"
#include "frame/frame.h"
#include "pg/pgconn.h"
#include "pg/pipeline.h"
#include "num/u256.h"

#define MAX_LINE FR_MAX_LINE
#define FLUSH_AT (8u << 20)

static const char usage_text[] =
	"usage: block-fetch [--pipeline NAME] [--conninfo STR] [--batch N] [--head] [--shard K/N]\n"
	"                   [--connect-timeout SECONDS] <driver-events >frames\n"
	"       block-fetch --help | --version\n"
	"\n"
	"Read driver-event lines (pg-listen) on stdin and write one event frame per line\n"
	"(begin, events, end) on stdout, with the events read from the producer's tables.\n"
	"\n" OPT_CONN_USAGE
	"  --pipeline NAME            whose quarantine refused items go to (default:\n"
	"                             $PL_PIPELINE, else pitchlake)\n"
	"  --batch N                  events per query for CatchupVault ranges (default 10000)\n"
	"  --head                     tell downstream the chain head: \"head\" on the begin line\n"
	"                             of StartBlock frames whose block is not REVERTED\n"
	"                             (docs/formats.md: blocks that deep need no undo journal)\n"
	"  --shard K/N                only the events of the vaults in shard K of N (0 <= K < N):\n"
	"                             the low 60 bits of the vault address modulo N (docs/scaling.md);\n"
	"                             default: the shard of --pipeline in pl_pipeline, else all\n"
	"                             (--connect-timeout default 60)\n"
	"  --log-level LEVEL          error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --help                     this text\n"
	"  --version                  print the version\n"
	"\n"
	"exit codes: 0 done (EOF); 64 usage; 65 bad input data: an unparseable line or a\n"
	"driver event naming an unknown block (recorded in pl_quarantine; do not restart);\n"
	"69 database unavailable; 70 internal error; 75 transient failure (connection lost,\n"
	"output failed); 78 configuration (bad conninfo, schema not migrated)\n";

enum {
	O_CONNINFO = OPT_LONG,
	O_BATCH,
	O_CONNECT_TIMEOUT,
	O_HEAD,
	O_PIPELINE,
	O_SHARD,
};

static const struct option longopts[] = {
	OPT_CONN_LONGOPTS,
	{"pipeline", required_argument, NULL, O_PIPELINE},
	{"batch", required_argument, NULL, O_BATCH},
	{"head", no_argument, NULL, O_HEAD},
	{"shard", required_argument, NULL, O_SHARD},
	{NULL, 0, NULL, 0},
};

enum kind {
	K_BLOCK,
	K_REVERT,
	K_CATCHUP,
};

struct dev {
	int64_t id, seq; /* -1 while unknown */
	enum kind kind;
	const char *type; /* as given (NewBlock stays NewBlock) */
	char block_hash[U256_HEX_MAX], start_hash[U256_HEX_MAX], end_hash[U256_HEX_MAX],
		vault[U256_HEX_MAX];
	/* pl_prev: the work item just before this one (pg-listen); copied to the frame */
	int has_prev, prev_none;
	int64_t prev_driver, prev_seq;
	int parsed; /* the line parsed: a failure now is data missing, not syntax */
};

static struct pgf fetch;
static int with_head;	     /* --head */
static const char *cur_line; /* the input line, for the quarantine row */
static size_t cur_len;
static const char *pipeline; /* --pipeline: whose quarantine (default $PL_PIPELINE, else pitchlake) */

/* Record the driver event in pl_quarantine, then die with 65. */
static _Noreturn void fail(const struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fail(const struct dev *d, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (pgc_quarantine_n(fetch.conn, pip_default_name(pipeline) ? pip_default_name(pipeline) : "pitchlake", "block-fetch",
		    d->parsed ? "missing" : "syntax", d->id, d->seq, msg, cur_line, cur_len) < 0)
		warn("unable to record the driver event in pl_quarantine: %s", err_msg());
	die_code(EXIT_DATAERR, "%s", msg);
}

/* A felt member, normalised into out.  required: absent/null is an error. */
static int get_felt(struct js *js, struct sb *tmp, const char *key, char out[U256_HEX_MAX])
{
	int t = js_get(js, 0, key);
	const char *s;
	size_t n;
	u256 v;
	if (t < 0 || js->t[t].type == JS_NULL)
		return error("'%s' is missing", key);
	if (js_str(js, t, tmp, &s, &n) < 0)
		return error("'%s' is not a string", key);
	if (felt_parse(&v, s, n) < 0) {
		char buf[512];
		snprintf(buf, sizeof buf, "%s", err_msg());
		return error("'%s': %s", key, buf);
	}
	u256_format_hex(&v, out);
	return 0;
}

static int get_u63(struct js *js, const char *key, int64_t *out)
{
	int t = js_get(js, 0, key);
	if (t < 0)
		return error("'%s' is missing", key);
	if (js_u63(js, t, out) < 0)
		return error("'%s' is not a non-negative integer", key);
	return 0;
}

static int parse_dev(struct js *js, struct sb *tmp, const char *line, size_t len, struct dev *d)
{
	static const struct {
		const char *name;
		enum kind kind;
	} types[] = {{"StartBlock", K_BLOCK}, {"NewBlock", K_BLOCK}, {"RevertBlock", K_REVERT},
		{"CatchupVault", K_CATCHUP}};
	if (js_parse(js, line, len) < 0)
		return -1;
	if (js->t[0].type != JS_OBJ)
		return error("not a JSON object");
	if (get_u63(js, "id", &d->id) < 0)
		return -1;
	if (get_u63(js, "sequence_index", &d->seq) < 0)
		return -1;
	int t = js_get(js, 0, "type");
	if (t < 0 || js->t[t].type != JS_STR)
		return error("'type' is missing or not a string");
	d->type = NULL;
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (js_str_eq(js, t, types[i].name)) {
			d->type = types[i].name;
			d->kind = types[i].kind;
		}
	if (!d->type)
		return error("unknown type %.*s", (int)(js->t[t].len > 64 ? 64 : js->t[t].len),
			js->src + js->t[t].off);
	int p = js_get(js, 0, "pl_prev");
	d->has_prev = p >= 0;
	d->prev_none = p >= 0 && js->t[p].type == JS_NULL;
	if (d->has_prev && !d->prev_none &&
		(js->t[p].type != JS_OBJ || js_u63(js, js_get(js, p, "driver_id"), &d->prev_driver) < 0 ||
			js_u63(js, js_get(js, p, "seq"), &d->prev_seq) < 0))
		return error("'pl_prev' is not null or an object with driver_id and seq");
	if (d->kind != K_CATCHUP)
		return get_felt(js, tmp, "block_hash", d->block_hash);
	if (get_felt(js, tmp, "start_block_hash", d->start_hash) < 0 ||
		get_felt(js, tmp, "end_block_hash", d->end_hash) < 0 ||
		get_felt(js, tmp, "vault_address", d->vault) < 0)
		return -1;
	return 0;
}

/* extra: more fields for the begin line (",\"k\":v"), or NULL. */
static void add_begin(struct sb *out, const struct dev *d, int64_t number, const char *hash, int64_t ts,
	const struct sb *extra)
{
	fr_add_begin_named(out, d->id, d->seq, d->type, number, hash);
	sb_adds(out, ",\"timestamp\":");
	sb_add_i64(out, ts);
	if (d->has_prev && d->prev_none) {
		sb_adds(out, ",\"prev\":null");
	} else if (d->has_prev) {
		sb_adds(out, ",\"prev\":{\"driver_id\":");
		sb_add_i64(out, d->prev_driver);
		sb_adds(out, ",\"seq\":");
		sb_add_i64(out, d->prev_seq);
		sb_addc(out, '}');
	}
	if (extra && extra->len)
		sb_add(out, extra->buf, extra->len);
	fr_close_obj(out);
}

static void lookup(const struct dev *d, const char *hash, const char *what, struct pgf_block *b, int with_events)
{
	int r = with_events ? pgf_block_prefetch(&fetch, hash, b) : pgf_block(&fetch, hash, b);
	if (r < 0)
		fail(d, "unable to fetch driver event %lld (seq %lld): %s", (long long)d->id,
			(long long)d->seq, err_msg());
	if (r == 0)
		fail(d, "unable to fetch driver event %lld (seq %lld): %s %s is not in starknet_blocks",
			(long long)d->id, (long long)d->seq, what, hash);
}

/* Build (and write) the frame of one driver event. */
static void serve(const struct dev *d, struct sb *frame)
{
	struct pgf_block b;
	int r;
	sb_reset(frame);
	if (d->kind != K_CATCHUP) {
		lookup(d, d->block_hash, "block", &b, 1);
		struct sb extra = SB_INIT;
		/* A revert names the whole reorg it starts or continues, so that the
		 * apply filter can refuse one deeper than its journal before
		 * anything of it commits. */
		if (d->kind == K_REVERT) {
			sb_adds(&extra, ",\"reverts\":");
			if (pgf_reorg(&fetch, d->seq, d->id, &extra) < 0)
				fail(d, "unable to fetch driver event %lld (seq %lld): %s", (long long)d->id, (long long)d->seq,
					err_msg());
			if (!strcmp(extra.buf, ",\"reverts\":[]"))
				sb_reset(&extra); /* the item is not in driver_events (fed by hand) */
		}
		/* The chain head, for the stages' journal (docs/formats.md "head"):
		 * only on a block of the canonical chain as the producer has it now. */
		if (with_head && d->kind == K_BLOCK && !b.reverted && b.head >= 0) {
			sb_adds(&extra, ",\"head\":");
			sb_add_i64(&extra, b.head);
		}
		add_begin(frame, d, b.number, d->block_hash, b.timestamp, &extra);
		sb_free(&extra);
		r = pgf_block_events(&fetch, d->block_hash, &b, frame);
	} else {
		struct pgf_block s;
		int64_t start;
		lookup(d, d->end_hash, "end block", &b, 0);
		r = pgf_block(&fetch, d->start_hash, &s);
		if (r == 1) {
			start = s.number;
		} else if (r == 0) {
			/* The vault's deployment block: events but no block row. */
			r = pgf_block_number_from_events(&fetch, d->start_hash, &start);
			if (r == 0)
				fail(d, "unable to fetch driver event %lld (seq %lld): start block %s is neither in starknet_blocks nor in events",
					(long long)d->id, (long long)d->seq, d->start_hash);
		}
		if (r < 0)
			fail(d, "unable to fetch driver event %lld (seq %lld): %s", (long long)d->id,
				(long long)d->seq, err_msg());
		add_begin(frame, d, b.number, d->end_hash, b.timestamp, NULL);
		r = pgf_in_shard(&fetch, d->vault, strlen(d->vault));
		if (r == 1)
			r = pgf_vault_events(&fetch, d->vault, d->start_hash, start, b.number, d->seq, d->id, frame, FLUSH_AT);
	}
	if (r < 0)
		fail(d, "unable to fetch driver event %lld (seq %lld): %s", (long long)d->id,
			(long long)d->seq, err_msg());
	fr_add_end(frame, d->id);
	io_out(frame->buf, frame->len);
}

/* "K/N" into *k, *n; usage error otherwise. */
static void parse_shard(const char *arg, int *k, int *n)
{
	const char *slash = strchr(arg, '/');
	if (!slash || slash == arg)
		opt_usage_error("--shard: want K/N, got '%s'", arg);
	char *ks = xstrndup(arg, (size_t)(slash - arg));
	*n = (int)opt_u64("--shard (N)", slash + 1, 1, 1024);
	*k = (int)opt_u64("--shard (K)", ks, 0, 1023);
	free(ks);
	if (*k >= *n)
		opt_usage_error("--shard: want 0 <= K < N, got '%s'", arg);
}

/* The shard of the pipeline's registry row (sql/025); 0 when it has none. */
static int registry_shard(PGconn *conn, const char *name, int *k, int *n)
{
	const char *vals[1] = {name};
	PGresult *r = PQexecParams(conn, "SELECT shard_index, shard_count FROM pl_pipeline WHERE name = $1", 1, NULL,
		vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && (!strcmp(st, "42P01") || !strcmp(st, "42703"))) { /* no registry (producer schema only) */
			PQclear(r);
			return 0;
		}
		pgc_die(conn, r, EXIT_TEMPFAIL, "read pl_pipeline");
	}
	int got = PQntuples(r) == 1 && !PQgetisnull(r, 0, 1);
	if (got) {
		*k = atoi(PQgetvalue(r, 0, 0));
		*n = atoi(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return got;
}

int main(int argc, char **argv)
{
	int shard_k = 0, shard_n = 0;
	const char *conninfo = "";
	int batch = 10000, connect_timeout = 60;
	die_set_prog(argv[0]);
	struct opt op;
	struct opt_conn oc;
	opt_conn_init(&oc);
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS, usage_text);
	for (int c; (c = opt_next(&op)) != -1;) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_PIPELINE:
			pipeline = opt_str("--pipeline", optarg);
			break;
		case O_BATCH:
			batch = (int)opt_u64("--batch", optarg, 1, 1000000);
			break;
		case O_HEAD:
			with_head = 1;
			break;
		case O_SHARD:
			parse_shard(optarg, &shard_k, &shard_n);
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if (oc.dbname)
		conninfo = oc.dbname;
	pgc_use_options(&oc);
	connect_timeout = pgc_wait_seconds(connect_timeout);
	static volatile sig_atomic_t stop;
	io_graceful_signals(&stop);
	pgc_set_stop(&stop);
	io_init_stdout();
	pgf_open(&fetch, conninfo, connect_timeout, batch);
	int reg_k, reg_n;
	if (pip_default_name(pipeline) && registry_shard(fetch.conn, pip_default_name(pipeline), &reg_k, &reg_n)) {
		if (shard_n && (shard_k != reg_k || shard_n != reg_n))
			die_code(EXIT_CONFIG, "unable to serve shard %d/%d: pipeline '%s' is shard %d/%d in pl_pipeline",
				shard_k, shard_n, pip_default_name(pipeline), reg_k, reg_n);
		shard_k = reg_k, shard_n = reg_n;
	}
	fetch.shard_index = shard_k;
	fetch.shard_count = shard_n;

	struct lr lr;
	struct js js;
	struct sb tmp = SB_INIT, frame = SB_INIT;
	lr_init(&lr, 0, MAX_LINE);
	js_init(&js);
	for (;;) {
		char *line;
		size_t len;
		struct dev d = {.id = -1, .seq = -1};
		io_busy(0); /* SIGTERM while waiting for a work item: exit 0 at once */
		int r = lr_next(&lr, &line, &len);
		io_busy(1);
		if (r == LR_NONE)
			break;
		if (r == LR_EREAD)
			die_code(EXIT_TEMPFAIL, "%s", err_msg());
		if (r < 0) {
			cur_line = NULL;
			fail(&d, "unable to read driver event at line %llu: %s",
				(unsigned long long)lr.lineno + 1, err_msg());
		}
		cur_line = line;
		cur_len = len;
		if (parse_dev(&js, &tmp, line, len, &d) < 0)
			fail(&d, "unable to parse driver event at line %llu: %s",
				(unsigned long long)lr.lineno, err_msg());
		d.parsed = 1;
		serve(&d, &frame);
		if (stop)
			break; /* SIGTERM while serving: the item is out, exit 0 */
	}
	if (lr_partial(&lr))
		warn("discarding an incomplete last line (%zu bytes without a newline)", lr_partial(&lr));
	lr_free(&lr);
	js_free(&js);
	sb_free(&tmp);
	sb_free(&frame);
	pgf_close(&fetch);
	io_close_stdout();
	return 0;
}
