/*
 * pgfetch.c -- see pgfetch.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "pg/pgconn.h"
#include "dom/pitchlake/fetch.h"

static const char block_sql[] =
	"SELECT block_number::text, timestamp::text, status,"
	" (SELECT max(block_number) FROM starknet_blocks WHERE status <> 'REVERTED')::text"
	" FROM starknet_blocks WHERE block_hash = $1";

static const char number_sql[] =
	"SELECT block_number::text FROM events WHERE block_hash = $1 LIMIT 1";

/* The run of RevertBlock items starting at item ($1, $2): one reorg, as far
 * as the producer has written it (at most 1000 blocks); empty when the item
 * itself is not in driver_events. */
static const char reorg_sql[] =
	"WITH x AS (SELECT type, block_hash, sequence_index, id FROM driver_events"
	"  WHERE (sequence_index, id) >= ($1::bigint, $2::bigint) ORDER BY sequence_index, id LIMIT 1000),"
	" n AS (SELECT type, block_hash, id, row_number() OVER (ORDER BY sequence_index, id) AS k FROM x)"
	" SELECT block_hash FROM n WHERE type = 'RevertBlock'"
	" AND k < coalesce((SELECT min(k) FROM n WHERE type <> 'RevertBlock'), 1001)"
	" AND EXISTS (SELECT 1 FROM n WHERE k = 1 AND id = $2::bigint) ORDER BY k";

/* Columns 0..7 are what add_event() expects. */
static const char block_events_sql[] =
	"SELECT e.block_number::text, e.block_hash, e.event_nonce, e.vault_address, e.event_name,"
	" array_to_json(e.event_keys)::text, array_to_json(e.event_data)::text, e.transaction_hash"
	" FROM events e WHERE e.block_hash = $1"
	" ORDER BY e.vault_address COLLATE \"C\", e.event_nonce, e.ctid";

/*
 * Keyset pagination on (block_number, event_nonce, ctid): event_nonce is not
 * guaranteed unique (the producer counts rows), ctid breaks ties.
 * Columns 0..7 as above, then timestamp and ctid.
 */
static const char vault_events_sql[] =
	"SELECT e.block_number::text, e.block_hash, e.event_nonce, e.vault_address, e.event_name,"
	" array_to_json(e.event_keys)::text, array_to_json(e.event_data)::text, e.transaction_hash,"
	" coalesce(b.timestamp, 0)::text, e.ctid::text"
	" FROM events e LEFT JOIN starknet_blocks b ON b.block_hash = e.block_hash"
	" WHERE e.vault_address = $1 AND e.block_number >= $2::numeric AND e.block_number <= $3::numeric"
	" AND (b.block_hash IS NOT NULL OR e.block_hash = $4)"
	/* The chain as it was at the work item ($9 = sequence_index, $10 = id),
	 * however late the item is served: a block reverted by a later item still
	 * counts, one reverted by an earlier item (or marked REVERTED without an
	 * item) does not, and a block first announced by a later item does not
	 * exist yet.  So the frame is the same whatever the pipeline's lag. */
	" AND (b.status IS DISTINCT FROM 'REVERTED' OR EXISTS (SELECT 1 FROM driver_events r"
	"   WHERE r.type = 'RevertBlock' AND r.block_hash = e.block_hash"
	"   AND (r.sequence_index, r.id) > ($9::bigint, $10::bigint)))"
	" AND NOT EXISTS (SELECT 1 FROM driver_events r"
	"   WHERE r.type = 'RevertBlock' AND r.block_hash = e.block_hash"
	"   AND (r.sequence_index, r.id) < ($9::bigint, $10::bigint))"
	" AND NOT EXISTS (SELECT 1 FROM driver_events n"
	"   WHERE n.type IN ('StartBlock', 'NewBlock') AND n.block_hash = e.block_hash"
	"   AND (n.sequence_index, n.id) > ($9::bigint, $10::bigint))"
	" AND (e.block_number, e.event_nonce, e.ctid) > ($5::numeric, $6::bigint, $7::tid)"
	" ORDER BY e.block_number, e.event_nonce, e.ctid"
	" LIMIT $8::int";

void pgf_open(struct pgf *f, const char *conninfo, int connect_timeout, int batch)
{
	static const struct pgc_stmt stmts[] = {
		{"pgf_block", block_sql},
		{"pgf_number", number_sql},
		{"pgf_block_events", block_events_sql},
		{"pgf_vault_events", vault_events_sql},
		{"pgf_reorg", reorg_sql},
		{NULL, NULL},
	};
	memset(f, 0, sizeof *f);
	f->batch = batch;
	js_init(&f->js);
	f->conn = pgc_connect_or_die(conninfo, "block-fetch", connect_timeout);
	pgc_prepare_all(f->conn, stmts, "the block queries");
}

void pgf_close(struct pgf *f)
{
	if (f->conn)
		PQfinish(f->conn);
	f->conn = NULL;
	js_free(&f->js);
	sb_free(&f->tmp);
	PQclear(f->ev);
	f->ev = NULL;
	free(f->ev_hash);
	f->ev_hash = NULL;
}

static PGresult *run(struct pgf *f, const char *stmt, int n, const char *const *vals, const char *what)
{
	PGresult *r = PQexecPrepared(f->conn, stmt, n, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		pgc_die(f->conn, r, EXIT_TEMPFAIL, what);
	return r;
}

int pgf_reorg(struct pgf *f, int64_t item_seq, int64_t item_id, struct sb *out)
{
	char s_seq[24], s_id[24];
	snprintf(s_seq, sizeof s_seq, "%lld", (long long)item_seq);
	snprintf(s_id, sizeof s_id, "%lld", (long long)item_id);
	const char *vals[2] = {s_seq, s_id};
	PGresult *r = run(f, "pgf_reorg", 2, vals, "read the reorg's work items");
	int ret = 0;
	sb_addc(out, '[');
	for (int i = 0; i < PQntuples(r) && ret == 0; i++) {
		if (i)
			sb_addc(out, ',');
		const char *h = PQgetvalue(r, i, 0);
		if (pgf_add_felt(out, h, strlen(h)) < 0)
			ret = error("RevertBlock item with a bad block_hash '%.80s'", h);
	}
	sb_addc(out, ']');
	PQclear(r);
	return ret;
}

/* A non-negative integer that fits in int64, from a numeric's text. */
static int parse_i64(const char *s, const char *what, int64_t *out)
{
	int64_t v = 0;
	if (!*s)
		return error("empty %s", what);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return error("%s '%s' is not a non-negative integer", what, s);
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return error("%s '%s' is out of range", what, s);
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

int pgf_add_felt(struct sb *out, const char *s, size_t n)
{
	u256 v;
	char hex[U256_HEX_MAX];
	if (felt_parse(&v, s, n) < 0)
		return -1;
	size_t len = u256_format_hex(&v, hex);
	sb_addc(out, '"');
	sb_add(out, hex, len);
	sb_addc(out, '"');
	return 0;
}

int pgf_shard_of(const char *addr, size_t len, int n)
{
	u256 v;
	if (felt_parse(&v, addr, len) < 0)
		return -1;
	return (int)((v.w[0] & ((UINT64_C(1) << 60) - 1)) % (uint64_t)n);
}

int pgf_in_shard(const struct pgf *f, const char *addr, size_t len)
{
	if (f->shard_count <= 1)
		return 1;
	int k = pgf_shard_of(addr, len, f->shard_count);
	return k < 0 ? -1 : k == f->shard_index;
}

/* err_msg() := "<what>: <err_msg()>" (error() must not read its own buffer). */
static int wrap_error(const char *what)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", err_msg());
	return error("%s: %s", what, buf);
}

static int add_felt_col(struct sb *out, const PGresult *r, int i, int col, const char *what)
{
	if (PQgetisnull(r, i, col))
		return error("%s is NULL", what);
	if (pgf_add_felt(out, PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col)) < 0)
		return wrap_error(what);
	return 0;
}

/* A JSON array of felt strings (array_to_json of varchar[]), normalised. */
static int add_felt_array(struct pgf *f, struct sb *out, const char *json, const char *what)
{
	if (js_parse(&f->js, json, strlen(json)) < 0 || f->js.t[0].type != JS_ARR)
		return error("%s is not an array", what);
	sb_addc(out, '[');
	int tok = js_first(&f->js, 0);
	for (uint32_t k = 0; k < f->js.t[0].n; k++, tok = js_sibling(&f->js, tok)) {
		const char *s;
		size_t n;
		if (js_str(&f->js, tok, &f->tmp, &s, &n) < 0)
			return error("%s[%u] is not a string", what, k);
		if (k)
			sb_addc(out, ',');
		if (pgf_add_felt(out, s, n) < 0) {
			char w[64];
			snprintf(w, sizeof w, "%s[%u]", what, k);
			return wrap_error(w);
		}
	}
	sb_addc(out, ']');
	return 0;
}

/*
 * Append row i (columns as in block_events_sql) as one event line.  The
 * line is built aside and appended only when complete.
 */
static int add_event(struct pgf *f, struct sb *out, const PGresult *r, int i, int64_t number,
	int64_t timestamp)
{
	struct sb line = SB_INIT;
	int64_t nonce;
	int ret = -1;
	const char *tx = PQgetvalue(r, i, 7);
	if (parse_i64(PQgetvalue(r, i, 2), "event_nonce", &nonce) < 0)
		goto out;
	sb_adds(&line, "{\"op\":\"event\",\"block_number\":");
	sb_add_i64(&line, number);
	sb_adds(&line, ",\"block_hash\":");
	if (add_felt_col(&line, r, i, 1, "block_hash") < 0)
		goto out;
	sb_adds(&line, ",\"timestamp\":");
	sb_add_i64(&line, timestamp);
	sb_adds(&line, ",\"tx\":");
	if (add_felt_col(&line, r, i, 7, "transaction_hash") < 0)
		goto out;
	sb_adds(&line, ",\"vault\":");
	if (add_felt_col(&line, r, i, 3, "vault_address") < 0)
		goto out;
	sb_adds(&line, ",\"nonce\":");
	sb_add_i64(&line, nonce);
	sb_adds(&line, ",\"name\":");
	sb_add_jstr(&line, PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4));
	sb_adds(&line, ",\"keys\":");
	if (add_felt_array(f, &line, PQgetvalue(r, i, 5), "event_keys") < 0)
		goto out;
	sb_adds(&line, ",\"data\":");
	if (add_felt_array(f, &line, PQgetvalue(r, i, 6), "event_data") < 0)
		goto out;
	sb_adds(&line, "}\n");
	sb_add(out, line.buf, line.len);
	ret = 0;
out:
	if (ret < 0) {
		char w[160];
		snprintf(w, sizeof w, "bad stored event (block %lld, transaction %.80s, nonce %.24s)",
			(long long)number, tx, PQgetvalue(r, i, 2));
		wrap_error(w);
	}
	sb_free(&line);
	return ret;
}

static int block_row(PGresult *r, struct pgf_block *b);

int pgf_block(struct pgf *f, const char *hash, struct pgf_block *b)
{
	const char *vals[1] = {hash};
	return block_row(run(f, "pgf_block", 1, vals, "read starknet_blocks"), b);
}

/* The next result of a pipeline: one of want, else die as run() does. */
static PGresult *pipe_result(struct pgf *f, const char *what)
{
	PGresult *r = PQgetResult(f->conn);
	if (!r)
		pgc_die(f->conn, NULL, EXIT_TEMPFAIL, what);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_SYNC)
		pgc_die(f->conn, r, EXIT_TEMPFAIL, what);
	return r;
}

int pgf_block_prefetch(struct pgf *f, const char *hash, struct pgf_block *b)
{
	const char *vals[1] = {hash};
	const char *what = "read starknet_blocks and events";
	if (!PQenterPipelineMode(f->conn) || !PQsendQueryPrepared(f->conn, "pgf_block", 1, vals, NULL, NULL, 0) ||
		!PQsendQueryPrepared(f->conn, "pgf_block_events", 1, vals, NULL, NULL, 0) || !PQpipelineSync(f->conn))
		pgc_die(f->conn, NULL, EXIT_TEMPFAIL, what);
	PGresult *rb = pipe_result(f, what), *x;
	while ((x = PQgetResult(f->conn)) != NULL)
		PQclear(x);
	PGresult *re = pipe_result(f, what);
	while ((x = PQgetResult(f->conn)) != NULL)
		PQclear(x);
	x = pipe_result(f, what);
	if (PQresultStatus(x) != PGRES_PIPELINE_SYNC)
		pgc_die(f->conn, x, EXIT_SOFTWARE, what);
	PQclear(x);
	if (!PQexitPipelineMode(f->conn))
		pgc_die(f->conn, NULL, EXIT_TEMPFAIL, what);
	PQclear(f->ev);
	free(f->ev_hash);
	f->ev = re;
	f->ev_hash = xstrdup(hash);
	return block_row(rb, b);
}

/* Fill b from a pgf_block result (and clear it). */
static int block_row(PGresult *r, struct pgf_block *b)
{
	int ret = 0;
	if (PQntuples(r) > 0) {
		ret = 1;
		if (parse_i64(PQgetvalue(r, 0, 0), "block_number", &b->number) < 0 ||
			parse_i64(PQgetvalue(r, 0, 1), "timestamp", &b->timestamp) < 0)
			ret = wrap_error("bad starknet_blocks row");
		b->reverted = !strcmp(PQgetvalue(r, 0, 2), "REVERTED");
		b->head = -1;
		if (!PQgetisnull(r, 0, 3) && parse_i64(PQgetvalue(r, 0, 3), "head", &b->head) < 0)
			ret = wrap_error("bad starknet_blocks head");
	}
	PQclear(r);
	return ret;
}

int pgf_block_number_from_events(struct pgf *f, const char *hash, int64_t *number)
{
	const char *vals[1] = {hash};
	PGresult *r = run(f, "pgf_number", 1, vals, "read events");
	int ret = 0;
	if (PQntuples(r) > 0) {
		ret = 1;
		if (parse_i64(PQgetvalue(r, 0, 0), "block_number", number) < 0)
			ret = wrap_error("bad events row");
	}
	PQclear(r);
	return ret;
}

int pgf_block_events(struct pgf *f, const char *hash, const struct pgf_block *b, struct sb *out)
{
	const char *vals[1] = {hash};
	PGresult *r;
	if (f->ev && !strcmp(f->ev_hash, hash)) {
		r = f->ev; /* fetched ahead with the block */
		f->ev = NULL;
	} else {
		r = run(f, "pgf_block_events", 1, vals, "read events");
	}
	int n = PQntuples(r), ret = 0;
	for (int i = 0; i < n && !ret; i++) {
		int64_t num;
		if (parse_i64(PQgetvalue(r, i, 0), "block_number", &num) < 0)
			ret = -1;
		else if (num != b->number)
			ret = error("event of block %s has block_number %lld, the block row says %lld",
				hash, (long long)num, (long long)b->number);
		else {
			int mine = pgf_in_shard(f, PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3));
			if (mine < 0)
				ret = wrap_error("vault_address");
			else if (mine)
				ret = add_event(f, out, r, i, b->number, b->timestamp);
		}
	}
	PQclear(r);
	return ret;
}

int pgf_vault_events(struct pgf *f, const char *vault, const char *start_hash, int64_t start,
	int64_t end, int64_t item_seq, int64_t item_id, struct sb *out, size_t flush_at)
{
	char s_start[24], s_end[24], k_num[24] = "-1", k_nonce[24] = "-1", k_tid[32] = "(0,0)", s_lim[16];
	char s_seq[24], s_id[24];
	snprintf(s_seq, sizeof s_seq, "%lld", (long long)item_seq);
	snprintf(s_id, sizeof s_id, "%lld", (long long)item_id);
	snprintf(s_start, sizeof s_start, "%lld", (long long)start);
	snprintf(s_end, sizeof s_end, "%lld", (long long)end);
	snprintf(s_lim, sizeof s_lim, "%d", f->batch);
	for (;;) {
		const char *vals[10] = {vault, s_start, s_end, start_hash, k_num, k_nonce, k_tid, s_lim, s_seq, s_id};
		PGresult *r = run(f, "pgf_vault_events", 10, vals, "read events");
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			int64_t num, ts;
			if (parse_i64(PQgetvalue(r, i, 0), "block_number", &num) < 0 ||
				parse_i64(PQgetvalue(r, i, 8), "timestamp", &ts) < 0 ||
				add_event(f, out, r, i, num, ts) < 0) {
				PQclear(r);
				return -1;
			}
		}
		if (n > 0) {
			snprintf(k_num, sizeof k_num, "%s", PQgetvalue(r, n - 1, 0));
			snprintf(k_nonce, sizeof k_nonce, "%s", PQgetvalue(r, n - 1, 2));
			snprintf(k_tid, sizeof k_tid, "%s", PQgetvalue(r, n - 1, 9));
		}
		PQclear(r);
		if (flush_at && out->len > flush_at) {
			io_out(out->buf, out->len);
			sb_reset(out);
		}
		if (n < f->batch)
			return 0;
	}
}
