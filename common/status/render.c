/*
 * render.c -- a snapshot as Prometheus text (exposition format 0.0.4),
 * /status JSON, /health and /ready answers and the progress line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "status/status.h"

/* ----------------------------------------------------------- Prometheus */

static void head(struct sb *o, const char *name, const char *type, const char *help)
{
	sb_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format says (\\, \", \n). */
static void label_value(struct sb *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_addc(o, '\\');
		if (*v == '\n') {
			sb_adds(o, "\\n");
			continue;
		}
		sb_addc(o, *v);
	}
}

/* name{pipeline="p"[,k="v"]} value */
static void sample(struct sb *o, const struct st_snap *s, const char *name, const char *k, const char *v, int64_t val)
{
	sb_addf(o, "%s{pipeline=\"", name);
	label_value(o, s->pipeline);
	sb_adds(o, "\"");
	if (k) {
		sb_addf(o, ",%s=\"", k);
		label_value(o, v);
		sb_adds(o, "\"");
	}
	sb_addf(o, "} %" PRId64 "\n", val);
}

static void gauge(struct sb *o, const struct st_snap *s, const char *name, const char *help, int64_t v)
{
	head(o, name, "gauge", help);
	sample(o, s, name, NULL, NULL, v);
}

static void counter(struct sb *o, const struct st_snap *s, const char *name, const char *help, int64_t v)
{
	head(o, name, "counter", help);
	sample(o, s, name, NULL, NULL, v);
}

/* Microseconds as decimal seconds, exactly ("0.0025", "1", "10"). */
static void seconds(char *buf, size_t cap, int64_t us)
{
	int n = snprintf(buf, cap, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

static void commit_histogram(struct sb *o, const struct st_snap *s, const struct st_file *w)
{
	const char *name = "pl_commit_duration_seconds";
	head(o, name, "histogram", "Time from BEGIN to the end of COMMIT of pg-write's transactions.");
	int64_t inf = 0;
	for (int i = 0; w && i < w->nkeys; i++) {
		const char *k = w->keys[i].key;
		if (strncmp(k, "commit_bucket_us:", 17))
			continue;
		char le[48];
		int64_t v = w->keys[i].base + w->keys[i].val;
		if (!strcmp(k + 17, "+Inf")) {
			inf = v;
			continue;
		}
		seconds(le, sizeof le, (int64_t)strtoll(k + 17, NULL, 10));
		sb_addf(o, "%s_bucket{pipeline=\"", name);
		label_value(o, s->pipeline);
		sb_addf(o, "\",le=\"%s\"} %" PRId64 "\n", le, v);
	}
	sb_addf(o, "%s_bucket{pipeline=\"", name);
	label_value(o, s->pipeline);
	sb_addf(o, "\",le=\"+Inf\"} %" PRId64 "\n", inf);
	char sum[48];
	seconds(sum, sizeof sum, st_file_value(w, "commit_sum_us", NULL));
	sb_addf(o, "%s_sum{pipeline=\"", name);
	label_value(o, s->pipeline);
	sb_addf(o, "\"} %s\n", sum);
	sample(o, s, "pl_commit_duration_seconds_count", NULL, NULL, inf);
}

/* A JSON-RPC source's counters (rpc-listen's stats file), when a stage writes them. */
static const struct {
	const char *key, *name, *type, *help;
} rpc_keys[] = {
	{"rpc_requests_total", "pl_rpc_requests_total", "counter", "JSON-RPC requests sent by the source."},
	{"rpc_errors_total", "pl_rpc_errors_total", "counter",
		"JSON-RPC requests that failed (no answer, HTTP error, unparsable, JSON-RPC error, rate limit)."},
	{"rpc_limited_total", "pl_rpc_rate_limited_total", "counter",
		"JSON-RPC requests refused as rate limited or too large (HTTP 429, -32005)."},
	{"rpc_failovers_total", "pl_rpc_failovers_total", "counter", "Moves from one JSON-RPC endpoint to the next."},
	{"rpc_consecutive_errors", "pl_rpc_consecutive_errors", "gauge",
		"JSON-RPC errors since the last good answer (an ALERT is logged at 5)."},
	{"rpc_batch_blocks", "pl_rpc_batch_blocks", "gauge", "Blocks per eth_getLogs now (halved on rate limits)."},
	{"rpc_logs_total", "pl_rpc_logs_total", "counter", "Logs the source emitted."},
	{"rpc_reorgs_total", "pl_rpc_reorgs_total", "counter", "Reorgs the source found by block hash."},
};

static void rpc_metrics(struct sb *o, const struct st_snap *s)
{
	for (size_t k = 0; k < sizeof rpc_keys / sizeof rpc_keys[0]; k++) {
		int any = 0, found;
		int64_t v = 0;
		for (int i = 0; i < s->nfiles; i++) {
			int64_t x = st_file_value(&s->files[i], rpc_keys[k].key, &found);
			if (found) {
				any = 1;
				v += x;
			}
		}
		if (!any)
			continue;
		head(o, rpc_keys[k].name, rpc_keys[k].type, rpc_keys[k].help);
		sample(o, s, rpc_keys[k].name, NULL, NULL, v);
	}
}

void st_metrics(const struct st_snap *s, struct sb *o)
{
	const struct st_file *w = st_file_of(s, "pg-write");
	gauge(o, s, "pl_up", "1 when pl-status can read the pipeline's bookkeeping in the database.", s->db_ok);
	gauge(o, s, "pl_healthy", "1 when /health answers 200.", s->healthy);
	gauge(o, s, "pl_ready", "1 when /ready answers 200 (caught up).", s->ready);
	counter(o, s, "pl_work_items_total", "Work items committed by pg-write (summed over its restarts).",
		st_file_value(w, "items_total", NULL));
	counter(o, s, "pl_transactions_total", "Transactions committed by pg-write.",
		st_file_value(w, "transactions_total", NULL));
	counter(o, s, "pl_rows_written_total", "Row changes (put, del, undo lines) committed by pg-write.",
		st_file_value(w, "rows_total", NULL));
	int64_t events = 0;
	for (int i = 0; i < s->nfiles; i++)
		events += st_file_value(&s->files[i], "events_total", NULL);
	counter(o, s, "pl_events_total", "Events read by the pipeline's stages (their stats files' events_total).",
		events);
	if (s->waiting >= 0)
		gauge(o, s, "pl_work_items_waiting", "Work items in the work table not done yet.", s->waiting);
	if (s->have_cp)
		gauge(o, s, "pl_checkpoint_seq", "The pipeline's checkpoint (pl_checkpoint.seq).", s->cp_seq);
	if (s->cp_block >= 0)
		gauge(o, s, "pl_checkpoint_block", "Newest block applied (pl_journal_block).", s->cp_block);
	if (s->head_block >= 0)
		gauge(o, s, "pl_head_block", "Newest block the source knows (pl_pipeline.head_table, or a stats file).",
			s->head_block);
	if (s->lag_blocks >= 0)
		gauge(o, s, "pl_lag_blocks", "Blocks between the source's head and the newest applied block.", s->lag_blocks);
	if (s->lag_limit > 0)
		gauge(o, s, "pl_lag_limit_blocks", "Unhealthy at this lag in blocks (the source's healthy_lag_blocks).",
			s->lag_limit);
	gauge(o, s, "pl_lag_seconds",
		"Seconds since the checkpoint last moved while work items wait (0 when caught up).", s->lag_seconds);
	counter(o, s, "pl_reorgs_total", "Reorgs applied (runs of consecutive RevertBlock work items).",
		st_file_value(w, "reorgs_total", NULL));
	counter(o, s, "pl_reverted_blocks_total", "Blocks reverted (RevertBlock work items applied).",
		st_file_value(w, "reverted_blocks_total", NULL));
	gauge(o, s, "pl_reorg_depth_last", "Depth in blocks of the latest reorg.",
		st_file_value(w, "reorg_depth_last", NULL));
	gauge(o, s, "pl_reorg_depth_max", "Depth in blocks of the deepest reorg since pg-write started.",
		st_file_value(w, "reorg_depth_max", NULL));
	rpc_metrics(o, s);
	gauge(o, s, "pl_quarantined_items", "Rows of pl_quarantine for this pipeline (refused input).", s->quarantined);
	commit_histogram(o, s, w);
	if (s->ntables) {
		head(o, "pl_table_rows", "gauge", "Rows per state table (pg_stat_user_tables.n_live_tup, an estimate).");
		for (int i = 0; i < s->ntables; i++)
			sample(o, s, "pl_table_rows", "table", s->tables[i].name, s->tables[i].rows);
	}
	counter(o, s, "pl_formation_restarts_total", "Formations the supervisor started after the first.", s->restarts);
	if (s->nstages) {
		head(o, "pl_stage_up", "gauge", "1 when the stage runs and is not stopped (SIGSTOP).");
		for (int i = 0; i < s->nstages; i++)
			sample(o, s, "pl_stage_up", "stage", s->stages[i].name,
				s->stages[i].state && s->stages[i].state != 'T' && s->stages[i].state != 't');
		head(o, "pl_stage_restarts_total", "counter", "Formations this stage's exit stopped (and the supervisor restarted).");
		for (int i = 0; i < s->nstages; i++)
			sample(o, s, "pl_stage_restarts_total", "stage", s->stages[i].name, s->stages[i].restarts);
		head(o, "pl_stage_rss_bytes", "gauge", "Resident memory of the stage's process.");
		for (int i = 0; i < s->nstages; i++)
			if (s->stages[i].rss >= 0)
				sample(o, s, "pl_stage_rss_bytes", "stage", s->stages[i].name, s->stages[i].rss);
	}
}

/* ----------------------------------------------------------------- JSON */

static void jstr(struct sb *o, const char *v)
{
	sb_add_jstr(o, v, strlen(v));
}

static void jnum_or_null(struct sb *o, int64_t v)
{
	if (v < 0)
		sb_adds(o, "null");
	else
		sb_add_i64(o, v);
}

void st_status_json(const struct st_snap *s, struct sb *o)
{
	const struct st_file *w = st_file_of(s, "pg-write");
	sb_adds(o, "{\"pipeline\":");
	jstr(o, s->pipeline);
	sb_addf(o, ",\"healthy\":%s,\"ready\":%s,\"reason\":", s->healthy ? "true" : "false", s->ready ? "true" : "false");
	if (s->reason[0])
		jstr(o, s->reason);
	else
		sb_adds(o, "null");
	sb_addf(o, ",\"database\":{\"up\":%s,\"error\":", s->db_ok ? "true" : "false");
	if (s->db_ok)
		sb_adds(o, "null");
	else
		jstr(o, s->db_error);
	sb_adds(o, "},\"last_work_item\":");
	if (s->have_cp)
		sb_addf(o, "{\"driver_id\":%" PRId64 ",\"seq\":%" PRId64 ",\"finalized\":%" PRId64 "}", s->cp_driver,
			s->cp_seq, s->cp_fin);
	else
		sb_adds(o, "null");
	sb_adds(o, ",\"block\":");
	jnum_or_null(o, s->cp_block);
	sb_adds(o, ",\"head_block\":");
	jnum_or_null(o, s->head_block);
	sb_adds(o, ",\"lag\":{\"items\":");
	jnum_or_null(o, s->waiting);
	sb_adds(o, ",\"blocks\":");
	jnum_or_null(o, s->lag_blocks);
	sb_addf(o, ",\"seconds\":%" PRId64 ",\"limit_blocks\":", s->lag_seconds);
	jnum_or_null(o, s->lag_limit);
	sb_adds(o, "}");
	sb_addf(o, ",\"items_total\":%" PRId64 ",\"quarantined\":%" PRId64 ",\"last_quarantine\":",
		st_file_value(w, "items_total", NULL), s->quarantined);
	if (s->last_quarantine[0])
		jstr(o, s->last_quarantine);
	else
		sb_adds(o, "null");
	sb_adds(o, ",\"supervisor\":");
	if (s->has_supervisor) {
		sb_addf(o, "{\"pid\":%ld,\"running\":%s,\"state\":", s->sup_pid, s->sup_alive ? "true" : "false");
		jstr(o, s->sup_state[0] ? s->sup_state : "unknown");
		sb_addf(o, ",\"restarts\":%" PRId64 "}", s->restarts);
	} else {
		sb_adds(o, "null");
	}
	sb_adds(o, ",\"last_error\":");
	if (s->last_error[0])
		jstr(o, s->last_error);
	else
		sb_adds(o, "null");
	sb_adds(o, ",\"stages\":[");
	for (int i = 0; i < s->nstages; i++) {
		const struct st_stage *t = &s->stages[i];
		const char *state = !t->state ? "exited" : (t->state == 'T' || t->state == 't') ? "stopped"
												: "running";
		sb_adds(o, i ? ",{\"name\":" : "{\"name\":");
		jstr(o, t->name);
		sb_addf(o, ",\"pid\":%ld,\"state\":", t->pid);
		jstr(o, state);
		sb_adds(o, ",\"rss_bytes\":");
		jnum_or_null(o, t->rss);
		sb_addf(o, ",\"restarts\":%" PRId64 ",\"last_exit\":", t->restarts);
		jnum_or_null(o, t->last_exit);
		sb_adds(o, "}");
	}
	sb_adds(o, "]}\n");
}

void st_health_json(const struct st_snap *s, struct sb *o)
{
	sb_addf(o, "{\"status\":\"%s\",\"reason\":", s->healthy ? "ok" : "unhealthy");
	if (!s->healthy)
		jstr(o, s->reason);
	else
		sb_adds(o, "null");
	sb_adds(o, "}\n");
}

void st_ready_json(const struct st_snap *s, struct sb *o)
{
	sb_addf(o, "{\"ready\":%s,\"reason\":", s->ready ? "true" : "false");
	if (!s->ready)
		jstr(o, s->reason[0] ? s->reason : "not caught up");
	else
		sb_adds(o, "null");
	sb_adds(o, ",\"waiting\":");
	jnum_or_null(o, s->waiting);
	sb_adds(o, "}\n");
}

/* ------------------------------------------------------------- progress */

static void duration(struct sb *o, int64_t sec)
{
	if (sec >= 3600)
		sb_addf(o, "%" PRId64 "h%02" PRId64 "m", sec / 3600, sec / 60 % 60);
	else if (sec >= 60)
		sb_addf(o, "%" PRId64 "m%02" PRId64 "s", sec / 60, sec % 60);
	else
		sb_addf(o, "%" PRId64 "s", sec);
}

void st_progress(const struct st_snap *s, double rate, struct sb *o)
{
	const struct st_file *w = st_file_of(s, "pg-write");
	int64_t events = 0;
	for (int i = 0; i < s->nfiles; i++)
		events += st_file_value(&s->files[i], "events_total", NULL);
	sb_addf(o, "%s: %" PRId64 " items", s->pipeline[0] ? s->pipeline : "pipeline",
		st_file_value(w, "items_total", NULL));
	if (events)
		sb_addf(o, ", %" PRId64 " events", events);
	/* the rate is shown, never computed with: whole items per second */
	sb_addf(o, ", %" PRId64 " items/s", (int64_t)(rate + 0.5));
	if (s->waiting >= 0)
		sb_addf(o, ", %" PRId64 " waiting", s->waiting);
	if (s->lag_blocks >= 0)
		sb_addf(o, ", block %" PRId64 " of %" PRId64 " (lag %" PRId64 ")", s->cp_block, s->head_block, s->lag_blocks);
	if (s->waiting > 0) {
		sb_adds(o, ", ETA ");
		if (rate >= 0.5)
			duration(o, (int64_t)((double)s->waiting / rate + 0.5));
		else
			sb_adds(o, "unknown");
	} else if (s->waiting == 0) {
		sb_adds(o, ", caught up");
	}
	if (!s->healthy)
		sb_addf(o, " [%s]", s->reason);
}
