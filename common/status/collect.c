/*
 * collect.c -- one snapshot of a pipeline: see status.h.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "pg/pgconn.h"
#include "status/status.h"

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
	/* one line: newlines of server messages become spaces */
	for (char *p = dst; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

void st_init(struct st_collector *c, const char *conninfo, const struct st_opts *o)
{
	memset(c, 0, sizeof *c);
	c->o = *o;
	c->conninfo = xstrdup(conninfo ? conninfo : "");
}

void st_free(struct st_collector *c)
{
	if (c->conn)
		PQfinish(c->conn);
	free(c->conninfo);
	c->conn = NULL;
}

/* ------------------------------------------------------------ database */

static PGresult *query(struct st_collector *c, const char *sql, int n, const char *const *vals)
{
	PGresult *r = PQexecParams(c->conn, sql, n, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	struct st_snap *s = &c->cur;
	const char *m = PQresultErrorMessage(r);
	s->db_ok = 0;
	copy(s->db_error, sizeof s->db_error, m && *m ? m : PQerrorMessage(c->conn));
	if (pgc_schema_missing(r)) {
		size_t l = strlen(s->db_error);
		snprintf(s->db_error + l, sizeof s->db_error - l, " (is the schema migrated? see pl-migrate)");
	}
	PQclear(r);
	return NULL;
}

static int64_t num(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return -1;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Append the quoted identifier name to q; -1 when libpq refuses it. */
static int add_ident(struct sb *q, PGconn *conn, const char *name)
{
	char *e = PQescapeIdentifier(conn, name, strlen(name));
	if (!e)
		return -1;
	sb_adds(q, e);
	PQfreemem(e);
	return 0;
}

/*
 * One number from a table the registry names: how many work items wait
 * ("SELECT count(*) FROM work WHERE NOT done") or the chain head
 * ("SELECT max(col) FROM head").  Both identifiers quoted by libpq.
 */
static int64_t one_number(struct st_collector *c, int count, const char *col, const char *table)
{
	struct sb q = SB_INIT;
	int64_t v = -1;
	int bad = 0;
	if (count) {
		sb_adds(&q, "SELECT count(*)::text FROM ");
		bad |= add_ident(&q, c->conn, table);
		sb_adds(&q, " WHERE NOT ");
		bad |= add_ident(&q, c->conn, col);
	} else {
		sb_adds(&q, "SELECT max(");
		bad |= add_ident(&q, c->conn, col);
		sb_adds(&q, ")::bigint::text FROM ");
		bad |= add_ident(&q, c->conn, table);
	}
	if (bad) {
		c->cur.db_ok = 0;
		copy(c->cur.db_error, sizeof c->cur.db_error, PQerrorMessage(c->conn));
		sb_free(&q);
		return -1;
	}
	PGresult *r = PQexecParams(c->conn, q.buf, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		v = num(r, 0, 0);
	} else {
		c->cur.db_ok = 0;
		copy(c->cur.db_error, sizeof c->cur.db_error, PQresultErrorMessage(r));
	}
	PQclear(r);
	sb_free(&q);
	return v;
}

static void collect_db(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	if (c->conn && PQstatus(c->conn) != CONNECTION_OK) {
		PQfinish(c->conn);
		c->conn = NULL;
	}
	if (!c->conn) {
		int permanent;
		c->conn = pgc_connect(c->conninfo, "pl-status", &permanent);
		if (!c->conn) {
			copy(s->db_error, sizeof s->db_error, err_msg());
			return;
		}
		PGresult *r = PQexecParams(c->conn, "SET statement_timeout = '5s'", 0, NULL, NULL, NULL, NULL, 0);
		PQclear(r);
	}
	s->db_ok = 1;
	const char *pv[1] = {c->o.pipeline};
	PGresult *r = query(c,
		"SELECT name, work_table, done_column, head_table, head_column,"
		/* (through to_jsonb: a registry without sql/040 has no such column) */
		" to_jsonb(p)->>'search_path' FROM pl_pipeline p"
		" WHERE name = $1 OR $1 IS NULL ORDER BY work_table IS NULL, name LIMIT 2",
		1, pv);
	if (!r)
		return;
	/* as the stages choose (pg/pipeline.c): no name given, a pipeline
	 * without a work table is never the default beside one that has one */
	int n = PQntuples(r);
	if (!c->o.pipeline && n == 2 && !PQgetisnull(r, 0, 1) && PQgetisnull(r, 1, 1))
		n = 1;
	if (n != 1) {
		s->db_ok = 0;
		copy(s->db_error, sizeof s->db_error,
			PQntuples(r) ? "several pipelines are registered in pl_pipeline: name one with --pipeline"
				     : "the pipeline is not registered in pl_pipeline");
		PQclear(r);
		return;
	}
	copy(s->pipeline, sizeof s->pipeline, PQgetvalue(r, 0, 0));
	char *work = PQgetisnull(r, 0, 1) ? NULL : xstrdup(PQgetvalue(r, 0, 1));
	char *done = PQgetisnull(r, 0, 2) ? NULL : xstrdup(PQgetvalue(r, 0, 2));
	char *head_t = PQgetisnull(r, 0, 3) ? NULL : xstrdup(PQgetvalue(r, 0, 3));
	char *head_c = PQgetisnull(r, 0, 4) ? NULL : xstrdup(PQgetvalue(r, 0, 4));
	char *path = PQgetisnull(r, 0, 5) ? NULL : xstrdup(PQgetvalue(r, 0, 5));
	PQclear(r);
	/* The pipeline's schemas (sql/040), as its stages set them: the work
	 * table and the state tables resolve unqualified (erc8004: work_items). */
	if (path) {
		const char *sp[1] = {path};
		if ((r = query(c, "SELECT set_config('search_path', $1, false)", 1, sp)))
			PQclear(r);
		free(path);
	}
	const char *name[1] = {s->pipeline};
	s->has_work_table = work != NULL;
	if (work && s->db_ok)
		s->waiting = one_number(c, 1, done, work);
	if (head_t && s->db_ok)
		s->head_block = one_number(c, 0, head_c, head_t);
	free(work);
	free(done);
	free(head_t);
	free(head_c);
	if (!s->db_ok)
		return;
	if ((r = query(c,
		     "SELECT driver_id, seq, finalized, (extract(epoch FROM updated_at) * 1000)::bigint,"
		     " (SELECT max(block_number)::bigint FROM pl_journal_block WHERE pipeline = $1)"
		     " FROM pl_checkpoint WHERE pipeline = $1",
		     1, name))) {
		if (PQntuples(r) == 1) {
			s->have_cp = 1;
			s->cp_driver = num(r, 0, 0);
			s->cp_seq = num(r, 0, 1);
			s->cp_fin = num(r, 0, 2);
			s->cp_updated_ms = num(r, 0, 3);
			s->cp_block = num(r, 0, 4);
		}
		PQclear(r);
	}
	if ((r = query(c,
		     "SELECT count(*), (SELECT program || ': ' || reason FROM pl_quarantine WHERE pipeline = $1"
		     " ORDER BY id DESC LIMIT 1) FROM pl_quarantine WHERE pipeline = $1",
		     1, name))) {
		s->quarantined = num(r, 0, 0);
		copy(s->last_quarantine, sizeof s->last_quarantine, PQgetvalue(r, 0, 1));
		PQclear(r);
	}
	if ((r = query(c,
		     "SELECT t.table_name, coalesce(max(u.n_live_tup), 0) FROM pl_state_tables t"
		     " LEFT JOIN pg_stat_user_tables u ON u.relname = t.table_name"
		     " WHERE t.pipeline = $1 GROUP BY t.table_name ORDER BY t.table_name COLLATE \"C\"",
		     1, name))) {
		for (int i = 0; i < PQntuples(r) && s->ntables < ST_MAX_TABLES; i++) {
			struct st_table *t = &s->tables[s->ntables++];
			copy(t->name, sizeof t->name, PQgetvalue(r, i, 0));
			t->rows = num(r, i, 1);
		}
		PQclear(r);
	}
}

/* ------------------------------------------------------- run directory */

/* The file's text (at most cap - 1 bytes) into buf; its length, or -1. */
static ssize_t slurp(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* State letter and start time of pid from /proc; 0 when it does not run. */
static char proc_state(long pid, char *start, size_t cap, int64_t *rss)
{
	char path[64], buf[1024];
	*rss = -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	char state = p[2];
	/* field 22 (starttime): the 20th after the state */
	char *q = p + 2;
	for (int i = 0; i < 19 && q; i++) {
		q = strchr(q, ' ');
		if (q)
			q++;
	}
	if (start && cap) {
		start[0] = '\0';
		if (q)
			snprintf(start, cap, "%.*s", (int)strcspn(q, " "), q);
	}
	snprintf(path, sizeof path, "/proc/%ld/statm", pid);
	if ((f = fopen(path, "r"))) {
		long size, res;
		if (fscanf(f, "%ld %ld", &size, &res) == 2)
			*rss = (int64_t)res * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	return state == 'Z' || state == 'X' ? 0 : state;
}

static void collect_supervisor(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	char buf[8192];
	const char *dir = c->o.run_dir;
	if (slurp(dir, "supervisor.pid", buf, sizeof buf) > 0) {
		int64_t rss;
		s->has_supervisor = 1;
		s->sup_pid = strtol(buf, NULL, 10);
		s->sup_alive = s->sup_pid > 0 && proc_state(s->sup_pid, NULL, 0, &rss) != 0;
	}
	/* supervisor.state: "key value..." lines (scripts/run-pipeline) */
	if (slurp(dir, "supervisor.state", buf, sizeof buf) > 0) {
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			char *v = strchr(line, ' ');
			if (!v)
				continue;
			*v++ = '\0';
			if (!strcmp(line, "state"))
				copy(s->sup_state, sizeof s->sup_state, v);
			else if (!strcmp(line, "restarts"))
				s->restarts = strtoll(v, NULL, 10);
			else if (!strcmp(line, "last_error"))
				copy(s->last_error, sizeof s->last_error, v);
			else if (!strcmp(line, "stage")) {
				/* stage NAME RESTARTS LAST_EXIT */
				char name[64];
				long long restarts, last;
				if (sscanf(v, "%63s %lld %lld", name, &restarts, &last) == 3) {
					for (int i = 0; i < s->nstages; i++)
						if (!strcmp(s->stages[i].name, name)) {
							s->stages[i].restarts = restarts;
							s->stages[i].last_exit = last;
						}
				}
			}
		}
	}
}

static void collect_stages(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	char buf[8192];
	if (slurp(c->o.run_dir, "stages.pid", buf, sizeof buf) < 0)
		return;
	for (char *line = strtok(buf, "\n"); line && s->nstages < ST_MAX_STAGES; line = strtok(NULL, "\n")) {
		long pid;
		char start[64], name[64], now_start[64];
		if (sscanf(line, "%ld %63s %63s", &pid, start, name) != 3)
			continue;
		if (!strcmp(name, "pg-snapshot"))
			continue; /* a helper of the start-up, not a stage */
		struct st_stage *t = &s->stages[s->nstages++];
		memset(t, 0, sizeof *t);
		copy(t->name, sizeof t->name, name);
		t->pid = pid;
		t->last_exit = -1;
		t->state = proc_state(pid, now_start, sizeof now_start, &t->rss);
		if (t->state && strcmp(start, "-") && strcmp(start, now_start))
			t->state = 0; /* a recycled pid: not our stage */
		if (!t->state)
			t->rss = -1;
	}
}

/* Counters that accumulate over the writer's restarts. */
static int cumulative(const char *key)
{
	size_t n = strlen(key);
	return (n > 6 && !strcmp(key + n - 6, "_total")) || !strncmp(key, "commit_bucket_us", 16) ||
	       !strcmp(key, "commit_sum_us");
}

static void collect_files(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	DIR *d = opendir(c->o.run_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 7 || strcmp(e->d_name + n - 6, ".stats") || e->d_name[0] == '.')
			continue;
		char stage[64];
		snprintf(stage, sizeof stage, "%.*s", (int)(n - 6), e->d_name);
		static char text[65536];
		ssize_t len = slurp(c->o.run_dir, e->d_name, text, sizeof text);
		if (len < 0)
			continue;
		struct st_file nf;
		memset(&nf, 0, sizeof nf);
		if (st_parse_stats(&nf, text, (size_t)len) < 0) {
			warn("ignoring stats file %s/%s: %s", c->o.run_dir, e->d_name, err_msg());
			continue;
		}
		copy(nf.stage, sizeof nf.stage, stage);
		/* the previous snapshot's file of this stage: carry the bases over a restart of its writer */
		struct st_file *old = NULL;
		for (int i = 0; i < s->nfiles; i++)
			if (!strcmp(s->files[i].stage, stage))
				old = &s->files[i];
		if (old) {
			for (int i = 0; i < old->nkeys; i++) {
				if (!cumulative(old->keys[i].key))
					continue;
				struct st_key *k = st_key_of(&nf, old->keys[i].key);
				if (!k)
					continue;
				k->base = old->keys[i].base;
				if (old->pid != nf.pid) /* a new writer: what the old one counted stays */
					k->base += old->keys[i].val;
			}
			*old = nf;
		} else if (s->nfiles < ST_MAX_FILES) {
			s->files[s->nfiles++] = nf;
		}
	}
	closedir(d);
}

const struct st_file *st_file_of(const struct st_snap *s, const char *stage)
{
	for (int i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].stage, stage))
			return &s->files[i];
	return NULL;
}

/* ------------------------------------------------------------- verdicts */

static void verdicts(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	int64_t now = s->now_ms;
	/* the head from a stats file when the database does not know it */
	for (int i = 0; i < s->nfiles && s->head_block < 0; i++) {
		int found;
		int64_t v = st_file_value(&s->files[i], "head_block", &found);
		if (found)
			s->head_block = v;
	}
	const struct st_file *w = st_file_of(s, "pg-write");
	int found;
	int64_t wb = st_file_value(w, "last_block", &found);
	if (s->cp_block < 0 && found && wb >= 0)
		s->cp_block = wb;
	/* a source's own health rule (rpc-listen: healthy while lag < 100 blocks) and catch-up */
	s->lag_limit = -1;
	s->source_caught_up = -1;
	for (int i = 0; i < s->nfiles; i++) {
		int64_t v = st_file_value(&s->files[i], "healthy_lag_blocks", &found);
		if (found && v > 0)
			s->lag_limit = v;
		v = st_file_value(&s->files[i], "caught_up", &found);
		if (found)
			s->source_caught_up = v != 0;
	}
	s->lag_blocks = -1;
	if (s->head_block >= 0 && s->cp_block >= 0)
		s->lag_blocks = s->head_block > s->cp_block ? s->head_block - s->cp_block : 0;
	/* the stall clock: work waits and the checkpoint stays */
	int64_t seq = s->have_cp ? s->cp_seq : -1;
	if (!c->have_seq_seen || seq != c->last_seq_seen || s->waiting <= 0) {
		c->have_seq_seen = 1;
		c->last_seq_seen = seq;
		c->seq_changed_ms = now;
	}
	s->stalled_ms = s->waiting > 0 ? now - c->seq_changed_ms : 0;
	s->lag_seconds = 0;
	if (s->waiting > 0)
		s->lag_seconds = (now - (s->have_cp && s->cp_updated_ms > 0 ? s->cp_updated_ms : c->seq_changed_ms)) / 1000;
	if (s->lag_seconds < 0)
		s->lag_seconds = 0;

	s->healthy = 1;
	s->reason[0] = '\0';
#define UNHEALTHY(...)                                              \
	do {                                                        \
		s->healthy = 0;                                     \
		snprintf(s->reason, sizeof s->reason, __VA_ARGS__); \
	} while (0)
	if (!s->db_ok) {
		UNHEALTHY("database: %.400s", s->db_error);
	} else if (s->has_supervisor && !s->sup_alive) {
		UNHEALTHY("the supervisor (pid %ld) is not running", s->sup_pid);
	} else if (!strcmp(s->sup_state, "failed")) {
		UNHEALTHY("the supervisor stopped on a permanent failure: %.400s", s->last_error);
	} else {
		for (int i = 0; i < s->nstages && s->healthy; i++) {
			const struct st_stage *t = &s->stages[i];
			if (t->state == 'T' || t->state == 't')
				UNHEALTHY("stage %s (pid %ld) is stopped (state %c)", t->name, t->pid, t->state);
			else if (!t->state && !strcmp(s->sup_state, "running"))
				UNHEALTHY("stage %s (pid %ld) is not running", t->name, t->pid);
		}
		if (s->healthy && c->o.stall_ms > 0 && s->stalled_ms >= c->o.stall_ms)
			UNHEALTHY("stalled: %" PRId64 " work items wait and the checkpoint has not moved for %" PRId64 " s",
				s->waiting, s->stalled_ms / 1000);
		if (s->healthy && s->lag_limit > 0 && s->lag_blocks >= s->lag_limit)
			UNHEALTHY("lagging: the newest applied block %" PRId64 " is %" PRId64 " blocks behind head %" PRId64
				  " (healthy below %" PRId64 ")",
				s->cp_block, s->lag_blocks, s->head_block, s->lag_limit);
		if (s->healthy && s->has_supervisor && strcmp(s->sup_state, "running") && s->sup_state[0])
			UNHEALTHY("the formation is not running (supervisor state: %s)", s->sup_state);
	}
#undef UNHEALTHY
	s->ready = s->healthy && s->waiting >= 0 && s->waiting <= c->o.ready_items;
	if (s->healthy && s->waiting < 0) {
		/* no work table: ready once something is applied and the source
		 * (when it says) follows the chain live, not in historic sync */
		s->ready = s->have_cp && s->source_caught_up != 0;
		if (!s->ready && !s->have_cp)
			snprintf(s->reason, sizeof s->reason, "catching up: nothing applied yet");
		else if (!s->ready)
			snprintf(s->reason, sizeof s->reason,
				"catching up: historic sync, block %" PRId64 " of head %" PRId64, s->cp_block, s->head_block);
	} else if (s->healthy && !s->ready) {
		snprintf(s->reason, sizeof s->reason, "catching up: %" PRId64 " work items wait", s->waiting);
	}
}

void st_collect(struct st_collector *c)
{
	struct st_snap *s = &c->cur;
	/* keep the stats files (their bases) across snapshots; reset the rest */
	int nfiles = s->nfiles;
	static struct st_file files[ST_MAX_FILES];
	memcpy(files, s->files, sizeof files);
	memset(s, 0, sizeof *s);
	s->nfiles = nfiles;
	memcpy(s->files, files, sizeof files);
	s->now_ms = real_ms();
	s->cp_block = s->head_block = s->waiting = -1;
	collect_db(c);
	if (c->o.run_dir) {
		collect_stages(c);
		collect_supervisor(c);
		collect_files(c);
	}
	verdicts(c);
}
