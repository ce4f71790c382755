/*
 * pgwrite.c -- see pgwrite.h and docs/pg-write.md.
 *
 * Shape of one transaction (libpq pipeline mode, blocking socket):
 *
 *   segment 1: BEGIN; SELECT checkpoint FOR UPDATE; Sync       (one round trip)
 *   segment 2+: per frame not yet applied: work-table UPDATE, journal
 *              block, puts/dels (+ verify SELECTs), journal entries,
 *              revert/prune DELETEs; then checkpoint upsert; COMMIT; Sync
 *              (a Sync every SEGMENT statements keeps buffers bounded)
 *
 * Every queued statement carries the index of its frame, so the first
 * error names the frame to quarantine.  The frames before it are then
 * re-applied in a new transaction, acked, and the program stops (65).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/pgconn.h"
#include "frame/frame.h"
#include "pg/pgwrite.h"
#include "pg/pipeline.h"

#define MAX_LINE ((size_t)16 << 20)	 /* formats.md: lines are at most 16 MiB */
#define BATCH_BYTES ((size_t)32 << 20)	 /* close a catch-up batch at this much frame text */
#define SEGMENT 1000			 /* statements between two Syncs */
#define QUARANTINE_MAX ((size_t)1 << 20) /* pl_quarantine.frame is truncated to 1 MB */
#define NUMERIC_OID 1700u

/* ---------------------------------------------------------------- catalog */

/* int2vector subscripts start at 0: the key position is made 1-based. */
static const char cat_sql[] =
	"SELECT a.attname, a.atttypid::int8, a.atttypmod, t.typcategory,"
	" coalesce(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0)"
	" FROM pg_catalog.pg_attribute a"
	" JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	" LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
	" WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped"
	" ORDER BY a.attnum";

static int table_reject(struct pgw_table *t, const char *why)
{
	t->state = -1;
	free(t->reason);
	t->reason = xstrdup(why);
	return error("%s", why);
}

void pgw_add_ident(struct sb *out, PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	if (!q)
		die_code(EXIT_SOFTWARE, "unable to quote identifier '%s': %s", name, PQerrorMessage(conn));
	sb_adds(out, q);
	PQfreemem(q);
}

void pgw_add_collist(struct sb *out, PGconn *conn, const struct pgw_table *t)
{
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			sb_addc(out, ',');
		pgw_add_ident(out, conn, t->cols[i].name);
	}
}

int pgw_table_load(PGconn *conn, struct pgw_table *t, const char *pipeline)
{
	const char *p[2] = {t->name, pipeline};
	struct sb why = SB_INIT;
	PGresult *r;
	if (pipeline) {
		r = PQexecParams(conn, "SELECT 1 FROM pl_state_tables WHERE table_name = $1 AND pipeline = $2", 2, NULL, p,
			NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			pgc_die(conn, r, EXIT_CONFIG, "look up pl_state_tables");
		int n = PQntuples(r);
		PQclear(r);
		if (!n) {
			sb_addf(&why, "table \"%s\" is not registered in pl_state_tables for pipeline '%s'", t->name, pipeline);
			int rc = table_reject(t, why.buf);
			sb_free(&why);
			return rc;
		}
	}
	r = PQexecParams(conn, cat_sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		pgc_die(conn, r, EXIT_SOFTWARE, "look up a table in pg_catalog");
	int n = PQntuples(r);
	if (n == 0)
		sb_addf(&why, "table \"%s\" does not exist", t->name);
	t->ncols = n;
	t->cols = xcalloc((size_t)(n ? n : 1), sizeof *t->cols);
	t->pk = xcalloc((size_t)(n ? n : 1), sizeof *t->pk);
	t->npk = 0;
	for (int i = 0; i < n; i++) {
		struct pgw_col *c = &t->cols[i];
		c->name = xstrdup(PQgetvalue(r, i, 0));
		c->typid = (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		c->typmod = atoi(PQgetvalue(r, i, 2));
		c->typcat = PQgetvalue(r, i, 3)[0];
		c->pkpos = atoi(PQgetvalue(r, i, 4));
		if (c->pkpos > 0 && c->pkpos <= n) {
			t->pk[c->pkpos - 1] = i;
			t->npk++;
		}
	}
	PQclear(r);
	if (n && t->npk == 0)
		sb_addf(&why, "table \"%s\" has no primary key", t->name);
	if (why.len) {
		int rc = table_reject(t, why.buf);
		sb_free(&why);
		return rc;
	}
	sb_reset(&why);
	pgw_add_ident(&why, conn, t->name);
	free(t->qname);
	t->qname = xstrdup(why.buf);
	sb_free(&why);
	t->state = 1;
	return 0;
}

void pgw_table_free(struct pgw_table *t)
{
	for (int i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	free(t->pk);
	free(t->name);
	free(t->reason);
	free(t->qname);
	memset(t, 0, sizeof *t);
}

void pgw_add_value(struct sb *out, const struct pgw_col *col, const char *val, int isnull)
{
	if (isnull)
		sb_add(out, "null", 4);
	else if (col->typcat == 'B')
		sb_adds(out, val[0] == 't' ? "true" : "false");
	else
		sb_add_jstr(out, val, strlen(val));
}

/* ------------------------------------------------------------ parameters */

/* Text parameters of one statement: values copied NUL-terminated into b. */
struct pbuf {
	struct sb b;
	size_t *off;
	const char **v;
	int n, cap;
};

static void pb_reset(struct pbuf *p)
{
	sb_reset(&p->b);
	p->n = 0;
}

static void pb_slot(struct pbuf *p, size_t off)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->off = xrealloc(p->off, (size_t)p->cap * sizeof *p->off);
		p->v = xrealloc(p->v, (size_t)p->cap * sizeof *p->v);
	}
	p->off[p->n++] = off;
}

static void pb_add(struct pbuf *p, const char *s, size_t n)
{
	pb_slot(p, p->b.len);
	sb_add(&p->b, s, n);
	sb_addc(&p->b, '\0');
}

static void pb_null(struct pbuf *p)
{
	pb_slot(p, (size_t)-1);
}

static void pb_i64(struct pbuf *p, int64_t v)
{
	pb_slot(p, p->b.len);
	sb_add_i64(&p->b, v);
	sb_addc(&p->b, '\0');
}

static const char *const *pb_vals(struct pbuf *p)
{
	for (int i = 0; i < p->n; i++)
		p->v[i] = p->off[i] == (size_t)-1 ? NULL : p->b.buf + p->off[i];
	return p->v;
}

static void pb_free(struct pbuf *p)
{
	sb_free(&p->b);
	free(p->off);
	free(p->v);
}

/* ----------------------------------------------------------------- frames */

enum ftype { FT_START,
	FT_REVERT,
	FT_CATCHUP };

/* One complete (or, in the last slot, partial) frame: its lines verbatim. */
struct frame {
	struct sb text; /* every line, '\n'-terminated */
	size_t *loff;	/* start of each line in text */
	size_t nl, al;
	uint64_t line0; /* input line number of the begin line */
	int64_t driver_id, seq, finalized, block_number;
	int has_fin, has_block, has_undo, skipped;
	enum ftype type;
	struct sb hash; /* begin line's block_hash */
};

static void frame_reset(struct frame *f)
{
	if (f->text.cap > (1u << 20))
		sb_free(&f->text);
	sb_reset(&f->text);
	sb_reset(&f->hash);
	f->nl = 0;
	f->has_fin = f->has_block = f->has_undo = f->skipped = 0;
	f->finalized = f->block_number = 0;
}

static void frame_add_line(struct frame *f, const char *line, size_t len)
{
	if (f->nl == f->al) {
		f->al = f->al ? f->al * 2 : 16;
		f->loff = xrealloc(f->loff, f->al * sizeof *f->loff);
	}
	f->loff[f->nl++] = f->text.len;
	sb_add(&f->text, line, len);
	sb_addc(&f->text, '\n');
}

static const char *frame_line(const struct frame *f, size_t i, size_t *len)
{
	size_t end = i + 1 < f->nl ? f->loff[i + 1] : f->text.len;
	*len = end - f->loff[i] - 1;
	return f->text.buf + f->loff[i];
}

/* ------------------------------------------------------------- the writer */

enum { K_CMD,
	K_CP,
	K_VERIFY,
	K_COMMIT };

struct expect {
	int frame; /* index into fr[], -1 for BEGIN/checkpoint/COMMIT */
	int kind;
	int line;
};

enum { TX_OK,
	TX_FAIL,
	TX_COMMIT_FAIL };

struct pgw {
	PGconn *conn;
	struct pgw_opts o;
	struct pgw_table **tabs;
	int ntabs, atabs;
	struct frame *fr; /* batch_max + 1 slots; the last may hold a partial frame */
	int nfr;
	size_t batch_bytes;
	int in_frame;
	struct lr lr;
	struct js js, js2;
	struct sb tmp, tmp2, reason, out, sql, badline;
	struct pbuf pb;
	struct expect *ex;
	int nex, aex;
	/* outcome of the transaction being run */
	int failed, fail_frame, fail_kind;
	/* checkpoint as read in the current transaction */
	int have_cp;
	int64_t cp_driver, cp_seq, cp_fin;
	/* journal pruning: last finalized pruned, lowest block journaled since */
	int64_t prune_fin, min_new_block;
	int64_t batch_fin; /* highest `finalized` of the frames in the transaction */
	/* journal entries waiting to be sent as one INSERT (same frame and block) */
	struct sb ja_tbl, ja_key, ja_before, ja_hash;
	int ja_n, ja_fi;
	int64_t ja_bn;
	long commits, die_after;
	int reject_kind; /* enum fr_reject_kind of the reason */
};

static struct pgw_table *table_get(struct pgw *w, const char *name, size_t n, int create)
{
	for (int i = 0; i < w->ntabs; i++)
		if (w->tabs[i]->namelen == n && !memcmp(w->tabs[i]->name, name, n))
			return w->tabs[i];
	if (!create)
		return NULL;
	if (w->ntabs == w->atabs) {
		w->atabs = w->atabs ? w->atabs * 2 : 16;
		w->tabs = xrealloc(w->tabs, (size_t)w->atabs * sizeof *w->tabs);
	}
	struct pgw_table *t = xcalloc(1, sizeof *t);
	t->name = xstrndup(name, n);
	t->namelen = n;
	t->id = w->ntabs;
	w->tabs[w->ntabs++] = t;
	return t;
}

static void prepare_or_die(PGconn *conn, const char *name, const char *sql, int nparams, int code)
{
	PGresult *r = PQprepare(conn, name, sql, nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		struct sb what = SB_INIT;
		sb_addf(&what, "prepare statement %s", name);
		pgc_die(conn, r, code, what.buf);
	}
	PQclear(r);
}

/* Prepare put/del/select of a freshly loaded table; -1 (table rejected) on a server error. */
static int table_prepare(struct pgw *w, struct pgw_table *t)
{
	struct sb *s = &w->sql;
	char name[64];
	int nonkey = t->ncols - t->npk;

	sb_reset(s);
	sb_addf(s, "INSERT INTO %s (", t->qname);
	pgw_add_collist(s, w->conn, t);
	sb_adds(s, ") VALUES (");
	for (int i = 0; i < t->ncols; i++)
		sb_addf(s, "%s$%d", i ? "," : "", i + 1);
	sb_adds(s, ") ON CONFLICT (");
	for (int k = 0; k < t->npk; k++) {
		if (k)
			sb_addc(s, ',');
		pgw_add_ident(s, w->conn, t->cols[t->pk[k]].name);
	}
	if (nonkey == 0) {
		sb_adds(s, ") DO NOTHING");
	} else {
		/* Skip no-op updates: no dead tuple, no UPDATE trigger (NOTIFY) for an unchanged row. */
		struct sb lhs = SB_INIT, rhs = SB_INIT;
		sb_adds(s, ") DO UPDATE SET ");
		int first = 1;
		for (int i = 0; i < t->ncols; i++) {
			if (t->cols[i].pkpos)
				continue;
			if (!first) {
				sb_addc(s, ',');
				sb_addc(&lhs, ',');
				sb_addc(&rhs, ',');
			}
			first = 0;
			pgw_add_ident(s, w->conn, t->cols[i].name);
			sb_adds(s, " = EXCLUDED.");
			pgw_add_ident(s, w->conn, t->cols[i].name);
			sb_addf(&lhs, "%s.", t->qname);
			pgw_add_ident(&lhs, w->conn, t->cols[i].name);
			sb_adds(&rhs, "EXCLUDED.");
			pgw_add_ident(&rhs, w->conn, t->cols[i].name);
		}
		if (nonkey == 1)
			sb_addf(s, " WHERE %s IS DISTINCT FROM %s", lhs.buf, rhs.buf);
		else
			sb_addf(s, " WHERE ROW(%s) IS DISTINCT FROM ROW(%s)", lhs.buf, rhs.buf);
		sb_free(&lhs);
		sb_free(&rhs);
	}
	const char *const what[3] = {"put", "del", "sel"};
	struct sb where = SB_INIT;
	for (int k = 0; k < t->npk; k++) {
		sb_adds(&where, k ? " AND " : " WHERE ");
		pgw_add_ident(&where, w->conn, t->cols[t->pk[k]].name);
		sb_addf(&where, " = $%d", k + 1);
	}
	for (int q = 0; q < 3; q++) {
		if (q == 1) {
			sb_reset(s);
			sb_addf(s, "DELETE FROM %s%s", t->qname, where.buf);
		} else if (q == 2) {
			sb_reset(s);
			sb_adds(s, "SELECT ");
			pgw_add_collist(s, w->conn, t);
			sb_addf(s, " FROM %s%s", t->qname, where.buf);
		}
		snprintf(name, sizeof name, "pgw_%s_%d", what[q], t->id);
		PGresult *r = PQprepare(w->conn, name, s->buf, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (pgc_conn_lost(w->conn, r))
				pgc_die(w->conn, r, EXIT_TEMPFAIL, "prepare a statement");
			struct sb why = SB_INIT;
			const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			sb_addf(&why, "table \"%s\": %s", t->name, m ? m : PQerrorMessage(w->conn));
			table_reject(t, why.buf);
			sb_free(&why);
			PQclear(r);
			sb_free(&where);
			return -1;
		}
		PQclear(r);
	}
	sb_free(&where);
	return 0;
}

struct pgw *pgw_new(PGconn *conn, const struct pgw_opts *opts)
{
	struct pgw *w = xcalloc(1, sizeof *w);
	w->conn = conn;
	w->o = *opts;
	if (w->o.batch_max < 1)
		w->o.batch_max = 1;
	w->fr = xcalloc((size_t)w->o.batch_max + 1, sizeof *w->fr);
	lr_init(&w->lr, 0, MAX_LINE);
	js_init(&w->js);
	js_init(&w->js2);
	w->prune_fin = -1;
	w->min_new_block = INT64_MAX;
	const char *d = getenv("PL_TEST_DIE_AFTER");
	w->die_after = d ? atol(d) : 0;

	/* Every bookkeeping statement is keyed by the pipeline: its last parameter (send_book). */
	prepare_or_die(conn, "pgw_cpget", "SELECT driver_id, seq, finalized FROM pl_checkpoint WHERE pipeline = $1 FOR UPDATE", 1,
		EXIT_CONFIG);
	prepare_or_die(conn, "pgw_cpput",
		"INSERT INTO pl_checkpoint (pipeline, driver_id, seq, finalized, updated_at)"
		" VALUES ($4, $1, $2, $3, now()) ON CONFLICT (pipeline) DO UPDATE SET"
		" driver_id = EXCLUDED.driver_id, seq = EXCLUDED.seq,"
		" finalized = EXCLUDED.finalized, updated_at = EXCLUDED.updated_at",
		4, EXIT_CONFIG);
	prepare_or_die(conn, "pgw_jb",
		"INSERT INTO pl_journal_block (block_number, block_hash, pipeline) VALUES ($1, $2, $3)"
		" ON CONFLICT (pipeline, block_hash) DO NOTHING",
		3, EXIT_CONFIG);
	/* A block's journal entries of one frame go in one statement: text arrays,
	 * inserted in array order (ids keep the journal order). */
	prepare_or_die(conn, "pgw_je",
		"INSERT INTO pl_journal (block_hash, tbl, key, before, block_number, pipeline)"
		" SELECT $1, u.t, u.k, u.b, $5, $6 FROM unnest($2::text[], $3::text[], $4::text[])"
		" WITH ORDINALITY AS u(t, k, b, o) ORDER BY u.o",
		6, EXIT_CONFIG);
	/* Entries are deleted explicitly (no foreign key: sql/006-journal-fast.sql). */
	prepare_or_die(conn, "pgw_rv",
		"WITH j AS (DELETE FROM pl_journal WHERE pipeline = $2 AND block_hash = $1)"
		" DELETE FROM pl_journal_block WHERE pipeline = $2 AND block_hash = $1",
		2, EXIT_CONFIG);
	/* $2: the last horizon pruned (-1: unknown).  The lower bound keeps the
	 * index scan off the dead entries of earlier prunes (a FIFO queue's
	 * classic slow-down until vacuum catches up). */
	prepare_or_die(conn, "pgw_fin",
		"WITH j AS (DELETE FROM pl_journal WHERE pipeline = $3 AND block_number > $2 AND block_number <= $1)"
		" DELETE FROM pl_journal_block WHERE pipeline = $3 AND block_number > $2 AND block_number <= $1",
		3, EXIT_CONFIG);
	const struct pip *pp = w->o.pip;
	if (pp->work_table) {
		/* UPDATE work SET done = true WHERE id = $1 */
		sb_reset(&w->sql);
		sb_adds(&w->sql, "UPDATE ");
		pgw_add_ident(&w->sql, conn, pp->work_table);
		sb_adds(&w->sql, " SET ");
		pgw_add_ident(&w->sql, conn, pp->done_column);
		sb_adds(&w->sql, " = true WHERE ");
		pgw_add_ident(&w->sql, conn, pp->id_column);
		sb_adds(&w->sql, " = $1");
		prepare_or_die(conn, "pgw_wt", w->sql.buf, 1, EXIT_CONFIG);
	}
	return w;
}

void pgw_free(struct pgw *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->ntabs; i++) {
		pgw_table_free(w->tabs[i]);
		free(w->tabs[i]);
	}
	free(w->tabs);
	for (int i = 0; i <= w->o.batch_max; i++) {
		sb_free(&w->fr[i].text);
		sb_free(&w->fr[i].hash);
		free(w->fr[i].loff);
	}
	free(w->fr);
	lr_free(&w->lr);
	js_free(&w->js);
	js_free(&w->js2);
	sb_free(&w->tmp);
	sb_free(&w->tmp2);
	sb_free(&w->reason);
	sb_free(&w->ja_tbl);
	sb_free(&w->ja_key);
	sb_free(&w->ja_before);
	sb_free(&w->ja_hash);
	sb_free(&w->out);
	sb_free(&w->sql);
	sb_free(&w->badline);
	pb_free(&w->pb);
	free(w->ex);
	free(w);
}

/* ----------------------------------------------------------- input side */

static int parse_err(struct pgw *w, const char *fmt, const char *arg)
{
	w->reject_kind = FR_REJ_SYNTAX;
	sb_reset(&w->reason);
	sb_addf(&w->reason, fmt, arg);
	return -1;
}

static int type_of(const struct js *js, int tok, enum ftype *ft)
{
	if (js_str_eq(js, tok, "StartBlock") || js_str_eq(js, tok, "NewBlock"))
		*ft = FT_START;
	else if (js_str_eq(js, tok, "RevertBlock"))
		*ft = FT_REVERT;
	else if (js_str_eq(js, tok, "CatchupVault"))
		*ft = FT_CATCHUP;
	else
		return -1;
	return 0;
}

/* An optional framing integer: absent or null -> 0, a valid one -> 1, else -1. */
static int opt_u63(const struct js *js, int obj, const char *key, int64_t *v)
{
	int t = js_get(js, obj, key);
	if (t < 0 || js->t[t].type == JS_NULL)
		return 0;
	return js_u63(js, t, v) < 0 ? -1 : 1;
}

/*
 * Take one input line into the frame being assembled (slot w->nfr).
 * Returns 1 when it completed a frame, 0 when more lines are needed,
 * -1 on malformed input (w->reason says why).
 */
static int take_line(struct pgw *w, const char *line, size_t len)
{
	struct js *js = &w->js;
	struct frame *f = &w->fr[w->nfr];
	if (js_parse(js, line, len) < 0)
		return parse_err(w, "%s", err_msg());
	if (js->t[0].type != JS_OBJ)
		return parse_err(w, "%s", "not a JSON object");
	int op = js_get(js, 0, "op");
	if (op < 0 || js->t[op].type != JS_STR)
		return parse_err(w, "%s", "no \"op\" string");

	if (js_str_eq(js, op, "begin")) {
		if (w->in_frame)
			return parse_err(w, "%s", "begin line inside a frame (the previous frame has no end line)");
		frame_reset(f);
		f->line0 = w->lr.lineno;
		int tt;
		if (js_u63(js, js_get(js, 0, "driver_id"), &f->driver_id) < 0)
			return parse_err(w, "%s", "begin line without a valid \"driver_id\"");
		if (js_u63(js, js_get(js, 0, "seq"), &f->seq) < 0)
			return parse_err(w, "%s", "begin line without a valid \"seq\"");
		if (type_of(js, js_get(js, 0, "type"), &f->type) < 0)
			return parse_err(w, "%s", "begin line without a known \"type\" (StartBlock, NewBlock, RevertBlock, CatchupVault)");
		int bn = opt_u63(js, 0, "block_number", &f->block_number);
		int bh = js_get(js, 0, "block_hash");
		const char *s;
		size_t n;
		if (bn < 0)
			return parse_err(w, "%s", "invalid \"block_number\"");
		if (bh >= 0 && js->t[bh].type != JS_NULL) {
			if (js_str(js, bh, &w->tmp, &s, &n) < 0 || n == 0 || memchr(s, '\0', n))
				return parse_err(w, "%s", "invalid \"block_hash\"");
			sb_add(&f->hash, s, n);
		}
		f->has_block = bn == 1 && f->hash.len > 0;
		if ((bn == 1) != (f->hash.len > 0))
			return parse_err(w, "%s", "begin line has only one of \"block_number\" and \"block_hash\"");
		if (!f->has_block && f->type != FT_CATCHUP)
			return parse_err(w, "%s", "begin line without \"block_number\" and \"block_hash\"");
		if ((tt = opt_u63(js, 0, "finalized", &f->finalized)) < 0)
			return parse_err(w, "%s", "invalid \"finalized\"");
		f->has_fin = tt;
		frame_add_line(f, line, len);
		w->in_frame = 1;
		return 0;
	}
	if (js_str_eq(js, op, "end")) {
		int64_t id;
		if (!w->in_frame)
			return parse_err(w, "%s", "end line outside a frame");
		if (js_u63(js, js_get(js, 0, "driver_id"), &id) < 0)
			return parse_err(w, "%s", "end line without a valid \"driver_id\"");
		if (id != f->driver_id)
			return parse_err(w, "%s", "end line's driver_id differs from its begin line's");
		frame_add_line(f, line, len);
		w->in_frame = 0;
		return 1;
	}
	int is_put = js_str_eq(js, op, "put"), is_del = js_str_eq(js, op, "del");
	int is_undo = js_str_eq(js, op, "undo");
	if (!is_put && !is_del && !is_undo)
		return parse_err(w, "%s", "unknown \"op\" (begin, put, del, undo, end)");
	if (!w->in_frame)
		return parse_err(w, "%s", "body line outside a frame");
	int tab = js_get(js, 0, "table");
	int key = js_get(js, 0, "key");
	int before = js_get(js, 0, "before");
	const char *s;
	size_t n;
	if (js_str(js, tab, &w->tmp, &s, &n) < 0 || n == 0 || memchr(s, '\0', n))
		return parse_err(w, "%s", "no valid \"table\"");
	if (key < 0 || js->t[key].type != JS_OBJ)
		return parse_err(w, "%s", "no \"key\" object");
	if (before < 0 || (js->t[before].type != JS_OBJ && js->t[before].type != JS_NULL))
		return parse_err(w, "%s", "no \"before\" (an object or null)");
	if (is_put) {
		int row = js_get(js, 0, "row");
		if (row < 0 || js->t[row].type != JS_OBJ)
			return parse_err(w, "%s", "put line without a \"row\" object");
	}
	if (is_undo) {
		int64_t bn;
		int h = js_get(js, 0, "block_hash");
		const char *hs;
		size_t hn;
		if (js_u63(js, js_get(js, 0, "block_number"), &bn) < 0)
			return parse_err(w, "%s", "undo line without a valid \"block_number\"");
		if (js_str(js, h, &w->tmp2, &hs, &hn) < 0 || hn == 0 || memchr(hs, '\0', hn))
			return parse_err(w, "%s", "undo line without a valid \"block_hash\"");
		f->has_undo = 1;
	} else {
		table_get(w, s, n, 1);
	}
	frame_add_line(f, line, len);
	return 0;
}

/* Wait for input: 1 readable, 0 timed out, 2 asked to stop. */
static int wait_input(int fd, int stop_fd, volatile sig_atomic_t *stop, int timeout_ms)
{
	struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
	for (;;) {
		if (*stop)
			return 2;
		int r = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die_errno(EXIT_SOFTWARE, "unable to poll input");
		}
		if (*stop || (stop_fd >= 0 && p[1].revents))
			return 2;
		if (r == 0)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/* ------------------------------------------------------ pipeline helpers */

static void conn_die(struct pgw *w, const char *what)
{
	pgc_die(w->conn, NULL, PQstatus(w->conn) == CONNECTION_BAD ? EXIT_TEMPFAIL : EXIT_SOFTWARE, what);
}

static void set_reason_from(struct pgw *w, const PGresult *r)
{
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	/* class 42: the frame names tables or columns the database does not have */
	w->reject_kind = st && !strncmp(st, "42", 2) ? FR_REJ_SCHEMA : FR_REJ_INVARIANT;
	const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	sb_reset(&w->reason);
	sb_adds(&w->reason, m ? m : PQresultErrorMessage(r));
	if (d)
		sb_addf(&w->reason, " (%s)", d);
	while (w->reason.len && (w->reason.buf[w->reason.len - 1] == '\n'))
		w->reason.buf[--w->reason.len] = '\0';
}

static int verify_row(struct pgw *w, const PGresult *r, int fi, int li);

/* Read the results of one queued statement. */
static void read_one(struct pgw *w, const struct expect *e)
{
	PGresult *r = PQgetResult(w->conn);
	if (!r) {
		/* After a server crash libpq may end the pipeline's results early
		 * before it marks the connection bad: probe it. */
		if (PQstatus(w->conn) == CONNECTION_BAD || !PQconsumeInput(w->conn) || PQstatus(w->conn) == CONNECTION_BAD)
			conn_die(w, "read a result");
		die_code(EXIT_SOFTWARE, "unable to read a result: missing result in pipeline (%s)", PQerrorMessage(w->conn));
	}
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_FATAL_ERROR) {
		if (pgc_conn_lost(w->conn, r))
			pgc_die(w->conn, r, EXIT_TEMPFAIL, "apply a frame");
		if (!w->failed) {
			w->failed = 1;
			w->fail_frame = e->frame;
			w->fail_kind = e->kind;
			set_reason_from(w, r);
		}
	} else if (st == PGRES_TUPLES_OK && e->kind == K_CP) {
		w->have_cp = PQntuples(r) > 0;
		if (w->have_cp) {
			w->cp_driver = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			w->cp_seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			w->cp_fin = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		} else {
			w->cp_driver = w->cp_seq = w->cp_fin = 0;
		}
	} else if (st == PGRES_TUPLES_OK && e->kind == K_VERIFY) {
		if (!w->failed && verify_row(w, r, e->frame, e->line) < 0) {
			w->failed = 1;
			w->fail_frame = e->frame;
			w->fail_kind = e->kind;
		}
	} else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED) {
		die_code(EXIT_SOFTWARE, "unable to apply a frame: unexpected result %s", PQresStatus(st));
	}
	PQclear(r);
	while ((r = PQgetResult(w->conn)) != NULL)
		PQclear(r);
}

/* Sync and read every queued result. */
static void segment_end(struct pgw *w)
{
	if (PQpipelineSync(w->conn) != 1)
		conn_die(w, "send a pipeline sync");
	for (int i = 0; i < w->nex; i++)
		read_one(w, &w->ex[i]);
	w->nex = 0;
	PGresult *r = PQgetResult(w->conn);
	if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
		if (PQstatus(w->conn) == CONNECTION_BAD || (r && pgc_conn_lost(w->conn, r)))
			conn_die(w, "read a pipeline sync");
		die_code(EXIT_SOFTWARE, "unable to read a pipeline sync: got %s", r ? PQresStatus(PQresultStatus(r)) : "nothing");
	}
	PQclear(r);
}

static void expect_push(struct pgw *w, int frame, int kind, int line)
{
	if (w->nex == w->aex) {
		w->aex = w->aex ? w->aex * 2 : 1024;
		w->ex = xrealloc(w->ex, (size_t)w->aex * sizeof *w->ex);
	}
	w->ex[w->nex++] = (struct expect){frame, kind, line};
}

/* Queue a prepared statement with the parameters in w->pb. */
static void send_prep(struct pgw *w, const char *stmt, int frame, int kind, int line)
{
	if (!PQsendQueryPrepared(w->conn, stmt, w->pb.n, pb_vals(&w->pb), NULL, NULL, 0))
		conn_die(w, "send a statement");
	expect_push(w, frame, kind, line);
	if (w->nex >= SEGMENT)
		segment_end(w);
}

/* Queue a bookkeeping statement: the pipeline name is its last parameter. */
static void send_book(struct pgw *w, const char *stmt, int frame, int kind)
{
	pb_add(&w->pb, w->o.pip->name, strlen(w->o.pip->name));
	send_prep(w, stmt, frame, kind, -1);
}

static void send_plain(struct pgw *w, const char *sql, int frame, int kind)
{
	if (!PQsendQueryParams(w->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		conn_die(w, "send a statement");
	expect_push(w, frame, kind, -1);
}

/* ------------------------------------------------------ frame -> statements */

static int col_index(const struct js *js, int keytok, const struct pgw_table *t)
{
	for (int i = 0; i < t->ncols; i++)
		if (js_str_eq(js, keytok, t->cols[i].name))
			return i;
	return -1;
}

static int is_decimal(const char *s, size_t n, int allow_frac)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	size_t d = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == d)
		return 0;
	if (i < n && s[i] == '.' && allow_frac) {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return 0;
	}
	return i == n;
}

/* Append the text parameter for value tok of column c; -1 with w->reason on bad data. */
static int add_value(struct pgw *w, const struct pgw_table *t, const struct pgw_col *c, int tok)
{
	const struct js *js = &w->js;
	const struct js_tok *v = &js->t[tok];
	const char *s;
	size_t n;
	switch (v->type) {
	case JS_NULL:
		pb_null(&w->pb);
		return 0;
	case JS_TRUE:
		pb_add(&w->pb, "t", 1);
		return 0;
	case JS_FALSE:
		pb_add(&w->pb, "f", 1);
		return 0;
	case JS_STR:
		js_str(js, tok, &w->tmp, &s, &n);
		if (memchr(s, '\0', n)) {
			sb_reset(&w->reason);
			sb_addf(&w->reason, "value of \"%s\".\"%s\" contains a NUL character", t->name, c->name);
			return -1;
		}
		break;
	default:
		s = js->src + v->off;
		n = v->len;
		break;
	}
	if (c->typid == NUMERIC_OID) {
		/* numeric(p,0) would round a fraction silently: reject it here. */
		int frac = c->typmod < 4 || ((c->typmod - 4) & 0xffff) > 0;
		if (!is_decimal(s, n, frac)) {
			sb_reset(&w->reason);
			sb_addf(&w->reason, "value of numeric column \"%s\".\"%s\" is not a decimal %s: %.*s",
				t->name, c->name, frac ? "number" : "integer", (int)(n > 100 ? 100 : n), s);
			return -1;
		}
	}
	pb_add(&w->pb, s, n);
	return 0;
}

static int reject(struct pgw *w, const char *fmt, const char *a, const char *b)
{
	w->reject_kind = FR_REJ_SCHEMA;
	sb_reset(&w->reason);
	sb_addf(&w->reason, fmt, a, b);
	return -1;
}

/*
 * Build the key parameters (primary-key order) of a put/del line from its
 * key object into w->pb; the key must name exactly the key columns.
 */
static int key_params(struct pgw *w, const struct pgw_table *t, int key)
{
	const struct js *js = &w->js;
	int want[64], *idx = t->npk <= 64 ? want : xcalloc((size_t)t->npk, sizeof *idx);
	int rc = 0;
	for (int k = 0; k < t->npk; k++)
		idx[k] = -1;
	int m = key + 1;
	for (uint32_t i = 0; i < js->t[key].n; i++, m = (int)js->t[m + 1].next) {
		int c = col_index(js, m, t);
		if (c < 0 || !t->cols[c].pkpos) {
			const char *s;
			size_t n;
			js_str(js, m, &w->tmp, &s, &n);
			sb_reset(&w->reason);
			sb_addf(&w->reason, "key of \"%s\" names \"%.*s\", which is not a primary-key column",
				t->name, (int)n, s);
			rc = -1;
			goto out;
		}
		if (idx[t->cols[c].pkpos - 1] >= 0) {
			rc = reject(w, "key of \"%s\" names \"%s\" twice", t->name, t->cols[c].name);
			goto out;
		}
		idx[t->cols[c].pkpos - 1] = m + 1;
	}
	pb_reset(&w->pb);
	for (int k = 0; k < t->npk; k++) {
		if (idx[k] < 0) {
			rc = reject(w, "key of \"%s\" lacks column \"%s\"", t->name, t->cols[t->pk[k]].name);
			goto out;
		}
		if (js->t[idx[k]].type == JS_NULL) {
			rc = reject(w, "key of \"%s\" has null for \"%s\"", t->name, t->cols[t->pk[k]].name);
			goto out;
		}
		if ((rc = add_value(w, t, &t->cols[t->pk[k]], idx[k])) < 0)
			goto out;
	}
out:
	if (idx != want)
		free(idx);
	return rc;
}

/* Build the row parameters (attnum order) of a put line; check the key agrees. */
static int row_params(struct pgw *w, const struct pgw_table *t, int key, int row)
{
	const struct js *js = &w->js;
	int stackv[128], *vt = t->ncols <= 128 ? stackv : xcalloc((size_t)t->ncols, sizeof *vt);
	int rc = 0;
	for (int i = 0; i < t->ncols; i++)
		vt[i] = -1;
	int m = row + 1;
	for (uint32_t i = 0; i < js->t[row].n; i++, m = (int)js->t[m + 1].next) {
		int c = col_index(js, m, t);
		if (c < 0) {
			const char *s;
			size_t n;
			js_str(js, m, &w->tmp, &s, &n);
			sb_reset(&w->reason);
			sb_addf(&w->reason, "table \"%s\" has no column \"%.*s\"", t->name, (int)n, s);
			rc = -1;
			goto out;
		}
		if (vt[c] >= 0) {
			rc = reject(w, "row of \"%s\" names \"%s\" twice", t->name, t->cols[c].name);
			goto out;
		}
		vt[c] = m + 1;
	}
	/* Key first (also validates it), compared with the row's key columns below. */
	if ((rc = key_params(w, t, key)) < 0)
		goto out;
	struct sb keyvals = SB_INIT;
	sb_add(&keyvals, w->pb.b.buf, w->pb.b.len);
	size_t koff = 0;
	pb_reset(&w->pb);
	for (int i = 0; i < t->ncols; i++) {
		if (vt[i] < 0) {
			rc = reject(w, "row of \"%s\" lacks column \"%s\"", t->name, t->cols[i].name);
			break;
		}
		if ((rc = add_value(w, t, &t->cols[i], vt[i])) < 0)
			break;
	}
	for (int k = 0; rc == 0 && k < t->npk; k++) {
		int c = t->pk[k];
		const char *kv = keyvals.buf + koff;
		size_t off = w->pb.off[c];
		if (off == (size_t)-1 || strcmp(kv, w->pb.b.buf + off)) {
			rc = reject(w, "key of \"%s\" differs from the row's \"%s\"", t->name, t->cols[c].name);
			break;
		}
		koff += strlen(kv) + 1;
	}
	sb_free(&keyvals);
out:
	if (vt != stackv)
		free(vt);
	return rc;
}

static void note_block(struct pgw *w, int64_t bn)
{
	if (bn < w->min_new_block)
		w->min_new_block = bn;
}

static void send_block(struct pgw *w, int fi, int64_t bn, const char *hash, size_t hn)
{
	pb_reset(&w->pb);
	pb_i64(&w->pb, bn);
	pb_add(&w->pb, hash, hn);
	send_book(w, "pgw_jb", fi, K_CMD);
	note_block(w, bn);
}

/* Queue the journal entry (hash, table, key text, before text|NULL). */
/* Append s as an element of a text[] literal being built in a. */
static void ja_elem(struct sb *a, const char *s, size_t n)
{
	sb_addc(a, a->len ? ',' : '{');
	if (!s) {
		sb_adds(a, "NULL");
		return;
	}
	sb_grow(a, n + 2);
	sb_addc(a, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sb_addc(a, '\\');
		sb_addc(a, s[i]);
	}
	sb_addc(a, '"');
}

/* Send the pending journal entries (if any) as one INSERT. */
static void ja_flush(struct pgw *w)
{
	if (!w->ja_n)
		return;
	pb_reset(&w->pb);
	pb_add(&w->pb, w->ja_hash.buf, w->ja_hash.len);
	sb_addc(&w->ja_tbl, '}');
	sb_addc(&w->ja_key, '}');
	sb_addc(&w->ja_before, '}');
	pb_add(&w->pb, w->ja_tbl.buf, w->ja_tbl.len);
	pb_add(&w->pb, w->ja_key.buf, w->ja_key.len);
	pb_add(&w->pb, w->ja_before.buf, w->ja_before.len);
	pb_i64(&w->pb, w->ja_bn);
	sb_reset(&w->ja_tbl);
	sb_reset(&w->ja_key);
	sb_reset(&w->ja_before);
	w->ja_n = 0;
	send_book(w, "pgw_je", w->ja_fi, K_CMD);
}

/* Queue a journal entry (hash, table, key text, before text|NULL). */
static void send_entry(struct pgw *w, int fi, int64_t bn, const char *hash, size_t hn, int tab, int key, int before)
{
	const struct js *js = &w->js;
	const char *s;
	size_t n;
	if (w->ja_n && (w->ja_fi != fi || w->ja_hash.len != hn || memcmp(w->ja_hash.buf, hash, hn)))
		ja_flush(w);
	if (!w->ja_n) {
		sb_reset(&w->ja_hash);
		sb_add(&w->ja_hash, hash, hn);
		w->ja_fi = fi;
		w->ja_bn = bn;
	}
	js_str(js, tab, &w->tmp, &s, &n);
	ja_elem(&w->ja_tbl, s, n);
	ja_elem(&w->ja_key, js->src + js->t[key].off, js->t[key].len);
	if (js->t[before].type == JS_NULL)
		ja_elem(&w->ja_before, NULL, 0);
	else
		ja_elem(&w->ja_before, js->src + js->t[before].off, js->t[before].len);
	w->ja_n++;
}

/* Queue every statement of frame fi.  -1 (w->reason set) if the frame cannot be applied. */
static int send_frame(struct pgw *w, int fi)
{
	struct frame *f = &w->fr[fi];
	struct js *js = &w->js;
	char name[64];
	int journal_befores = f->type == FT_START && !f->has_undo;
	struct sb last = SB_INIT; /* hash of the journal block last inserted by this frame */
	w->ja_n = 0;		  /* nothing left over from a frame that failed to queue */
	sb_reset(&w->ja_tbl);
	sb_reset(&w->ja_key);
	sb_reset(&w->ja_before);

	if (w->o.pip->work_table) {
		pb_reset(&w->pb);
		pb_i64(&w->pb, f->driver_id);
		send_prep(w, "pgw_wt", fi, K_CMD, -1);
	}
	/* A block at or below the transaction's last `finalized` would be pruned
	 * before COMMIT anyway: in catch-up most are, so they are not journaled. */
	int journal_frame_block = f->has_block && f->block_number > w->batch_fin;
	if (!journal_frame_block)
		journal_befores = 0;
	if (f->type != FT_REVERT && journal_frame_block) {
		send_block(w, fi, f->block_number, f->hash.buf, f->hash.len);
		sb_add(&last, f->hash.buf, f->hash.len);
	}
	for (size_t li = 1; li + 1 < f->nl && !w->failed; li++) {
		size_t len;
		const char *line = frame_line(f, li, &len);
		if (js_parse(js, line, len) < 0)
			die_code(EXIT_SOFTWARE, "unable to re-parse a buffered line: %s", err_msg());
		int op = js_get(js, 0, "op");
		int tab = js_get(js, 0, "table"), key = js_get(js, 0, "key"), before = js_get(js, 0, "before");
		if (js_str_eq(js, op, "undo")) {
			int64_t bn;
			const char *hs;
			size_t hn;
			js_u63(js, js_get(js, 0, "block_number"), &bn);
			if (bn <= w->batch_fin)
				continue; /* pruned before COMMIT anyway */
			js_str(js, js_get(js, 0, "block_hash"), &w->tmp2, &hs, &hn);
			if (hn != last.len || memcmp(hs, last.buf, hn)) {
				sb_reset(&last);
				sb_add(&last, hs, hn);
				send_block(w, fi, bn, last.buf, last.len);
			}
			send_entry(w, fi, bn, last.buf, last.len, tab, key, before);
			continue;
		}
		const char *tn;
		size_t tl;
		js_str(js, tab, &w->tmp, &tn, &tl);
		struct pgw_table *t = table_get(w, tn, tl, 0);
		if (!t || t->state != 1) {
			w->reject_kind = FR_REJ_SCHEMA;
			sb_reset(&w->reason);
			sb_adds(&w->reason, t && t->reason ? t->reason : "table not looked up");
			sb_free(&last);
			return -1;
		}
		int is_put = js_str_eq(js, op, "put");
		if (key_params(w, t, key) < 0) {
			sb_free(&last);
			return -1;
		}
		if (w->o.verify_before) {
			snprintf(name, sizeof name, "pgw_sel_%d", t->id);
			send_prep(w, name, fi, K_VERIFY, (int)li);
			if (w->failed)
				break;
			/* send_prep may have ended a segment: the tokens in w->js are intact
			 * (verification parses into w->js2), but the parameters must be rebuilt. */
			if (!is_put && key_params(w, t, key) < 0) {
				sb_free(&last);
				return -1;
			}
		}
		if (is_put) {
			if (row_params(w, t, key, js_get(js, 0, "row")) < 0) {
				sb_free(&last);
				return -1;
			}
			snprintf(name, sizeof name, "pgw_put_%d", t->id);
		} else {
			snprintf(name, sizeof name, "pgw_del_%d", t->id);
		}
		send_prep(w, name, fi, K_CMD, (int)li);
		if (journal_befores && !w->failed && f->has_block)
			send_entry(w, fi, f->block_number, f->hash.buf, f->hash.len, tab, key, before);
	}
	sb_free(&last);
	if (!w->failed)
		ja_flush(w);
	w->ja_n = 0;
	sb_reset(&w->ja_tbl);
	sb_reset(&w->ja_key);
	sb_reset(&w->ja_before);
	if (w->failed)
		return 0;
	if (f->type == FT_REVERT) {
		pb_reset(&w->pb);
		pb_add(&w->pb, f->hash.buf, f->hash.len);
		send_book(w, "pgw_rv", fi, K_CMD);
	}
	/* The journal is pruned once per transaction, at its last frame (tx_run). */
	return 0;
}

/* Prune the journal up to the transaction's highest `finalized`, if that can delete anything. */
static void send_prune(struct pgw *w, int fi)
{
	if (w->batch_fin < 0 || (w->batch_fin <= w->prune_fin && w->min_new_block > w->batch_fin))
		return;
	pb_reset(&w->pb);
	pb_i64(&w->pb, w->batch_fin);
	/* Blocks journaled since the last prune may lie below it (a catch-up of
	 * old blocks): then scan from the lowest of those. */
	int64_t lo = w->prune_fin;
	if (w->min_new_block <= lo)
		lo = w->min_new_block - 1;
	pb_i64(&w->pb, lo);
	send_book(w, "pgw_fin", fi, K_CMD);
	w->prune_fin = w->batch_fin;
	w->min_new_block = INT64_MAX;
}

/* Compare the current row (result of pgw_sel_N) with the line's before image. */
static int verify_row(struct pgw *w, const PGresult *r, int fi, int li)
{
	struct js *js = &w->js2;
	size_t len;
	const char *line = frame_line(&w->fr[fi], (size_t)li, &len);
	const char *s;
	size_t n;
	if (js_parse(js, line, len) < 0)
		die_code(EXIT_SOFTWARE, "unable to re-parse a buffered line: %s", err_msg());
	int before = js_get(js, 0, "before"), key = js_get(js, 0, "key");
	js_str(js, js_get(js, 0, "table"), &w->tmp2, &s, &n);
	const struct pgw_table *t = table_get(w, s, n, 0);
	w->reject_kind = FR_REJ_INVARIANT;
	sb_reset(&w->reason);
	sb_addf(&w->reason, "--verify-before: row of \"%s\" with key ", t->name);
	sb_add_jraw(&w->reason, js, key);
	if (js->t[before].type == JS_NULL) {
		if (PQntuples(r) == 0)
			return 0;
		sb_adds(&w->reason, " exists, but its before image is null");
		return -1;
	}
	if (PQntuples(r) == 0) {
		sb_adds(&w->reason, " is absent, but its before image is not null");
		return -1;
	}
	int seen = 0;
	int m = before + 1;
	for (uint32_t i = 0; i < js->t[before].n; i++, m = (int)js->t[m + 1].next) {
		int c = -1;
		for (int k = 0; k < t->ncols && c < 0; k++)
			if (js_str_eq(js, m, t->cols[k].name))
				c = k;
		int v = m + 1;
		if (c < 0) {
			sb_adds(&w->reason, ": before image names an unknown column");
			return -1;
		}
		seen++;
		int isnull = PQgetisnull(r, 0, c);
		const char *dv = PQgetvalue(r, 0, c);
		int eq;
		switch (js->t[v].type) {
		case JS_NULL:
			eq = isnull;
			break;
		case JS_TRUE:
			eq = !isnull && !strcmp(dv, "t");
			break;
		case JS_FALSE:
			eq = !isnull && !strcmp(dv, "f");
			break;
		case JS_STR:
			js_str(js, v, &w->tmp2, &s, &n);
			eq = !isnull && strlen(dv) == n && !memcmp(dv, s, n);
			break;
		default:
			eq = !isnull && strlen(dv) == js->t[v].len && !memcmp(dv, js->src + js->t[v].off, js->t[v].len);
			break;
		}
		if (!eq) {
			sb_addf(&w->reason, ": column \"%s\" is ", t->cols[c].name);
			pgw_add_value(&w->reason, &t->cols[c], dv, isnull);
			sb_adds(&w->reason, " in the database, the before image says ");
			sb_add_jraw(&w->reason, js, v);
			return -1;
		}
	}
	if (seen != t->ncols) {
		sb_adds(&w->reason, ": before image does not list every column");
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------- transactions */

/* Look up every table named by the batch that is not known yet (outside any transaction). */
static void resolve_tables(struct pgw *w)
{
	for (int i = 0; i < w->ntabs; i++) {
		struct pgw_table *t = w->tabs[i];
		if (t->state != 0)
			continue;
		if (pgw_table_load(w->conn, t, w->o.pip->name) == 0)
			table_prepare(w, t);
	}
}

/*
 * Apply frames [first, first+n) in one transaction.  TX_OK: committed.
 * TX_FAIL: rolled back, *bad = the frame that failed, w->reason says why.
 * TX_COMMIT_FAIL: COMMIT itself failed (a deferred constraint).
 */
static int tx_run(struct pgw *w, int first, int n, int *bad)
{
	w->failed = 0;
	w->nex = 0;
	if (!PQenterPipelineMode(w->conn))
		conn_die(w, "enter pipeline mode");
	send_plain(w, "BEGIN", -1, K_CMD);
	pb_reset(&w->pb);
	send_book(w, "pgw_cpget", -1, K_CP);
	segment_end(w);
	if (w->failed)
		die_code(EXIT_CONFIG, "unable to read the checkpoint: %s", w->reason.buf);
	int have = w->have_cp;
	int64_t cd = w->cp_driver, cs = w->cp_seq, fin = w->cp_fin;
	w->batch_fin = -1;
	for (int i = first; i < first + n; i++)
		if (w->fr[i].has_fin && w->fr[i].finalized > w->batch_fin)
			w->batch_fin = w->fr[i].finalized;
	int applied = 0, local_frame = -1;
	struct sb local_reason = SB_INIT;
	for (int i = first; i < first + n && !w->failed; i++) {
		struct frame *f = &w->fr[i];
		f->skipped = have && (f->seq < cs || (f->seq == cs && f->driver_id <= cd));
		if (f->skipped)
			continue;
		if (send_frame(w, i) < 0) {
			/* Statements of earlier frames may still fail on the server:
			 * read them first, the earliest failure is the one to report. */
			local_frame = i;
			sb_add(&local_reason, w->reason.buf, w->reason.len);
			break;
		}
		have = 1;
		cs = f->seq;
		cd = f->driver_id;
		if (f->has_fin)
			fin = f->finalized;
		applied++;
	}
	int more = !w->failed && local_frame < 0;
	if (more && applied)
		send_prune(w, first + n - 1);
	if (more && applied && !w->failed) {
		pb_reset(&w->pb);
		pb_i64(&w->pb, cd);
		pb_i64(&w->pb, cs);
		pb_i64(&w->pb, fin);
		send_book(w, "pgw_cpput", -1, K_CMD);
	}
	if (more && !w->failed && !w->o.verify_before)
		send_plain(w, "COMMIT", -1, K_COMMIT);
	segment_end(w);
	if (more && !w->failed && w->o.verify_before) {
		send_plain(w, "COMMIT", -1, K_COMMIT);
		segment_end(w);
	}
	if (!PQexitPipelineMode(w->conn))
		conn_die(w, "leave pipeline mode");
	if (!w->failed && local_frame >= 0) {
		w->failed = 1;
		w->fail_frame = local_frame;
		w->fail_kind = K_CMD;
		sb_reset(&w->reason);
		sb_add(&w->reason, local_reason.buf, local_reason.len);
	}
	sb_free(&local_reason);
	if (!w->failed)
		return TX_OK;
	/* What the journal holds is unknown after a rollback: prune again next time. */
	w->prune_fin = -1;
	w->min_new_block = INT64_MAX;
	if (PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(w->conn, "ROLLBACK");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			pgc_die(w->conn, r, EXIT_TEMPFAIL, "roll back");
		PQclear(r);
	}
	if (w->fail_kind == K_COMMIT)
		return TX_COMMIT_FAIL;
	if (w->fail_frame < 0)
		die_code(EXIT_CONFIG, "unable to update the checkpoint: %s", w->reason.buf);
	*bad = w->fail_frame;
	return TX_FAIL;
}

static void ack(struct pgw *w, int first, int n)
{
	sb_reset(&w->out);
	for (int i = first; i < first + n; i++)
		fr_add_ack(&w->out, w->fr[i].driver_id, w->fr[i].seq);
	io_out(w->out.buf, w->out.len);
}

/* Record a pl_quarantine row in its own transaction (autocommit). */
static void quarantine(struct pgw *w, const struct frame *f, const char *text, size_t len)
{
	struct sb q = SB_INIT;
	if (len > QUARANTINE_MAX) {
		len = QUARANTINE_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--; /* do not cut a UTF-8 sequence */
	}
	sb_add(&q, text, len);
	if (pgc_quarantine(w->conn, w->o.pip->name, "pg-write", fr_reject_kind_name(w->reject_kind), f ? f->driver_id : -1,
		    f ? f->seq : -1, w->reason.buf ? w->reason.buf : "", q.buf ? q.buf : "") < 0) {
		if (PQstatus(w->conn) == CONNECTION_BAD)
			die_code(EXIT_TEMPFAIL, "unable to record the rejected frame in pl_quarantine: %s", err_msg());
		warn("unable to record the rejected frame in pl_quarantine: %s", err_msg());
	}
	sb_free(&q);
}

static _Noreturn void reject_frame(struct pgw *w, int fi)
{
	const struct frame *f = &w->fr[fi];
	quarantine(w, f, f->text.buf, f->text.len);
	die_code(EXIT_DATAERR, "unable to apply the frame of driver_id %" PRId64 " seq %" PRId64 " (input line %" PRIu64 "): %s (recorded in pl_quarantine)",
		f->driver_id, f->seq, f->line0, w->reason.buf);
}

static void committed(struct pgw *w)
{
	w->commits++;
	if (w->die_after && w->commits == w->die_after)
		_exit(1); /* crash test: committed, not acknowledged */
}

/* Apply frames [first, first+n); ack them; on a rejected frame, quarantine and exit 65. */
static void apply_batch(struct pgw *w, int first, int n)
{
	int bad = -1;
	resolve_tables(w);
	switch (tx_run(w, first, n, &bad)) {
	case TX_OK:
		committed(w);
		ack(w, first, n);
		return;
	case TX_FAIL: {
		struct sb why = SB_INIT;
		sb_add(&why, w->reason.buf, w->reason.len);
		if (bad > first)
			apply_batch(w, first, bad - first);
		sb_reset(&w->reason);
		sb_add(&w->reason, why.buf, why.len);
		sb_free(&why);
		reject_frame(w, bad);
	}
	case TX_COMMIT_FAIL:
	default:
		if (n == 1)
			reject_frame(w, first);
		for (int i = first; i < first + n; i++)
			apply_batch(w, i, 1);
		return;
	}
}

int pgw_run(struct pgw *w, int fd, int stop_fd, volatile sig_atomic_t *stop)
{
	w->lr.fd = fd;
	for (;;) {
		enum { EV_NONE,
			EV_EOF,
			EV_STOP,
			EV_BAD } ev = EV_NONE;
		uint64_t bad_lineno = 0;
		while (w->nfr < w->o.batch_max && w->batch_bytes < BATCH_BYTES) {
			char *line;
			size_t len;
			int r = lr_getline(&w->lr, &line, &len);
			if (r < 0) {
				bad_lineno = w->lr.lineno + 1;
				sb_reset(&w->reason);
				sb_adds(&w->reason, err_msg());
				sb_reset(&w->badline);
				ev = EV_BAD;
				break;
			}
			if (r == 0) {
				if (w->lr.eof) {
					ev = EV_EOF;
					break;
				}
				int wr = wait_input(fd, stop_fd, stop, w->nfr ? 0 : -1);
				if (wr == 2) {
					ev = EV_STOP;
					break;
				}
				if (wr == 0)
					break; /* nothing more buffered: commit what we have */
				if (lr_fill(&w->lr) < 0)
					die_errno(EXIT_TEMPFAIL, "unable to read input");
				continue;
			}
			r = take_line(w, line, len);
			if (r < 0) {
				bad_lineno = w->lr.lineno;
				sb_reset(&w->badline);
				sb_add(&w->badline, line, len);
				ev = EV_BAD;
				break;
			}
			if (r == 1) {
				w->batch_bytes += w->fr[w->nfr].text.len;
				w->nfr++;
			}
		}
		if (w->nfr)
			apply_batch(w, 0, w->nfr);
		/* The partial frame (if any) moves to slot 0. */
		if (w->nfr) {
			struct frame t = w->fr[0];
			w->fr[0] = w->fr[w->nfr];
			w->fr[w->nfr] = t;
		}
		w->nfr = 0;
		w->batch_bytes = 0;
		if (ev == EV_BAD) {
			const struct frame *f = w->in_frame ? &w->fr[0] : NULL;
			struct sb why = SB_INIT;
			sb_add(&why, w->reason.buf, w->reason.len);
			quarantine(w, f, w->badline.buf ? w->badline.buf : "", w->badline.len);
			die_code(EXIT_DATAERR, "unable to parse delta frame at line %" PRIu64 ": %s", bad_lineno, why.buf);
		}
		if (ev == EV_EOF) {
			if (w->in_frame || lr_partial(&w->lr))
				warn("discarding an incomplete frame at the end of the input (it will be delivered again)");
			return 0;
		}
		if (ev == EV_STOP || *stop)
			return 0;
	}
}
