/*
 * pgw_stmt.c -- frames into statements: the per-table prepared statements
 * (put/del/sel, prepared the first time a batch names the table), each
 * frame's statements queued in libpq pipeline mode with the index of
 * their frame (so that the first error names the frame to quarantine),
 * the undo journal entries, --verify-before, and the pipeline-mode
 * helpers.  The transactions around them are pgwrite.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/hmap.h"
#include "core/io.h"
#include "core/json.h"
#include "frame/frame.h"
#include "pg/pgconn.h"
#include "pg/pgw_int.h"
#include "pg/pipeline.h"

#define SEGMENT 1000 /* statements between two Syncs */
#define NUMERIC_OID 1700u

/* -------------------------------------------------- per-table statements */

static struct pgw_mt *table_mt(struct pgw *w, int id)
{
	if (id >= w->amt) {
		int n = w->amt ? w->amt : 16;
		while (n <= id)
			n *= 2;
		w->mt = xrealloc(w->mt, (size_t)n * sizeof *w->mt);
		memset(w->mt + w->amt, 0, (size_t)(n - w->amt) * sizeof *w->mt);
		w->amt = n;
	}
	return &w->mt[id];
}

/*
 * Prepare the multi-row statements of table t (docs/pg-write.md, coalescing):
 * pgw_mput_N (mput: the put over unnest of one array per column) and
 * pgw_mdel_N (DELETE ... WHERE (key) IN (SELECT * FROM unnest(key arrays))),
 * with the columns' array types as parameter types.  A table whose column
 * types have no array type (or a delimiter other than ',') keeps the
 * per-row statements.
 */
static void prepare_multi(struct pgw *w, struct cat_table *t, struct sb *mput, const char *conflict)
{
	struct pgw_mt *m = table_mt(w, t->id);
	m->multi = 0;
	free(m->arrtyp);
	m->arrtyp = xcalloc((size_t)t->ncols, sizeof *m->arrtyp);
	for (int i = 0; i < t->ncols; i++) {
		char oid[16];
		snprintf(oid, sizeof oid, "%u", t->cols[i].typid);
		const char *p[1] = {oid};
		PGresult *r = PQexecParams(w->conn, "SELECT typarray, typdelim FROM pg_type WHERE oid = $1::oid", 1, NULL, p, NULL,
			NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			pgc_die(w->conn, r, pgc_conn_lost(w->conn, r) ? EXIT_TEMPFAIL : EXIT_SOFTWARE, "look up an array type");
		unsigned a = PQntuples(r) ? (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10) : 0;
		int comma = PQntuples(r) && !strcmp(PQgetvalue(r, 0, 1), ",");
		PQclear(r);
		if (!a || !comma)
			return;
		m->arrtyp[i] = a;
	}
	unsigned *kt = xcalloc((size_t)t->npk, sizeof *kt);
	for (int k = 0; k < t->npk; k++)
		kt[k] = m->arrtyp[t->pk[k]];
	struct sb *s = &w->sql;
	char name[64];
	for (int q = 0; q < 2; q++) {
		sb_reset(s);
		if (q == 0) {
			sb_add(s, mput->buf, mput->len);
		} else {
			sb_addf(s, "DELETE FROM %s WHERE (", t->qname);
			for (int k = 0; k < t->npk; k++) {
				if (k)
					sb_addc(s, ',');
				cat_add_ident(s, w->conn, t->cols[t->pk[k]].name);
			}
			sb_adds(s, ") IN (SELECT * FROM unnest(");
			for (int k = 0; k < t->npk; k++)
				sb_addf(s, "%s$%d", k ? "," : "", k + 1);
			sb_adds(s, "))");
		}
		snprintf(name, sizeof name, "pgw_m%s_%d", q ? "del" : "put", t->id);
		PGresult *r = PQprepare(w->conn, name, s->buf, q ? t->npk : t->ncols, q ? kt : m->arrtyp);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok && pgc_conn_lost(w->conn, r))
			pgc_die(w->conn, r, EXIT_TEMPFAIL, "prepare a statement");
		PQclear(r);
		if (!ok) {
			free(kt);
			return; /* the per-row statements still work */
		}
	}
	free(kt);
	m->multi = 1;
	/*
	 * COPY staging of large batches (pgw_coal_flush): a temporary table
	 * like t (columns and NOT NULL only), ON COMMIT DELETE ROWS, COPYed into
	 * and merged by the put's own ON CONFLICT clause.  Not prepared: the
	 * table only exists once a batch needs it (and again after a rollback).
	 */
	char sname[64];
	snprintf(sname, sizeof sname, "pgw_stage_%d", t->id);
	sb_reset(&m->s_create);
	sb_adds(&m->s_create, "CREATE TEMPORARY TABLE ");
	cat_add_ident(&m->s_create, w->conn, sname);
	sb_adds(&m->s_create, " (LIKE ");
	sb_adds(&m->s_create, t->qname);
	sb_adds(&m->s_create, ") ON COMMIT DELETE ROWS");
	sb_reset(&m->s_copy);
	sb_adds(&m->s_copy, "COPY pg_temp.");
	cat_add_ident(&m->s_copy, w->conn, sname);
	sb_adds(&m->s_copy, " (");
	cat_add_collist(&m->s_copy, w->conn, t);
	sb_adds(&m->s_copy, ") FROM STDIN");
	sb_reset(&m->s_merge);
	sb_adds(&m->s_merge, "INSERT INTO ");
	sb_adds(&m->s_merge, t->qname);
	sb_adds(&m->s_merge, " (");
	cat_add_collist(&m->s_merge, w->conn, t);
	sb_adds(&m->s_merge, ") SELECT ");
	cat_add_collist(&m->s_merge, w->conn, t);
	sb_adds(&m->s_merge, " FROM pg_temp.");
	cat_add_ident(&m->s_merge, w->conn, sname);
	sb_adds(&m->s_merge, conflict + 1); /* without the ')' that closes unnest( */
}

/* Prepare put/del/select of a freshly loaded table; -1 (table rejected) on a server error. */
static int table_prepare(struct pgw *w, struct cat_table *t)
{
	struct sb *s = &w->sql;
	char name[64];
	int nonkey = t->ncols - t->npk;

	sb_reset(s);
	sb_addf(s, "INSERT INTO %s (", t->qname);
	cat_add_collist(s, w->conn, t);
	sb_adds(s, ") VALUES (");
	for (int i = 0; i < t->ncols; i++)
		sb_addf(s, "%s$%d", i ? "," : "", i + 1);
	size_t values_end = s->len;
	sb_adds(s, ") ON CONFLICT (");
	for (int k = 0; k < t->npk; k++) {
		if (k)
			sb_addc(s, ',');
		cat_add_ident(s, w->conn, t->cols[t->pk[k]].name);
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
			cat_add_ident(s, w->conn, t->cols[i].name);
			sb_adds(s, " = EXCLUDED.");
			cat_add_ident(s, w->conn, t->cols[i].name);
			sb_addf(&lhs, "%s.", t->qname);
			cat_add_ident(&lhs, w->conn, t->cols[i].name);
			sb_adds(&rhs, "EXCLUDED.");
			cat_add_ident(&rhs, w->conn, t->cols[i].name);
		}
		if (nonkey == 1)
			sb_addf(s, " WHERE %s IS DISTINCT FROM %s", lhs.buf, rhs.buf);
		else
			sb_addf(s, " WHERE ROW(%s) IS DISTINCT FROM ROW(%s)", lhs.buf, rhs.buf);
		sb_free(&lhs);
		sb_free(&rhs);
	}
	/* The multi-row put: the same statement over unnest of one array per column. */
	struct sb mput = SB_INIT;
	sb_addf(&mput, "INSERT INTO %s (", t->qname);
	cat_add_collist(&mput, w->conn, t);
	sb_adds(&mput, ") SELECT * FROM unnest(");
	for (int i = 0; i < t->ncols; i++)
		sb_addf(&mput, "%s$%d", i ? "," : "", i + 1);
	size_t conflict = mput.len;
	sb_add(&mput, s->buf + values_end, s->len - values_end);
	const char *const what[3] = {"put", "del", "sel"};
	struct sb where = SB_INIT;
	for (int k = 0; k < t->npk; k++) {
		sb_adds(&where, k ? " AND " : " WHERE ");
		cat_add_ident(&where, w->conn, t->cols[t->pk[k]].name);
		sb_addf(&where, " = $%d", k + 1);
	}
	for (int q = 0; q < 3; q++) {
		if (q == 1) {
			sb_reset(s);
			sb_addf(s, "DELETE FROM %s%s", t->qname, where.buf);
		} else if (q == 2) {
			sb_reset(s);
			sb_adds(s, "SELECT ");
			cat_add_collist(s, w->conn, t);
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
			cat_table_reject(t, why.buf);
			sb_free(&why);
			PQclear(r);
			sb_free(&where);
			sb_free(&mput);
			return -1;
		}
		PQclear(r);
	}
	sb_free(&where);
	char *conf = xstrdup(mput.buf + conflict);
	prepare_multi(w, t, &mput, conf);
	free(conf);
	sb_free(&mput);
	return 0;
}

/* Look up every table named by the batch that is not known yet (outside any transaction). */
void pgw_resolve_tables(struct pgw *w)
{
	for (int i = 0; i < w->ntabs; i++) {
		struct cat_table *t = w->tabs[i];
		if (t->state != 0)
			continue;
		if (cat_table_load(w->conn, t, w->o.pip->name) == 0)
			table_prepare(w, t);
	}
}

/* ------------------------------------------------------ pipeline helpers */

void pgw_conn_die(struct pgw *w, const char *what)
{
	pgc_die(w->conn, NULL, PQstatus(w->conn) == CONNECTION_BAD ? EXIT_TEMPFAIL : EXIT_SOFTWARE, what);
}

static void set_reason_from(struct pgw *w, const PGresult *r)
{
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	/* SQLSTATE class 42 (an undefined table or column): the frame names what
	 * the database does not have.  PLM01/PLI01: the work-item guard
	 * (sql/009-work-guard.sql).  Class 23 (integrity constraint violation:
	 * a CHECK such as sql/008's non-negative amounts, a foreign key, NOT
	 * NULL, a unique key) is a broken invariant, and so is anything else
	 * the server refuses (class 22: a value out of range). */
	if (st && !strncmp(st, "42", 2))
		w->reject_kind = FR_REJ_SCHEMA;
	else if (st && !strcmp(st, "PLM01"))
		w->reject_kind = FR_REJ_MISSING;
	else
		w->reject_kind = FR_REJ_INVARIANT;
	const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	sb_reset(&w->reason);
	sb_adds(&w->reason, m ? m : PQresultErrorMessage(r));
	if (d)
		sb_addf(&w->reason, " (%s)", d);
	while (w->reason.len && (w->reason.buf[w->reason.len - 1] == '\n'))
		w->reason.buf[--w->reason.len] = '\0';
}

static int verify_row(struct pgw *w, const PGresult *r, int fi, int li);

/*
 * Wait for the server's next result, reading input meanwhile (at most
 * READAHEAD bytes buffered): while a transaction runs, the stages upstream
 * keep writing instead of blocking on a full pipe, and the next catch-up
 * batch is already buffered when the COMMIT returns.
 */
#define READAHEAD ((size_t)8 << 20)
static void wait_result(struct pgw *w)
{
	if (!w->readahead)
		return;
	while (PQisBusy(w->conn)) {
		int room = !w->lr.eof && w->lr.end - w->lr.start < READAHEAD;
		struct pollfd p[2] = {{PQsocket(w->conn), POLLIN, 0}, {w->lr.fd, POLLIN, 0}};
		if (poll(p, room ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die_errno(EXIT_SOFTWARE, "unable to poll the connection");
		}
		/* A read error is left for the read loop to report (it reads again). */
		if (room && p[1].revents && lr_fill(&w->lr) < 0)
			w->readahead = 0;
		if (p[0].revents && !PQconsumeInput(w->conn))
			return; /* PQgetResult reports the connection's state */
	}
}

/* Read what input is there without waiting (between frames of a transaction
 * being queued), so that upstream does not block while pg-write computes. */
void pgw_readahead_poll(struct pgw *w)
{
	if (!w->readahead || w->lr.eof || w->lr.end - w->lr.start >= READAHEAD)
		return;
	struct pollfd p = {w->lr.fd, POLLIN, 0};
	if (poll(&p, 1, 0) > 0 && p.revents && lr_fill(&w->lr) < 0)
		w->readahead = 0;
}

/* Read the results of one queued statement. */
static void read_one(struct pgw *w, const struct expect *e)
{
	wait_result(w);
	PGresult *r = PQgetResult(w->conn);
	if (!r) {
		/* After a server crash libpq may end the pipeline's results early
		 * before it marks the connection bad: probe it. */
		if (PQstatus(w->conn) == CONNECTION_BAD || !PQconsumeInput(w->conn) || PQstatus(w->conn) == CONNECTION_BAD)
			pgw_conn_die(w, "read a result");
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
void pgw_segment_end(struct pgw *w)
{
	if (PQpipelineSync(w->conn) != 1)
		pgw_conn_die(w, "send a pipeline sync");
	for (int i = 0; i < w->nex; i++)
		read_one(w, &w->ex[i]);
	w->nex = 0;
	PGresult *r = PQgetResult(w->conn);
	if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
		if (PQstatus(w->conn) == CONNECTION_BAD || (r && pgc_conn_lost(w->conn, r)))
			pgw_conn_die(w, "read a pipeline sync");
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
		pgw_conn_die(w, "send a statement");
	expect_push(w, frame, kind, line);
	if (w->nex >= SEGMENT)
		pgw_segment_end(w);
}

/* Queue a bookkeeping statement: the pipeline name is its last parameter. */
void pgw_send_book(struct pgw *w, const char *stmt, int frame, int kind)
{
	pb_add(&w->pb, w->o.pip->name, strlen(w->o.pip->name));
	send_prep(w, stmt, frame, kind, -1);
}

void pgw_send_plain(struct pgw *w, const char *sql, int frame, int kind)
{
	if (!PQsendQueryParams(w->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		pgw_conn_die(w, "send a statement");
	expect_push(w, frame, kind, -1);
}

/* ------------------------------------------------------ frame -> statements */

static int col_index(const struct js *js, int keytok, const struct cat_table *t)
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

static const char *json_type_name(int type)
{
	switch (type) {
	case JS_NUM:
		return "a JSON number";
	case JS_TRUE:
	case JS_FALSE:
		return "a JSON boolean";
	case JS_ARR:
		return "a JSON array";
	case JS_OBJ:
		return "a JSON object";
	default:
		return "not a string";
	}
}

/* Append the text parameter for value tok of column c; -1 with w->reason on bad data. */
static int add_value(struct pgw *w, const struct cat_table *t, const struct cat_col *c, int tok)
{
	const struct js *js = &w->js;
	const struct js_tok *v = &js->t[tok];
	const char *s;
	size_t n;
	/* docs/formats.md: numeric columns are decimal strings (or null).  A JSON
	 * number would pass through a float in most JSON tools: refuse it. */
	if (c->typid == NUMERIC_OID && v->type != JS_STR && v->type != JS_NULL) {
		w->reject_kind = FR_REJ_SYNTAX;
		sb_reset(&w->reason);
		sb_addf(&w->reason, "value of numeric column \"%s\".\"%s\" is %s (%.*s), not a decimal string",
			t->name, c->name, json_type_name(v->type), (int)(v->len > 100 ? 100 : v->len), js->src + v->off);
		return -1;
	}
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
			w->reject_kind = FR_REJ_SYNTAX;
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
static int key_params(struct pgw *w, const struct cat_table *t, int key)
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
static int row_params(struct pgw *w, const struct cat_table *t, int key, int row)
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
	pgw_send_book(w, "pgw_jb", fi, K_CMD);
	note_block(w, bn);
}

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
	pgw_send_book(w, "pgw_je", w->ja_fi, K_CMD);
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

/* ---------------------------------------------------------- coalescing */

/*
 * Within one transaction every put/del of a table that has multi-row
 * statements is remembered by (table, key) with the line that touched it
 * last; at the end (pgw_coal_flush) each such row is written once, with its
 * final image: per table one DELETE of the rows whose last line is a del,
 * then one INSERT ... ON CONFLICT of those whose last line is a put.  The
 * lines are already validated (key_params/row_params) when they are
 * remembered, and stay in w->fr until the transaction ends.
 */
void pgw_coal_reset(struct pgw *w)
{
	for (int i = 0; i < w->nce; i++)
		w->cb[w->ce[i].slot] = 0;
	w->nce = 0;
	sb_reset(&w->ckeys);
	sb_reset(&w->wt_ids);
	sb_reset(&w->wt_seqs);
	w->wt_n = 0;
}

static void coal_grow(struct pgw *w)
{
	size_t ncap = w->cbcap ? w->cbcap * 2 : 1024, m = ncap - 1;
	free(w->cb);
	w->cb = xcalloc(ncap, sizeof *w->cb);
	w->cbcap = ncap;
	for (int i = 0; i < w->nce; i++) {
		size_t j = w->ce[i].h & m;
		while (w->cb[j])
			j = (j + 1) & m;
		w->cb[j] = i + 1;
		w->ce[i].slot = j;
	}
}

static int coal_on(const struct pgw *w, const struct cat_table *t)
{
	return w->coal && t->id < w->amt && w->mt[t->id].multi;
}

/* Remember line li of frame fi as the last touch of the row whose key is in w->pb. */
static void coal_add(struct pgw *w, const struct cat_table *t, int fi, int li, int put)
{
	const char *k = w->pb.b.buf;
	size_t kl = w->pb.b.len;
	uint64_t h = hm_hash(k, kl) ^ ((uint64_t)(t->id + 1) * 0x9e3779b97f4a7c15ULL);
	if ((size_t)(w->nce + 1) * 10 > w->cbcap * 7)
		coal_grow(w);
	size_t m = w->cbcap - 1, j = h & m;
	for (; w->cb[j]; j = (j + 1) & m) {
		struct coal_ent *e = &w->ce[w->cb[j] - 1];
		if (e->h == h && e->tab == t->id && e->klen == kl && !memcmp(w->ckeys.buf + e->koff, k, kl)) {
			e->fi = fi;
			e->li = li;
			e->put = put;
			return;
		}
	}
	if (w->nce == w->ace) {
		w->ace = w->ace ? w->ace * 2 : 1024;
		w->ce = xrealloc(w->ce, (size_t)w->ace * sizeof *w->ce);
	}
	struct coal_ent *e = &w->ce[w->nce];
	*e = (struct coal_ent){t->id, fi, li, put, w->ckeys.len, kl, j, h};
	sb_add(&w->ckeys, k, kl);
	w->cb[j] = ++w->nce;
}

/* Append one value to COPY text data: NULL as \N, the text escaped. */
static void copy_value(struct sb *b, const char *v)
{
	if (!v) {
		sb_add(b, "\\N", 2);
		return;
	}
	size_t n = strlen(v);
	sb_grow(b, n + 8);
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			sb_addc(b, '\\');
			c = c == '\t' ? 't' : c == '\n' ? 'n'
				      : c == '\r'	? 'r'
							: c;
		}
		sb_addc(b, c);
	}
}

#define COPY_CHUNK ((size_t)1 << 20) /* COPY data sent in pieces of about this size */

/*
 * The rows of table t whose last line is a put (put) or a del: as one
 * text[] literal per column in w->carr (copy 0), or as COPY text rows sent
 * to the server (copy 1: a COPY FROM STDIN is in progress).  Returns the
 * number of rows.
 */
static int coal_rows(struct pgw *w, const struct cat_table *t, int put, int copy)
{
	struct js *js = &w->js;
	int na = put ? t->ncols : t->npk, cnt = 0;
	if (w->acarr < na) {
		w->carr = xrealloc(w->carr, (size_t)na * sizeof *w->carr);
		for (int i = w->acarr; i < na; i++)
			w->carr[i] = (struct sb)SB_INIT;
		w->acarr = na;
	}
	for (int i = 0; i < na; i++)
		sb_reset(&w->carr[i]);
	sb_reset(&w->copybuf);
	for (int i = 0; i < w->nce; i++) {
		const struct coal_ent *e = &w->ce[i];
		if (e->tab != t->id || e->put != put)
			continue;
		size_t len;
		const char *line = pgw_frame_line(&w->fr[e->fi], (size_t)e->li, &len);
		if (js_parse(js, line, len) < 0)
			die_code(EXIT_SOFTWARE, "unable to re-parse a buffered line: %s", err_msg());
		int key = js_get(js, 0, "key");
		if ((put ? row_params(w, t, key, js_get(js, 0, "row")) : key_params(w, t, key)) < 0)
			die_code(EXIT_SOFTWARE, "unable to rebuild a checked row: %s", w->reason.buf);
		for (int c = 0; c < na; c++) {
			size_t off = w->pb.off[c];
			const char *v = off == (size_t)-1 ? NULL : w->pb.b.buf + off;
			if (copy) {
				if (c)
					sb_addc(&w->copybuf, '\t');
				copy_value(&w->copybuf, v);
			} else {
				ja_elem(&w->carr[c], v, v ? strlen(v) : 0);
			}
		}
		if (copy) {
			sb_addc(&w->copybuf, '\n');
			if (w->copybuf.len >= COPY_CHUNK) {
				if (PQputCopyData(w->conn, w->copybuf.buf, (int)w->copybuf.len) != 1)
					pgw_conn_die(w, "send COPY data");
				sb_reset(&w->copybuf);
			}
		}
		cnt++;
	}
	if (copy && w->copybuf.len && PQputCopyData(w->conn, w->copybuf.buf, (int)w->copybuf.len) != 1)
		pgw_conn_die(w, "send COPY data");
	return cnt;
}

/* Send the rows of table t whose last line is a put (put) or a del. */
static void coal_send(struct pgw *w, const struct cat_table *t, int put, int frame, int kind)
{
	int na = put ? t->ncols : t->npk;
	if (!coal_rows(w, t, put, 0))
		return;
	char name[64];
	pb_reset(&w->pb);
	for (int c = 0; c < na; c++) {
		sb_addc(&w->carr[c], '}');
		pb_add(&w->pb, w->carr[c].buf, w->carr[c].len);
	}
	snprintf(name, sizeof name, "pgw_m%s_%d", put ? "put" : "del", t->id);
	send_prep(w, name, frame, kind, -1);
}

/* A statement outside pipeline mode failed: the batch is to blame (K_COAL). */
static int stage_failed(struct pgw *w, PGresult *r, const char *what)
{
	if (pgc_conn_lost(w->conn, r))
		pgc_die(w->conn, r, EXIT_TEMPFAIL, what);
	if (!w->failed) {
		w->failed = 1;
		w->fail_frame = -1;
		w->fail_kind = K_COAL;
		set_reason_from(w, r);
	}
	PQclear(r);
	while ((r = PQgetResult(w->conn)) != NULL)
		PQclear(r);
	return -1;
}

/* COPY the puts of table t into its staging table (not in pipeline mode). */
static int stage_copy(struct pgw *w, const struct cat_table *t)
{
	struct pgw_mt *m = &w->mt[t->id];
	PGresult *r;
	if (!m->stage) {
		r = PQexecParams(w->conn, m->s_create.buf, 0, NULL, NULL, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return stage_failed(w, r, "create a staging table");
		PQclear(r);
		m->stage = 2;
	}
	r = PQexecParams(w->conn, m->s_copy.buf, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return stage_failed(w, r, "COPY into a staging table");
	PQclear(r);
	coal_rows(w, t, 1, 1);
	if (PQputCopyEnd(w->conn, NULL) != 1)
		pgw_conn_die(w, "end COPY data");
	r = PQgetResult(w->conn);
	if (!r)
		pgw_conn_die(w, "read the result of a COPY");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return stage_failed(w, r, "COPY into a staging table");
	PQclear(r);
	while ((r = PQgetResult(w->conn)) != NULL)
		PQclear(r);
	return 0;
}

void pgw_stage_end(struct pgw *w, int committed)
{
	for (int i = 0; i < w->amt; i++)
		if (w->mt[i].stage == 2)
			w->mt[i].stage = committed ? 1 : 0;
}

/* Mark the transaction's work items done (coalescing): one statement. */
static void coal_work(struct pgw *w, int frame, int kind)
{
	if (!w->wt_n)
		return;
	pb_reset(&w->pb);
	if (w->wt_n == 1) {
		const struct frame *f = &w->fr[w->wt_fi];
		pb_i64(&w->pb, f->driver_id);
		pb_i64(&w->pb, f->seq);
	} else {
		sb_addc(&w->wt_ids, '}');
		sb_addc(&w->wt_seqs, '}');
		pb_add(&w->pb, w->wt_ids.buf, w->wt_ids.len);
		pb_add(&w->pb, w->wt_seqs.buf, w->wt_seqs.len);
	}
	pb_add(&w->pb, w->work_label.buf, w->work_label.len);
	pb_add(&w->pb, w->o.pip->order[0], strlen(w->o.pip->order[0]));
	send_prep(w, w->wt_n == 1 ? "pgw_wt" : "pgw_wtm", frame, kind, -1);
}

/*
 * In a transaction of several frames, a table with at least copy_min rows
 * to put goes through COPY: the frames' statements are synced, the rows
 * COPYed (text format) into the table's staging table, and the put becomes
 * one INSERT ... SELECT FROM the staging table with the same ON CONFLICT
 * clause -- same rows, same order, same triggers, one final image per row.
 * COPY is not allowed in pipeline mode: it runs between two segments.
 */
static int coal_stage(struct pgw *w, int frame)
{
	int any = 0;
	for (int i = 0; i < w->ntabs; i++) {
		const struct cat_table *t = w->tabs[i];
		if (coal_on(w, t))
			w->mt[t->id].nput = 0;
	}
	if (frame >= 0 || w->copy_min <= 0)
		return 0;
	for (int i = 0; i < w->nce; i++)
		if (w->ce[i].put)
			w->mt[w->ce[i].tab].nput++;
	for (int i = 0; i < w->ntabs; i++) {
		const struct cat_table *t = w->tabs[i];
		if (coal_on(w, t) && w->mt[t->id].nput >= w->copy_min)
			any = 1;
		else if (coal_on(w, t))
			w->mt[t->id].nput = 0;
	}
	if (!any)
		return 0;
	pgw_segment_end(w);
	if (w->failed)
		return 0;
	if (!PQexitPipelineMode(w->conn))
		pgw_conn_die(w, "leave pipeline mode");
	for (int i = 0; i < w->ntabs && !w->failed; i++) {
		const struct cat_table *t = w->tabs[i];
		if (coal_on(w, t) && w->mt[t->id].nput)
			stage_copy(w, t);
	}
	if (!PQenterPipelineMode(w->conn))
		pgw_conn_die(w, "enter pipeline mode");
	return !w->failed;
}

void pgw_coal_flush(struct pgw *w, int frame)
{
	int kind = frame >= 0 ? K_CMD : K_COAL;
	int staged = coal_stage(w, frame);
	if (w->failed) {
		pgw_coal_reset(w);
		return;
	}
	coal_work(w, frame, kind);
	/* Deletes first: a key is in one of the two sets only, but a unique
	 * constraint besides the key could see an old row and a new one. */
	for (int put = 0; put < 2 && !w->failed; put++)
		for (int i = 0; i < w->ntabs && !w->failed; i++) {
			const struct cat_table *t = w->tabs[i];
			if (!coal_on(w, t))
				continue;
			if (put && staged && w->mt[t->id].nput)
				pgw_send_plain(w, w->mt[t->id].s_merge.buf, frame, kind);
			else
				coal_send(w, t, put, frame, kind);
		}
	pgw_coal_reset(w);
}

void pgw_coal_free(struct pgw *w)
{
	for (int i = 0; i < w->amt; i++) {
		free(w->mt[i].arrtyp);
		sb_free(&w->mt[i].s_create);
		sb_free(&w->mt[i].s_copy);
		sb_free(&w->mt[i].s_merge);
	}
	free(w->mt);
	sb_free(&w->copybuf);
	free(w->ce);
	free(w->cb);
	sb_free(&w->ckeys);
	sb_free(&w->wt_ids);
	sb_free(&w->wt_seqs);
	for (int i = 0; i < w->acarr; i++)
		sb_free(&w->carr[i]);
	free(w->carr);
}

/* Queue every statement of frame fi.  -1 (w->reason set) if the frame cannot be applied. */
int pgw_send_frame(struct pgw *w, int fi)
{
	struct frame *f = &w->fr[fi];
	struct js *js = &w->js;
	char name[64];
	int journal_befores = f->type == FR_KIND_BLOCK && !f->has_undo;
	struct sb last = SB_INIT; /* hash of the journal block last inserted by this frame */
	w->ja_n = 0;		  /* nothing left over from a frame that failed to queue */
	sb_reset(&w->ja_tbl);
	sb_reset(&w->ja_key);
	sb_reset(&w->ja_before);

	if (w->o.pip->work_table && w->coal) {
		/* Marked at the end of the transaction, all at once (pgw_coal_flush). */
		sb_addc(&w->wt_ids, w->wt_ids.len ? ',' : '{');
		sb_add_i64(&w->wt_ids, f->driver_id);
		sb_addc(&w->wt_seqs, w->wt_seqs.len ? ',' : '{');
		sb_add_i64(&w->wt_seqs, f->seq);
		w->wt_n++;
		w->wt_fi = fi;
	} else if (w->o.pip->work_table) {
		pb_reset(&w->pb);
		pb_i64(&w->pb, f->driver_id);
		pb_i64(&w->pb, f->seq);
		pb_add(&w->pb, w->work_label.buf, w->work_label.len);
		pb_add(&w->pb, w->o.pip->order[0], strlen(w->o.pip->order[0]));
		send_prep(w, "pgw_wt", fi, K_CMD, -1);
	}
	/* A block at or below the transaction's last `finalized` would be pruned
	 * before COMMIT anyway: in catch-up most are, so they are not journaled. */
	int journal_frame_block = f->has_block && f->block_number > w->batch_fin && !f->final;
	if (!journal_frame_block)
		journal_befores = 0;
	if (f->type != FR_KIND_REVERT && journal_frame_block) {
		send_block(w, fi, f->block_number, f->hash.buf, f->hash.len);
		sb_add(&last, f->hash.buf, f->hash.len);
	}
	for (size_t li = 1; li + 1 < f->nl && !w->failed; li++) {
		size_t len;
		const char *line = pgw_frame_line(f, li, &len);
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
		struct cat_table *t = pgw_get_table(w, tn, tl, 0);
		if (!t || t->state != 1) {
			w->reject_kind = FR_REJ_SCHEMA;
			sb_reset(&w->reason);
			sb_adds(&w->reason, t && t->reason ? t->reason : "table not looked up");
			sb_free(&last);
			return -1;
		}
		int is_put = js_str_eq(js, op, "put");
		if (coal_on(w, t)) {
			/* Checked now, written at the end of the transaction (coalescing). */
			if ((is_put && row_params(w, t, key, js_get(js, 0, "row")) < 0) || key_params(w, t, key) < 0) {
				sb_free(&last);
				return -1;
			}
			coal_add(w, t, fi, (int)li, is_put);
			if (journal_befores && f->has_block)
				send_entry(w, fi, f->block_number, f->hash.buf, f->hash.len, tab, key, before);
			continue;
		}
		if (key_params(w, t, key) < 0) {
			sb_free(&last);
			return -1;
		}
		if (w->o.verify_before && before >= 0) {
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
	if (f->type == FR_KIND_REVERT) {
		pb_reset(&w->pb);
		pb_add(&w->pb, f->hash.buf, f->hash.len);
		pgw_send_book(w, "pgw_rv", fi, K_CMD);
	}
	/* The journal is pruned once per transaction, at its last frame (tx_run). */
	return 0;
}

/* Prune the journal up to the transaction's highest `finalized`, if that can delete anything. */
void pgw_send_prune(struct pgw *w, int fi)
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
	pgw_send_book(w, "pgw_fin", fi, K_CMD);
	w->prune_fin = w->batch_fin;
	w->min_new_block = INT64_MAX;
}

/* Compare the current row (result of pgw_sel_N) with the line's before image. */
static int verify_row(struct pgw *w, const PGresult *r, int fi, int li)
{
	struct js *js = &w->js2;
	size_t len;
	const char *line = pgw_frame_line(&w->fr[fi], (size_t)li, &len);
	const char *s;
	size_t n;
	if (js_parse(js, line, len) < 0)
		die_code(EXIT_SOFTWARE, "unable to re-parse a buffered line: %s", err_msg());
	int before = js_get(js, 0, "before"), key = js_get(js, 0, "key");
	js_str(js, js_get(js, 0, "table"), &w->tmp2, &s, &n);
	const struct cat_table *t = pgw_get_table(w, s, n, 0);
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
			cat_add_value(&w->reason, &t->cols[c], dv, isnull);
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
