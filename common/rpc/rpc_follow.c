/*
 * rpc_follow.c -- the chain follower of rpc-listen: from the database's
 * checkpoint to head - confirmations in eth_getLogs batches, then live;
 * one StartBlock frame per block that has logs and per batch end, and
 * RevertBlock frames when blocks it emitted leave the canonical chain.
 *
 * Reorgs are found by block hashes, never by "removed" flags: a block hash
 * commits to every ancestor, so when the newest block we emitted still has
 * its hash at its height, nothing we emitted has changed.  Each batch is
 * read between two looks at its last block's header (the chain did not
 * move under the eth_getLogs) and followed by a look at our newest block;
 * when that one has changed we walk back through the remembered blocks to
 * the newest that is still canonical, revert everything after it (newest
 * first) and go on from there.  In live following the next block's parent
 * hash is compared with our newest too.
 *
 * Failures: a request that is not answered is retried with capped
 * exponential backoff and jitter (on the next endpoint: rpc_http.c fails
 * over); a rate limit or a too-large answer halves the batch, which grows
 * back after successes.  After 5 consecutive errors an ALERT line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "frame/frame.h"
#include "rpc/rpc.h"

#define HEADERS_PER_REQUEST 100
#define ALERT_AFTER 5

struct blk {
	uint64_t number, timestamp;
	u256 hash;
	int has_ts;
	size_t first, nlogs; /* its logs in the batch's log array */
};

struct rf {
	struct rpc *r;
	const struct rf_config *c;
	volatile int *stop;
	struct js js, ljs;
	struct sb req, tmp, out, logbody;
	struct rf_block *ring; /* emitted blocks, oldest first */
	size_t rn;
	int have_cp;
	int64_t seq;					  /* the last frame's driver_id and seq */
	uint64_t next, batch, head, id, fails, bad, calm; /* calm: batches since the last limit */
	struct rpc_log *logs;
	size_t nlogs, logcap;
	struct blk *blks;
	size_t nblks, blkcap;
	uint64_t nlogs_total, nframes, nreverts, nreorgs;
	uint64_t prog_ms, start_ms, start_block, last_status_ms;
	int caught_up; /* at head - confirmations (live), not in historic sync */
	int news;      /* frames written since the last status */
	unsigned seed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep ms, in slices, returning early when a stop is requested. */
static void nap(struct rf *f, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	while (!*f->stop) {
		uint64_t t = now_ms();
		if (t >= end)
			return;
		uint64_t d = end - t > 50 ? 50 : end - t;
		struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Capped exponential backoff with jitter (half to all of the step). */
static void backoff(struct rf *f)
{
	uint64_t k = f->fails > 20 ? 20 : f->fails, d = f->c->backoff_min_ms << k;
	if (d > f->c->backoff_max_ms || d == 0)
		d = f->c->backoff_max_ms;
	d = d / 2 + (uint64_t)rand_r(&f->seed) % (d / 2 + 1);
	nap(f, d);
}

static void write_status(struct rf *f, int force);

static void failed(struct rf *f, const char *what)
{
	f->fails++;
	if (f->fails == ALERT_AFTER)
		warn("ALERT: %" PRIu64 " consecutive RPC errors (last: %s at %s)", f->fails, what, rpc_endpoint(f->r));
	write_status(f, 0); /* the counters, while no answer comes */
}

static void stopped(struct rf *f)
{
	(void)f;
}

/* The body of one request (id f->id) into f->req. */
static void add_request(struct rf *f, const char *method, const char *params)
{
	sb_adds(&f->req, "{\"jsonrpc\":\"2.0\",\"id\":");
	sb_add_u64(&f->req, f->id);
	sb_adds(&f->req, ",\"method\":\"");
	sb_adds(&f->req, method);
	sb_adds(&f->req, "\",\"params\":");
	sb_adds(&f->req, params);
	sb_addc(&f->req, '}');
}

/*
 * Post f->req until it is answered: RPC_OK (f->js parsed), or RPC_LIMIT /
 * RPC_FAULT when limit_ok (the caller shrinks its request), else those are
 * retried too.  -1 when a stop was requested.
 */
static int post(struct rf *f, int limit_ok)
{
	for (;;) {
		if (*f->stop)
			return -1;
		int st = rpc_post(f->r, f->req.buf, f->req.len, &f->js);
		if (st == RPC_OK)
			return RPC_OK;
		if (st == RPC_LIMIT) {
			failed(f, "rate limited");
			if (limit_ok)
				return st;
		} else if (st == RPC_FAULT) {
			failed(f, "JSON-RPC error");
			if (limit_ok)
				return st;
			if (++f->bad >= f->c->max_bad)
				die_code(EXIT_DATAERR, "endpoint %s refused %" PRIu64 " requests in a row (JSON-RPC error %lld)",
					rpc_endpoint(f->r), f->bad, (long long)rpc_last_code(f->r));
		} else if (st == RPC_BAD) {
			failed(f, "unparsable response");
			if (++f->bad >= f->c->max_bad)
				die_code(EXIT_DATAERR, "endpoint %s sent %" PRIu64 " unparsable responses in a row", rpc_endpoint(f->r),
					f->bad);
		} else {
			failed(f, "no answer");
		}
		/* a full round of the endpoints failed (or the one): wait */
		if ((st != RPC_DOWN && st != RPC_BAD) || rpc_endpoint_index(f->r) == 0 || rpc_nendpoints(f->r) == 1)
			backoff(f);
	}
}

/* A response that is not what we asked for: count it, back off. */
static void malformed(struct rf *f, const char *what)
{
	warn("endpoint %s: malformed %s response: %s", rpc_endpoint(f->r), what, err_msg());
	if (++f->bad >= f->c->max_bad)
		die_code(EXIT_DATAERR, "endpoint %s sent %" PRIu64 " malformed responses in a row (last: %s: %s)",
			rpc_endpoint(f->r), f->bad, what, err_msg());
	failed(f, "malformed response");
	backoff(f);
}

static void answered(struct rf *f)
{
	f->fails = 0;
	f->bad = 0;
}

/* One call whose result is a QUANTITY.  0, or -1 on stop. */
static int call_quantity(struct rf *f, const char *method, uint64_t *v)
{
	for (;;) {
		sb_reset(&f->req);
		f->id++;
		add_request(f, method, "[]");
		if (post(f, 0) < 0)
			return -1;
		int o = rpcp_find(&f->js, f->id), res;
		int64_t code;
		if (o >= 0 && (o = rpcp_outcome(&f->js, o, &res, &code)) == RPC_RESULT &&
			rpcp_quantity(&f->js, res, &f->tmp, v) == 0) {
			answered(f);
			return 0;
		}
		if (o == RPC_ERROR)
			error("JSON-RPC error %lld", (long long)code);
		malformed(f, method);
	}
}

/*
 * Headers of blocks nums[0..n) into h (present[i] = 0: no such block).
 * Batched, HEADERS_PER_REQUEST per request.  0, or -1 on stop.
 */
static int get_headers(struct rf *f, const uint64_t *nums, size_t n, struct rpc_header *h, int *present)
{
	for (size_t done = 0; done < n;) {
		size_t k = n - done > HEADERS_PER_REQUEST ? HEADERS_PER_REQUEST : n - done;
		sb_reset(&f->req);
		sb_addc(&f->req, '[');
		uint64_t base = f->id + 1;
		for (size_t i = 0; i < k; i++) {
			char p[48];
			snprintf(p, sizeof p, "[\"0x%" PRIx64 "\",false]", nums[done + i]);
			if (i)
				sb_addc(&f->req, ',');
			f->id++;
			add_request(f, "eth_getBlockByNumber", p);
		}
		sb_addc(&f->req, ']');
		if (post(f, 0) < 0)
			return -1;
		int ok = 1;
		for (size_t i = 0; i < k && ok; i++) {
			int o = rpcp_find(&f->js, base + i), res, r;
			int64_t code;
			if (o < 0 || (o = rpcp_outcome(&f->js, o, &res, &code)) < 0) {
				ok = 0;
			} else if (o == RPC_ERROR) {
				error("JSON-RPC error %lld", (long long)code);
				ok = 0;
			} else if ((r = rpcp_header(&f->js, res, &f->tmp, &h[done + i])) < 0) {
				ok = 0;
			} else {
				present[done + i] = r == 0;
				if (r == 0 && h[done + i].number != nums[done + i]) {
					error("asked for block %" PRIu64 ", got block %" PRIu64, nums[done + i], h[done + i].number);
					ok = 0;
				}
			}
		}
		if (!ok) {
			malformed(f, "eth_getBlockByNumber");
			continue;
		}
		answered(f);
		done += k;
	}
	return 0;
}

static void add_hex(struct sb *out, const u256 *v)
{
	char b[U256_HEX_MAX];
	u256_format_hex(v, b);
	sb_addc(out, '"');
	sb_adds(out, b);
	sb_addc(out, '"');
}

static void add_prev(struct rf *f)
{
	if (!f->have_cp) {
		sb_adds(&f->out, ",\"prev\":null");
		return;
	}
	sb_adds(&f->out, ",\"prev\":{\"driver_id\":");
	sb_add_i64(&f->out, f->seq);
	sb_adds(&f->out, ",\"seq\":");
	sb_add_i64(&f->out, f->seq);
	sb_addc(&f->out, '}');
}

static void ring_push(struct rf *f, uint64_t number, const u256 *hash)
{
	if (f->rn == f->c->window) {
		memmove(f->ring, f->ring + 1, (f->rn - 1) * sizeof(*f->ring));
		f->rn--;
	}
	f->ring[f->rn].number = number;
	f->ring[f->rn].hash = *hash;
	f->rn++;
}

/* The frame of one block: its logs (those of the batch, from first). */
static void emit_block(struct rf *f, const struct blk *b)
{
	int64_t s = f->seq + 1;
	sb_adds(&f->out, "{\"op\":\"begin\",\"driver_id\":");
	sb_add_i64(&f->out, s);
	sb_adds(&f->out, ",\"seq\":");
	sb_add_i64(&f->out, s);
	sb_adds(&f->out, ",\"type\":\"StartBlock\",\"block_number\":");
	sb_add_u64(&f->out, b->number);
	sb_adds(&f->out, ",\"block_hash\":");
	add_hex(&f->out, &b->hash);
	sb_adds(&f->out, ",\"timestamp\":");
	sb_add_u64(&f->out, b->timestamp);
	add_prev(f);
	sb_adds(&f->out, "}\n");
	for (size_t i = b->first; i < b->first + b->nlogs; i++) {
		const struct rpc_log *l = &f->logs[i];
		sb_adds(&f->out, "{\"op\":\"event\",\"block_number\":");
		sb_add_u64(&f->out, b->number);
		sb_adds(&f->out, ",\"block_hash\":");
		add_hex(&f->out, &b->hash);
		sb_adds(&f->out, ",\"timestamp\":");
		sb_add_u64(&f->out, b->timestamp);
		sb_adds(&f->out, ",\"tx\":");
		add_hex(&f->out, &l->tx_hash);
		sb_adds(&f->out, ",\"tx_index\":");
		sb_add_u64(&f->out, l->tx_index);
		sb_adds(&f->out, ",\"log_index\":");
		sb_add_u64(&f->out, l->log_index);
		sb_adds(&f->out, ",\"address\":");
		add_hex(&f->out, &l->address);
		sb_adds(&f->out, ",\"topics\":[");
		for (int t = 0; t < l->ntopics; t++) {
			if (t)
				sb_addc(&f->out, ',');
			add_hex(&f->out, &l->topics[t]);
		}
		sb_adds(&f->out, "],\"data\":");
		rpcp_add_data(&f->out, &f->ljs, l, &f->tmp);
		sb_adds(&f->out, "}\n");
	}
	fr_add_end(&f->out, s);
	f->seq = s;
	f->have_cp = 1;
	f->nframes++;
	f->nlogs_total += b->nlogs;
	f->news = 1;
	ring_push(f, b->number, &b->hash);
}

static void flush_out(struct rf *f)
{
	if (f->out.len)
		io_out(f->out.buf, f->out.len);
	sb_reset(&f->out);
}

/*
 * Our newest block (or more) left the chain: find the newest remembered
 * block that is still canonical, revert every block after it, newest
 * first.  0, or -1 on stop; dies when the reorg is deeper than what we
 * remember.
 */
static int reorg(struct rf *f)
{
	uint64_t *nums = xmalloc(f->rn * sizeof(*nums));
	struct rpc_header *h = xmalloc(f->rn * sizeof(*h));
	int *present = xcalloc(f->rn, sizeof(*present));
	for (size_t i = 0; i < f->rn; i++)
		nums[i] = f->ring[i].number;
	int rc = get_headers(f, nums, f->rn, h, present);
	size_t k = f->rn;
	while (rc == 0 && k > 0 && (!present[k - 1] || !u256_eq(&h[k - 1].hash, &f->ring[k - 1].hash)))
		k--;
	free(nums);
	free(h);
	free(present);
	if (rc < 0)
		return -1;
	if (k == f->rn)
		return 0; /* moved back meanwhile: nothing to revert */
	if (k == 0)
		die_code(EXIT_DATAERR,
			"reorg deeper than the %zu blocks remembered (%" PRIu64 "..%" PRIu64 " all left the chain); "
			"nothing of it was reverted (a node restarted from an older state, or a fork deeper than --window: "
			"check the node, then restart with a larger --window, up to the apply filter's --finality)",
			f->rn, f->ring[0].number, f->ring[f->rn - 1].number);
	warn("reorg: %zu block(s) %" PRIu64 "..%" PRIu64 " left the chain; reverting them, resuming at block %" PRIu64,
		f->rn - k, f->ring[k].number, f->ring[f->rn - 1].number, f->ring[k - 1].number + 1);
	f->nreorgs++;
	for (size_t i = f->rn; i-- > k;) {
		int64_t s = f->seq + 1;
		sb_adds(&f->out, "{\"op\":\"begin\",\"driver_id\":");
		sb_add_i64(&f->out, s);
		sb_adds(&f->out, ",\"seq\":");
		sb_add_i64(&f->out, s);
		sb_adds(&f->out, ",\"type\":\"RevertBlock\",\"block_number\":");
		sb_add_u64(&f->out, f->ring[i].number);
		sb_adds(&f->out, ",\"block_hash\":");
		add_hex(&f->out, &f->ring[i].hash);
		sb_adds(&f->out, ",\"reverts\":[");
		for (size_t j = i + 1; j-- > k;) {
			add_hex(&f->out, &f->ring[j].hash);
			if (j > k)
				sb_addc(&f->out, ',');
		}
		sb_addc(&f->out, ']');
		add_prev(f);
		sb_adds(&f->out, "}\n");
		fr_add_end(&f->out, s);
		f->seq = s;
		f->nreverts++;
		f->news = 1;
	}
	f->rn = k;
	f->next = f->ring[k - 1].number + 1;
	flush_out(f);
	return 0;
}

/* "0x" and the value in exactly digits hex digits (addresses, topics), quoted. */
static void add_padded(struct sb *out, const u256 *v, size_t digits)
{
	char b[U256_HEX_MAX];
	size_t n = u256_format_hex(v, b) - 2;
	sb_adds(out, "\"0x");
	for (size_t z = n; z < digits; z++)
		sb_addc(out, '0');
	sb_adds(out, b + 2);
	sb_addc(out, '"');
}

/* The logs of [from, to] into f->logs / f->blks.  RPC_OK, RPC_LIMIT (shrink), or -1 on stop. */
static int get_logs(struct rf *f, uint64_t from, uint64_t to)
{
	sb_reset(&f->req);
	f->id++;
	struct sb p = SB_INIT;
	sb_addf(&p, "[{\"fromBlock\":\"0x%" PRIx64 "\",\"toBlock\":\"0x%" PRIx64 "\"", from, to);
	if (f->c->naddresses) {
		sb_adds(&p, ",\"address\":[");
		for (int i = 0; i < f->c->naddresses; i++) {
			if (i)
				sb_addc(&p, ',');
			add_padded(&p, &f->c->addresses[i], 40);
		}
		sb_addc(&p, ']');
	}
	if (f->c->ntopic0) {
		sb_adds(&p, ",\"topics\":[[");
		for (int i = 0; i < f->c->ntopic0; i++) {
			if (i)
				sb_addc(&p, ',');
			add_padded(&p, &f->c->topic0[i], 64);
		}
		sb_adds(&p, "]]");
	}
	sb_adds(&p, "}]");
	add_request(f, "eth_getLogs", p.buf);
	sb_free(&p);
	for (;;) {
		int st = post(f, 1);
		if (st != RPC_OK)
			return st;
		int o = rpcp_find(&f->js, f->id), res;
		int64_t code;
		if (o >= 0 && (o = rpcp_outcome(&f->js, o, &res, &code)) == RPC_ERROR)
			return RPC_FAULT;
		if (o < 0) {
			malformed(f, "eth_getLogs");
			continue;
		}
		if (f->js.t[res].type != JS_ARR) {
			error("result is not an array");
			malformed(f, "eth_getLogs");
			continue;
		}
		/* keep the text and tokens: headers are fetched before the logs are written */
		rpc_take_body(f->r, &f->logbody);
		struct js t = f->ljs;
		f->ljs = f->js;
		f->js = t;
		break;
	}
	const struct js *js = &f->ljs;
	int arr = rpcp_find(js, f->id), res = -1;
	int64_t code;
	rpcp_outcome(js, arr, &res, &code);
	f->nlogs = f->nblks = 0;
	int tok = js_first(js, res);
	for (uint32_t i = 0; i < js->t[res].n; i++, tok = js_sibling(js, tok)) {
		if (f->nlogs == f->logcap) {
			f->logcap = f->logcap ? 2 * f->logcap : 256;
			f->logs = xrealloc(f->logs, f->logcap * sizeof(*f->logs));
		}
		struct rpc_log *l = &f->logs[f->nlogs];
		if (rpcp_log(js, tok, &f->tmp, l) < 0)
			goto bad;
		if (l->block_number < from || l->block_number > to) {
			error("log of block %" PRIu64 " outside the range %" PRIu64 "..%" PRIu64, l->block_number, from, to);
			goto bad;
		}
		struct blk *b = f->nblks ? &f->blks[f->nblks - 1] : NULL;
		if (b && l->block_number == b->number) {
			if (!u256_eq(&l->block_hash, &b->hash)) {
				error("logs of block %" PRIu64 " name two block hashes", b->number);
				goto bad;
			}
			if (l->log_index <= f->logs[f->nlogs - 1].log_index) {
				error("logs of block %" PRIu64 " out of order", b->number);
				goto bad;
			}
			b->nlogs++;
		} else {
			if (b && l->block_number < b->number) {
				error("logs out of block order (%" PRIu64 " after %" PRIu64 ")", l->block_number, b->number);
				goto bad;
			}
			if (f->nblks == f->blkcap) {
				f->blkcap = f->blkcap ? 2 * f->blkcap : 64;
				f->blks = xrealloc(f->blks, f->blkcap * sizeof(*f->blks));
			}
			b = &f->blks[f->nblks++];
			b->number = l->block_number;
			b->hash = l->block_hash;
			b->has_ts = l->has_timestamp;
			b->timestamp = l->timestamp;
			b->first = f->nlogs;
			b->nlogs = 1;
		}
		f->nlogs++;
	}
	answered(f);
	return RPC_OK;
bad:
	malformed(f, "eth_getLogs");
	return RPC_DOWN; /* the caller asks again */
}

/*
 * The stats file for pl-status (docs/status.md, "name value" lines): the
 * head it knows, the block it emitted, the lag limit of --healthy-lag (so
 * that /health applies the rule with the block pg-write committed), whether
 * it is caught up (/ready) and the RPC counters.
 */
static void write_stats(struct rf *f, uint64_t at)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	const struct rpc_stats *st = rpc_stats(f->r);
	struct sb s = SB_INIT;
	sb_addf(&s,
		"# pl-stats 1\nprog rpc-listen\npid %ld\nupdated_ms %lld\nhead_block %" PRIu64 "\nlast_emitted_block %" PRIu64
		"\nhealthy_lag_blocks %" PRIu64 "\ncaught_up %d\nrpc_requests_total %" PRIu64 "\nrpc_errors_total %" PRIu64
		"\nrpc_limited_total %" PRIu64 "\nrpc_failovers_total %" PRIu64 "\nrpc_consecutive_errors %" PRIu64
		"\nrpc_batch_blocks %" PRIu64 "\nrpc_logs_total %" PRIu64 "\nrpc_frames_total %" PRIu64
		"\nrpc_reorgs_total %" PRIu64 "\nrpc_reverted_blocks_total %" PRIu64 "\n",
		(long)getpid(), (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, f->head, at, f->c->healthy_lag,
		f->caught_up, st->requests, st->errors, st->limited, st->failovers, f->fails, f->batch, f->nlogs_total,
		f->nframes, f->nreorgs, f->nreverts);
	if (io_replace(f->c->stats_file, s.buf, s.len) < 0)
		warn("unable to write the stats file: %s (pl-status shows old figures)", err_msg());
	sb_free(&s);
}

static void write_status(struct rf *f, int force)
{
	if (!f->c->status_file && !f->c->stats_file)
		return;
	uint64_t t = now_ms();
	if (!force && t - f->last_status_ms < 1000)
		return;
	f->last_status_ms = t;
	f->news = 0;
	uint64_t at = f->rn ? f->ring[f->rn - 1].number : (f->next ? f->next - 1 : 0);
	uint64_t lag = f->head > at ? f->head - at : 0;
	if (f->c->stats_file)
		write_stats(f, at);
	if (!f->c->status_file)
		return;
	const struct rpc_stats *st = rpc_stats(f->r);
	struct sb s = SB_INIT;
	sb_addf(&s,
		"{\"head\":%" PRIu64 ",\"block\":%" PRIu64 ",\"lag\":%" PRIu64 ",\"healthy\":%s,\"endpoint\":",
		f->head, at, lag, lag < f->c->healthy_lag ? "true" : "false");
	sb_add_jstr(&s, rpc_endpoint(f->r), strlen(rpc_endpoint(f->r)));
	sb_addf(&s,
		",\"rpc_requests\":%" PRIu64 ",\"rpc_errors\":%" PRIu64 ",\"rpc_limited\":%" PRIu64 ",\"failovers\":%" PRIu64
		",\"consecutive_errors\":%" PRIu64 ",\"batch\":%" PRIu64 ",\"logs\":%" PRIu64 ",\"frames\":%" PRIu64
		",\"reorgs\":%" PRIu64 ",\"reverted_blocks\":%" PRIu64 "}\n",
		st->requests, st->errors, st->limited, st->failovers, f->fails, f->batch, f->nlogs_total, f->nframes,
		f->nreorgs, f->nreverts);
	struct io_atomic a;
	if (io_atomic_open(&a, f->c->status_file) == 0) {
		if (io_write_all(a.fd, s.buf, s.len) < 0)
			io_atomic_abort(&a);
		else if (io_atomic_commit(&a) != 0)
			warn("unable to write the status file: %s", err_msg());
	}
	sb_free(&s);
}

/* A progress line during historic sync, at most one a second. */
static void progress(struct rf *f, uint64_t target)
{
	if (!f->c->progress)
		return;
	uint64_t t = now_ms();
	if (t - f->prog_ms < 1000 || f->next > target)
		return;
	f->prog_ms = t;
	uint64_t done = f->next - f->start_block, left = target + 1 - f->next, el = t - f->start_ms;
	uint64_t total = done + left, permille = total ? done * 1000 / total : 1000;
	uint64_t rate = el ? f->nlogs_total * 1000 / el : 0, eta = done ? left * el / done / 1000 : 0;
	note("sync: block %" PRIu64 " of %" PRIu64 " (%" PRIu64 ".%" PRIu64 "%%), %" PRIu64 " logs, %" PRIu64
	     " logs/s, batch %" PRIu64 ", ETA %" PRIu64 " s",
		f->next - 1, target, permille / 10, permille % 10, f->nlogs_total, rate, f->batch, eta);
}

/* Is our newest block still canonical?  1 yes, 0 no, -1 stop. */
static int newest_canonical(struct rf *f)
{
	if (!f->rn)
		return 1;
	struct rpc_header h;
	int present = 0;
	if (get_headers(f, &f->ring[f->rn - 1].number, 1, &h, &present) < 0)
		return -1;
	return present && u256_eq(&h.hash, &f->ring[f->rn - 1].hash);
}

/* One batch [next, to].  0 done (or retry), -1 stop. */
static int one_batch(struct rf *f, uint64_t to)
{
	struct rpc_header h1, h2;
	int p1 = 0, p2 = 0;
	uint64_t from = f->next;
	if (get_headers(f, &to, 1, &h1, &p1) < 0)
		return -1;
	if (!p1)
		return 0; /* the chain got shorter: look again */
	/* live: the next block's parent must be our newest */
	if (to == from && f->rn && f->ring[f->rn - 1].number + 1 == from &&
		!u256_eq(&h1.parent, &f->ring[f->rn - 1].hash))
		return reorg(f);
	int st = get_logs(f, from, to);
	if (st < 0)
		return -1;
	if (st == RPC_LIMIT || st == RPC_FAULT) {
		uint64_t n = to - from + 1;
		if (n == 1 && st == RPC_FAULT)
			die_code(EXIT_DATAERR, "endpoint %s refuses eth_getLogs for block %" PRIu64 " alone (JSON-RPC error %lld)",
				rpc_endpoint(f->r), from, (long long)rpc_last_code(f->r));
		f->batch = n / 2 ? n / 2 : 1;
		f->calm = 0;
		warn("eth_getLogs of %" PRIu64 " blocks refused (%s): batch now %" PRIu64, n,
			st == RPC_LIMIT ? "rate limit or too large" : "JSON-RPC error", f->batch);
		if (st == RPC_LIMIT)
			backoff(f);
		return 0;
	}
	if (st != RPC_OK)
		return 0;
	/* timestamps the logs did not carry, and a check of their hashes */
	size_t nts = 0;
	for (size_t i = 0; i < f->nblks; i++)
		nts += !f->blks[i].has_ts;
	if (nts) {
		uint64_t *nums = xmalloc(nts * sizeof(*nums));
		struct rpc_header *h = xmalloc(nts * sizeof(*h));
		int *present = xcalloc(nts, sizeof(*present));
		size_t j = 0;
		for (size_t i = 0; i < f->nblks; i++)
			if (!f->blks[i].has_ts)
				nums[j++] = f->blks[i].number;
		int rc = get_headers(f, nums, nts, h, present), moved = 0;
		j = 0;
		for (size_t i = 0; rc == 0 && i < f->nblks; i++) {
			if (f->blks[i].has_ts)
				continue;
			if (!present[j] || !u256_eq(&h[j].hash, &f->blks[i].hash))
				moved = 1;
			f->blks[i].timestamp = h[j].timestamp;
			j++;
		}
		free(nums);
		free(h);
		free(present);
		if (rc < 0)
			return -1;
		if (moved)
			return 0; /* the chain moved under us: ask again */
	}
	/* the batch end again, then our newest */
	if (get_headers(f, &to, 1, &h2, &p2) < 0)
		return -1;
	if (!p2 || !u256_eq(&h1.hash, &h2.hash))
		return 0; /* moved under us: ask again */
	int c = newest_canonical(f);
	if (c < 0)
		return -1;
	if (!c)
		return reorg(f);
	/* the frames: blocks with logs, then the batch end */
	for (size_t i = 0; i < f->nblks; i++)
		emit_block(f, &f->blks[i]);
	if (!f->nblks || f->blks[f->nblks - 1].number != to) {
		struct blk e = {to, h1.timestamp, h1.hash, 1, 0, 0};
		emit_block(f, &e);
	}
	flush_out(f);
	f->next = to + 1;
	/* grow back after 8 batches without a limit */
	if (f->batch < f->c->batch && ++f->calm >= 8) {
		f->batch = f->batch * 2 > f->c->batch ? f->c->batch : f->batch * 2;
		f->calm = 0;
	}
	return 0;
}

int rf_follow(struct rpc *r, const struct rf_config *cfg, const struct rf_resume *res, volatile int *stop)
{
	struct rf f;
	memset(&f, 0, sizeof f);
	f.r = r;
	f.c = cfg;
	f.stop = stop;
	js_init(&f.js);
	js_init(&f.ljs);
	f.ring = xcalloc(cfg->window, sizeof(*f.ring));
	f.have_cp = res->have_cp;
	f.seq = res->have_cp ? res->seq : 0;
	if (res->have_cp && res->driver_id != res->seq)
		die_code(EXIT_CONFIG, "the checkpoint (driver_id %lld, seq %lld) is not one of rpc-listen's (driver_id = seq)",
			(long long)res->driver_id, (long long)res->seq);
	size_t skip = res->nblocks > cfg->window ? res->nblocks - cfg->window : 0;
	for (size_t i = skip; i < res->nblocks; i++)
		ring_push(&f, res->blocks[i].number, &res->blocks[i].hash);
	if (f.rn)
		f.next = f.ring[f.rn - 1].number + 1;
	else if (res->have_cp && res->finalized + 1 > cfg->from_block)
		f.next = res->finalized + 1;
	else
		f.next = cfg->from_block;
	f.batch = cfg->batch;
	f.seed = (unsigned)getpid() ^ (unsigned)now_ms();
	f.start_ms = now_ms();
	f.start_block = f.next;
	if (f.rn)
		note("resuming after block %" PRIu64 " (seq %lld), %zu recent blocks remembered", f.next - 1, (long long)f.seq, f.rn);
	else
		note("starting at block %" PRIu64, f.next);
	int rc = 0;
	while (!*stop) {
		if (call_quantity(&f, "eth_blockNumber", &f.head) < 0)
			break;
		uint64_t target = f.head >= cfg->confirmations ? f.head - cfg->confirmations : 0;
		int caught_up = f.head < cfg->confirmations || f.next > target;
		/* one batch short of the target is live following too */
		f.caught_up = caught_up || target - f.next < cfg->batch;
		write_status(&f, 0);
		if (caught_up) {
			int c = newest_canonical(&f);
			if (c < 0)
				break;
			if (!c) {
				if (reorg(&f) < 0)
					break;
				continue;
			}
			if (cfg->once || (cfg->until_block && f.next > cfg->until_block))
				break;
			write_status(&f, f.news); /* idle: the news at once */
			nap(&f, cfg->poll_ms);
			continue;
		}
		uint64_t to = f.next + f.batch - 1 < f.next ? target : f.next + f.batch - 1;
		if (to > target)
			to = target;
		if (cfg->until_block && to > cfg->until_block && f.next <= cfg->until_block)
			to = cfg->until_block;
		if (one_batch(&f, to) < 0)
			break;
		progress(&f, target);
		if (cfg->until_block && f.next > cfg->until_block && f.rn && f.ring[f.rn - 1].number >= cfg->until_block)
			break;
	}
	write_status(&f, 1);
	stopped(&f);
	note("stopped after block %" PRIu64 ": %" PRIu64 " frames, %" PRIu64 " logs, %" PRIu64 " reorgs (%" PRIu64
	     " blocks reverted)",
		f.next ? f.next - 1 : 0, f.nframes, f.nlogs_total, f.nreorgs, f.nreverts);
	js_free(&f.js);
	js_free(&f.ljs);
	sb_free(&f.req);
	sb_free(&f.tmp);
	sb_free(&f.out);
	sb_free(&f.logbody);
	free(f.logs);
	free(f.blks);
	free(f.ring);
	return rc;
}
