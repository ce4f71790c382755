/*
 * pgproduce.c -- see pgproduce.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/die.h"
#include "frame/frame.h"
#include "pg/pgconn.h"
#include "dom/pitchlake/produce.h"

/* ------------------------------------------------------------------ */
/* Frame parser                                                        */
/* ------------------------------------------------------------------ */

void pgp_parser_init(struct pgp_parser *p)
{
	memset(p, 0, sizeof *p);
	js_init(&p->js);
}

void pgp_parser_free(struct pgp_parser *p)
{
	struct pgp_frame *f = &p->f;
	js_free(&p->js);
	sb_free(&p->tmp);
	sb_free(&p->line);
	sb_free(&f->nonces);
	sb_free(&f->vaults);
	sb_free(&f->names);
	sb_free(&f->keys);
	sb_free(&f->data);
	sb_free(&f->txs);
	sb_free(&f->deployed);
}

static void frame_reset(struct pgp_frame *f)
{
	f->nevents = 0;
	f->ndeployed = 0;
	sb_reset(&f->nonces);
	sb_reset(&f->vaults);
	sb_reset(&f->names);
	sb_reset(&f->keys);
	sb_reset(&f->data);
	sb_reset(&f->txs);
	sb_reset(&f->deployed);
}

/* err_msg() := "<what>: <err_msg()>" (error() must not read its own buffer). */
static int wrap_error(const char *what)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", err_msg());
	return error("%s: %s", what, buf);
}

/* A felt in string token t, parsed and formatted canonically into out. */
static int tok_felt(struct pgp_parser *p, int t, const char *what, char out[U256_HEX_MAX])
{
	const char *s;
	size_t n;
	u256 v;
	if (js_str(&p->js, t, &p->tmp, &s, &n) < 0)
		return error("'%s' is not a string", what);
	if (felt_parse(&v, s, n) < 0) {
		char w[80];
		snprintf(w, sizeof w, "'%s'", what);
		return wrap_error(w);
	}
	u256_format_hex(&v, out);
	return 0;
}

static int get_felt(struct pgp_parser *p, const char *key, char out[U256_HEX_MAX])
{
	int t = js_get(&p->js, 0, key);
	if (t < 0 || p->js.t[t].type == JS_NULL)
		return error("'%s' is missing", key);
	return tok_felt(p, t, key, out);
}

static int get_u63(struct pgp_parser *p, const char *key, int64_t *out)
{
	int t = js_get(&p->js, 0, key);
	if (t < 0)
		return error("'%s' is missing", key);
	if (js_u63(&p->js, t, out) < 0)
		return error("'%s' is not a non-negative integer", key);
	return 0;
}

/* Append the felts of the array member key as one quoted array-literal
 * element: "{0x1,0x2}".  *json_len: the length of the array as block-fetch
 * writes it back (["0x1","0x2"]). */
static int add_felt_array(struct pgp_parser *p, const char *key, struct sb *out, int first, size_t *json_len)
{
	int t = js_get(&p->js, 0, key);
	if (t < 0)
		return error("'%s' is missing", key);
	if (p->js.t[t].type != JS_ARR)
		return error("'%s' is not an array", key);
	if (!first)
		sb_addc(out, ',');
	sb_adds(out, "\"{");
	size_t start = out->len;
	int e = js_first(&p->js, t);
	uint32_t n = p->js.t[t].n;
	for (uint32_t k = 0; k < n; k++, e = js_sibling(&p->js, e)) {
		char hex[U256_HEX_MAX], w[64];
		snprintf(w, sizeof w, "%s[%u]", key, k);
		if (tok_felt(p, e, w, hex) < 0)
			return -1;
		if (k)
			sb_addc(out, ',');
		sb_adds(out, hex);
	}
	/* The felts and commas, plus a pair of quotes per felt and the brackets. */
	*json_len = out->len - start + 2 * (size_t)n + 2;
	sb_adds(out, "}\"");
	return 0;
}

/*
 * The length (without '\n') of the event line block-fetch will write for
 * this event (fetch.c, add_event), but for the keys and data arrays: the
 * same members in the same order, the felts canonical, the name escaped by
 * sb_add_jstr.  Its timestamp is the block's, which is the frame's.
 */
static size_t event_line_len(struct pgp_parser *p, int64_t number, const char *hash, int64_t ts,
	const char *tx, const char *vault, int64_t nonce, const char *name, size_t nlen)
{
	struct sb *l = &p->line;
	sb_reset(l);
	sb_adds(l, "{\"op\":\"event\",\"block_number\":");
	sb_add_i64(l, number);
	sb_adds(l, ",\"block_hash\":\"");
	sb_adds(l, hash);
	sb_adds(l, "\",\"timestamp\":");
	sb_add_i64(l, ts);
	sb_adds(l, ",\"tx\":\"");
	sb_adds(l, tx);
	sb_adds(l, "\",\"vault\":\"");
	sb_adds(l, vault);
	sb_adds(l, "\",\"nonce\":");
	sb_add_i64(l, nonce);
	sb_adds(l, ",\"name\":");
	sb_add_jstr(l, name, nlen);
	sb_adds(l, ",\"keys\":,\"data\":}");
	return l->len; /* without the arrays, which the caller adds */
}

static int parse_begin(struct pgp_parser *p, uint64_t lineno)
{
	struct pgp_frame *f = &p->f;
	int t = js_get(&p->js, 0, "type");
	if (t < 0 || p->js.t[t].type != JS_STR)
		return error("'type' is missing or not a string");
	if (js_str_eq(&p->js, t, "StartBlock") || js_str_eq(&p->js, t, "NewBlock"))
		f->kind = PGP_START;
	else if (js_str_eq(&p->js, t, "RevertBlock"))
		f->kind = PGP_REVERT;
	else if (js_str_eq(&p->js, t, "CatchupVault"))
		return error("CatchupVault frames are not supported (the producer's vault catch-up is not simulated)");
	else
		return error("unknown type %.*s", (int)(p->js.t[t].len > 64 ? 64 : p->js.t[t].len),
			p->js.src + p->js.t[t].off);
	if (get_u63(p, "driver_id", &f->driver_id) < 0 || get_u63(p, "block_number", &f->number) < 0 ||
		get_felt(p, "block_hash", f->hash) < 0 || get_u63(p, "timestamp", &f->timestamp) < 0)
		return -1;
	frame_reset(f);
	f->begin_line = lineno;
	p->in_frame = 1;
	return 0;
}

static int deployed_has(const struct pgp_frame *f, const char *vault)
{
	for (size_t off = 0; off < f->deployed.len; off += strlen(f->deployed.buf + off) + 1)
		if (!strcmp(f->deployed.buf + off, vault))
			return 1;
	return 0;
}

static int parse_event(struct pgp_parser *p)
{
	struct pgp_frame *f = &p->f;
	char hash[U256_HEX_MAX], tx[U256_HEX_MAX], vault[U256_HEX_MAX];
	int64_t number, ts, nonce;
	const char *name;
	size_t nlen;
	int first = f->nevents == 0;

	if (get_u63(p, "block_number", &number) < 0 || get_felt(p, "block_hash", hash) < 0 ||
		get_u63(p, "timestamp", &ts) < 0)
		return -1;
	if (number != f->number || strcmp(hash, f->hash) || ts != f->timestamp)
		return error("event of block %lld (%s, timestamp %lld) in the frame of block %lld (%s, timestamp %lld)",
			(long long)number, hash, (long long)ts, (long long)f->number, f->hash,
			(long long)f->timestamp);
	if (get_felt(p, "tx", tx) < 0 || get_felt(p, "vault", vault) < 0 ||
		get_u63(p, "nonce", &nonce) < 0)
		return -1;
	int t = js_get(&p->js, 0, "name");
	if (t < 0 || js_str(&p->js, t, &p->tmp, &name, &nlen) < 0)
		return error("'name' is missing or not a string");
	if (memchr(name, '\0', nlen))
		return error("'name' contains a NUL character");
	if (!first) {
		sb_addc(&f->names, ',');
		sb_addc(&f->nonces, ',');
		sb_addc(&f->vaults, ',');
		sb_addc(&f->txs, ',');
	}
	/* A quoted array element: escape '"' and '\'. */
	sb_addc(&f->names, '"');
	for (size_t i = 0; i < nlen; i++) {
		if (name[i] == '"' || name[i] == '\\')
			sb_addc(&f->names, '\\');
		sb_addc(&f->names, name[i]);
	}
	sb_addc(&f->names, '"');
	int deploy = nlen == 16 && !memcmp(name, "ContractDeployed", 16);
	/* (name may live in p->tmp, which the felts below reuse) */
	size_t ll = event_line_len(p, number, hash, ts, tx, vault, nonce, name, nlen), keys_len, data_len;
	if (add_felt_array(p, "keys", &f->keys, first, &keys_len) < 0 ||
		add_felt_array(p, "data", &f->data, first, &data_len) < 0)
		return -1;
	/* Stored now, this event would stop the pipeline later: block-fetch
	 * would write a line that ep-apply refuses as too long. */
	ll += keys_len + data_len;
	if (ll > FR_MAX_LINE)
		return error("event line would be %zu bytes as block-fetch writes it, longer than the %zu-byte line limit of the stages downstream (docs/formats.md)",
			ll, FR_MAX_LINE);
	sb_add_i64(&f->nonces, nonce);
	sb_adds(&f->vaults, vault);
	sb_adds(&f->txs, tx);
	if (deploy && !deployed_has(f, vault)) {
		sb_add(&f->deployed, vault, strlen(vault) + 1);
		f->ndeployed++;
	}
	f->nevents++;
	return 0;
}

int pgp_parse_line(struct pgp_parser *p, const char *line, size_t len, uint64_t lineno)
{
	if (js_parse(&p->js, line, len) < 0)
		return -1;
	if (p->js.t[0].type != JS_OBJ)
		return error("not a JSON object");
	int t = js_get(&p->js, 0, "op");
	if (t < 0 || p->js.t[t].type != JS_STR)
		return error("'op' is missing or not a string");
	if (js_str_eq(&p->js, t, "begin")) {
		if (p->in_frame)
			return error("begin line inside the frame that began at line %llu",
				(unsigned long long)p->f.begin_line);
		return parse_begin(p, lineno);
	}
	if (js_str_eq(&p->js, t, "event")) {
		if (!p->in_frame)
			return error("event line outside a frame");
		return parse_event(p);
	}
	if (js_str_eq(&p->js, t, "end")) {
		int64_t id;
		if (!p->in_frame)
			return error("end line outside a frame");
		if (get_u63(p, "driver_id", &id) < 0)
			return -1;
		if (id != p->f.driver_id)
			return error("end of driver_id %lld in the frame of driver_id %lld", (long long)id,
				(long long)p->f.driver_id);
		p->in_frame = 0;
		p->f.end_line = lineno;
		return 1;
	}
	return error("unknown op %.*s", (int)(p->js.t[t].len > 64 ? 64 : p->js.t[t].len),
		p->js.src + p->js.t[t].off);
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

/* Events of one block: one statement whatever their number. */
static const char events_sql[] =
	"INSERT INTO events (event_nonce, block_number, block_hash, vault_address, event_name,"
	" event_keys, event_data, transaction_hash)"
	" SELECT u.nonce, $1::numeric, $2, u.vault, u.name, u.keys::varchar(256)[],"
	" u.data::varchar(256)[], u.tx"
	" FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])"
	" WITH ORDINALITY AS u(nonce, vault, name, keys, data, tx, ord)"
	" ORDER BY u.ord";

/* parent_hash: the live block one below (at most one: starknet_blocks_live_number). */
static const char block_sql[] =
	"INSERT INTO starknet_blocks (block_number, block_hash, parent_hash, timestamp, status)"
	" SELECT $1::numeric, $2::varchar,"
	" coalesce((SELECT p.block_hash FROM starknet_blocks p"
	" WHERE p.block_number = $1::numeric - 1 AND p.status <> 'REVERTED' LIMIT 1), '0x0'),"
	" $3::numeric, 'MINED'";

/* An upsert without a unique key: a vault re-deployed by a replacement
 * block after a reorg points at the new block. */
static const char register_sql[] =
	"WITH u AS (UPDATE vault_registry SET deployed_at = $2::varchar, last_block_indexed = $2::varchar"
	" WHERE vault_address = $1::varchar RETURNING 1)"
	" INSERT INTO vault_registry (vault_address, deployed_at, last_block_indexed)"
	" SELECT $1::varchar, $2::varchar, $2::varchar WHERE NOT EXISTS (SELECT 1 FROM u)";

static const char driver_sql[] =
	"INSERT INTO driver_events (sequence_index, type, block_hash)"
	" VALUES (nextval('driver_events_sequence'), $1, $2) RETURNING id, sequence_index";

static const char revert_sql[] =
	"UPDATE starknet_blocks SET status = 'REVERTED'"
	" WHERE block_hash = $1 AND block_number = $2::numeric AND status <> 'REVERTED'";

/* Exit code for a failed statement: data refused 65, schema 78, else 75. */
static int code_for(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (pgc_schema_missing(r))
		return EXIT_CONFIG;
	if (st && (!strncmp(st, "22", 2) || !strncmp(st, "23", 2)))
		return EXIT_DATAERR;
	return EXIT_TEMPFAIL;
}

void pgp_open(struct pgp *w, const char *conninfo, int connect_timeout, int reg)
{
	static const struct pgc_stmt stmts[] = {
		{"pgp_events", events_sql},
		{"pgp_block", block_sql},
		{"pgp_register", register_sql},
		{"pgp_driver", driver_sql},
		{"pgp_revert", revert_sql},
		{NULL, NULL},
	};
	memset(w, 0, sizeof *w);
	w->reg = reg;
	w->conn = pgc_connect_or_die(conninfo, "pg-produce", connect_timeout);
	pgc_prepare_all(w->conn, stmts, "the producer statements");
}

void pgp_close(struct pgp *w)
{
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* id and sequence_index of a RETURNING row. */
static void get_ids(const PGresult *r, struct pgp_result *res)
{
	if (PQntuples(r) != 1 || PQnfields(r) != 2)
		die_code(EXIT_SOFTWARE, "unexpected result of the driver_events insert");
	res->driver_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	res->seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
}

/* Array literal "{" body "}" into buf. */
static const char *arr(struct sb *buf, const struct sb *body)
{
	sb_reset(buf);
	sb_addc(buf, '{');
	sb_add(buf, body->buf ? body->buf : "", body->len);
	sb_addc(buf, '}');
	return buf->buf;
}

static void send_or_die(struct pgp *w, int ok, const char *what)
{
	if (!ok)
		pgc_die(w->conn, NULL, EXIT_TEMPFAIL, what);
}

/* What a pipelined query's result is read for. */
enum qkind {
	Q_OTHER,
	Q_DRIVER, /* id, sequence_index */
	Q_COMMIT, /* the commit time */
};

/*
 * StartBlock: BEGIN, events, block, registry rows, driver event, COMMIT and
 * a sync, all sent before reading anything (pipeline mode): one round trip.
 */
static void write_block(struct pgp *w, const struct pgp_frame *f, struct pgp_result *res)
{
	char num[24], ts[24], what[160];
	struct sb a[6] = {SB_INIT, SB_INIT, SB_INIT, SB_INIT, SB_INIT, SB_INIT};
	enum qkind *kinds = xmalloc((5 + (size_t)f->ndeployed) * sizeof *kinds);
	int nq = 0;
	PGconn *c = w->conn;

	snprintf(num, sizeof num, "%lld", (long long)f->number);
	snprintf(ts, sizeof ts, "%lld", (long long)f->timestamp);
	snprintf(what, sizeof what, "write block %lld (%s) of the frame ending at line %llu",
		(long long)f->number, f->hash, (unsigned long long)f->end_line);
	if (!PQenterPipelineMode(c))
		pgc_die(c, NULL, EXIT_SOFTWARE, "enter pipeline mode");
	send_or_die(w, PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0), what);
	kinds[nq++] = Q_OTHER;
	if (f->nevents) {
		const char *v[8] = {num, f->hash, arr(&a[0], &f->nonces), arr(&a[1], &f->vaults),
			arr(&a[2], &f->names), arr(&a[3], &f->keys), arr(&a[4], &f->data), arr(&a[5], &f->txs)};
		send_or_die(w, PQsendQueryPrepared(c, "pgp_events", 8, v, NULL, NULL, 0), what);
		kinds[nq++] = Q_OTHER;
	}
	{
		const char *v[3] = {num, f->hash, ts};
		send_or_die(w, PQsendQueryPrepared(c, "pgp_block", 3, v, NULL, NULL, 0), what);
		kinds[nq++] = Q_OTHER;
	}
	/* Registry rows: a handful per block at most. */
	size_t off = 0;
	for (uint32_t i = 0; w->reg && i < f->ndeployed; i++) {
		const char *v[2] = {f->deployed.buf + off, f->hash};
		off += strlen(f->deployed.buf + off) + 1;
		send_or_die(w, PQsendQueryPrepared(c, "pgp_register", 2, v, NULL, NULL, 0), what);
		kinds[nq++] = Q_OTHER;
	}
	{
		const char *v[2] = {"StartBlock", f->hash};
		send_or_die(w, PQsendQueryPrepared(c, "pgp_driver", 2, v, NULL, NULL, 0), what);
		kinds[nq++] = Q_DRIVER;
	}
	send_or_die(w, PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0), what);
	kinds[nq++] = Q_COMMIT;
	send_or_die(w, PQpipelineSync(c), what);
	for (int i = 0; i < 6; i++)
		sb_free(&a[i]);

	PGresult *err = NULL;
	for (int i = 0; i < nq; i++) {
		PGresult *r = PQgetResult(c);
		if (!r)
			pgc_die(c, err, EXIT_TEMPFAIL, what);
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (kinds[i] == Q_DRIVER)
				get_ids(r, res);
			else if (kinds[i] == Q_COMMIT)
				res->commit_ns = realtime_ns();
			PQclear(r);
		} else if (st == PGRES_PIPELINE_ABORTED) {
			PQclear(r);
		} else {
			if (pgc_conn_lost(c, r))
				pgc_die(c, r, EXIT_TEMPFAIL, what);
			if (err)
				PQclear(r);
			else
				err = r;
		}
		/* Each query's results end with a NULL. */
		while ((r = PQgetResult(c)) != NULL) {
			if (PQresultStatus(r) == PGRES_FATAL_ERROR && !err)
				err = r;
			else
				PQclear(r);
		}
	}
	PGresult *sync = PQgetResult(c);
	if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
		pgc_die(c, err ? err : sync, err ? code_for(err) : EXIT_TEMPFAIL, what);
	PQclear(sync);
	if (err)
		pgc_die(c, err, code_for(err), what);
	if (!PQexitPipelineMode(c))
		pgc_die(c, NULL, EXIT_SOFTWARE, "leave pipeline mode");
	free(kinds);
}

static PGresult *exec_prepared(struct pgp *w, const char *stmt, int n, const char *const *v,
	ExecStatusType want, const char *what)
{
	PGresult *r = PQexecPrepared(w->conn, stmt, n, v, NULL, NULL, 0);
	if (PQresultStatus(r) != want)
		pgc_die(w->conn, r, code_for(r), what);
	return r;
}

/* RevertBlock: rare, so plain round trips; the UPDATE must hit the block. */
static void write_revert(struct pgp *w, const struct pgp_frame *f, struct pgp_result *res)
{
	char num[24], what[160];
	snprintf(num, sizeof num, "%lld", (long long)f->number);
	snprintf(what, sizeof what, "revert block %lld (%s) of the frame ending at line %llu",
		(long long)f->number, f->hash, (unsigned long long)f->end_line);
	pgc_exec_or_die(w->conn, "BEGIN", PGRES_COMMAND_OK, what);
	const char *uv[2] = {f->hash, num};
	PGresult *r = exec_prepared(w, "pgp_revert", 2, uv, PGRES_COMMAND_OK, what);
	int hit = !strcmp(PQcmdTuples(r), "1");
	PQclear(r);
	if (!hit) {
		pgc_exec_or_die(w->conn, "ROLLBACK", PGRES_COMMAND_OK, "roll back");
		die_code(EXIT_DATAERR, "unable to %s: no such block in starknet_blocks that is not REVERTED",
			what);
	}
	const char *dv[2] = {"RevertBlock", f->hash};
	r = exec_prepared(w, "pgp_driver", 2, dv, PGRES_TUPLES_OK, what);
	get_ids(r, res);
	PQclear(r);
	pgc_exec_or_die(w->conn, "COMMIT", PGRES_COMMAND_OK, what);
	res->commit_ns = realtime_ns();
}

void pgp_write(struct pgp *w, const struct pgp_frame *f, struct pgp_result *res)
{
	memset(res, 0, sizeof *res);
	if (f->kind == PGP_START)
		write_block(w, f, res);
	else
		write_revert(w, f, res);
}
