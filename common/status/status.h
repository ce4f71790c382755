/*
 * status.h -- what pl-status knows about one running pipeline, and how it
 * says it (docs/status.md).  Generic over pipelines: everything comes from
 * the pipeline's bookkeeping in the database (pl_pipeline, pl_checkpoint,
 * pl_journal_block, pl_quarantine, pl_state_tables, the work table), from
 * the supervisor's run directory (stages.pid, supervisor.pid,
 * supervisor.state) and from the stats files the stages rewrite there
 * (RUN/NAME.stats: "name value" lines).
 *
 *   collect.c  one snapshot: database, run directory, stats files
 *   render.c   the snapshot as Prometheus text, /status JSON, /health, /ready
 */
#ifndef PL_STATUS_H
#define PL_STATUS_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/io.h"
#include "status/statsfile.h"

#define ST_MAX_STAGES 16
#define ST_MAX_TABLES 64
#define ST_MAX_FILES 16
#define ST_TEXT 512

struct st_stage {
	char name[64];
	long pid;
	char state;	   /* as /proc/PID/stat says (R, S, T, ...); 0: not running */
	int64_t rss;	   /* bytes; -1 unknown */
	int64_t restarts;  /* formations this stage's exit stopped (supervisor.state) */
	int64_t last_exit; /* its last exit code; -1 none */
};

struct st_table {
	char name[64];
	int64_t rows; /* pg_stat_user_tables.n_live_tup (an estimate) */
};

struct st_snap {
	int64_t now_ms; /* CLOCK_REALTIME */
	/* database */
	int db_ok;
	char db_error[ST_TEXT];
	char pipeline[64];
	int has_work_table;
	int have_cp;
	int64_t cp_driver, cp_seq, cp_fin, cp_updated_ms;
	int64_t cp_block, head_block; /* -1 unknown */
	int64_t waiting;	      /* work items not done; -1 unknown (no work table) */
	int64_t quarantined;
	char last_quarantine[ST_TEXT];
	int ntables;
	struct st_table tables[ST_MAX_TABLES];
	/* run directory */
	int has_supervisor; /* supervisor.pid exists */
	long sup_pid;
	int sup_alive;
	char sup_state[32]; /* starting, running, backoff, stopped, failed ("" unknown) */
	int64_t restarts;   /* formations started after the first */
	char last_error[ST_TEXT];
	int nstages;
	struct st_stage stages[ST_MAX_STAGES];
	int nfiles;
	struct st_file files[ST_MAX_FILES];
	/* derived */
	int64_t lag_blocks;   /* head - newest applied block; -1 unknown */
	int64_t lag_limit;    /* a source's healthy_lag_blocks (unhealthy at or above); -1 none */
	int source_caught_up; /* a source's caught_up: 1, 0, or -1 when no source says */
	int64_t stalled_ms;   /* work waits and the checkpoint has not moved for this long */
	int64_t lag_seconds;
	int healthy, ready;
	char reason[ST_TEXT]; /* why not healthy / not ready */
};

struct st_opts {
	const char *pipeline; /* NULL: the default (pipeline.h) */
	const char *run_dir;  /* NULL: no run directory */
	int64_t stall_ms;     /* /health 503 when stalled this long (0: never) */
	int64_t ready_items;  /* /ready 200 when at most this many items wait */
};

/* The collector keeps what must survive from one snapshot to the next. */
struct st_collector {
	struct st_opts o;
	PGconn *conn;
	char *conninfo;
	struct st_snap cur;
	int64_t last_seq_seen, seq_changed_ms;
	int have_seq_seen;
};

void st_init(struct st_collector *c, const char *conninfo, const struct st_opts *o);
/* Take a new snapshot into c->cur (reconnecting as needed; never dies on a database error). */
void st_collect(struct st_collector *c);
void st_free(struct st_collector *c);

const struct st_file *st_file_of(const struct st_snap *s, const char *stage);

/* Renderers: append to out. */
void st_metrics(const struct st_snap *s, struct sb *out);
void st_status_json(const struct st_snap *s, struct sb *out);
void st_health_json(const struct st_snap *s, struct sb *out);
void st_ready_json(const struct st_snap *s, struct sb *out);
/* One progress line (no newline): items done, rate, lag, ETA.  rate: items/s over the caller's window. */
void st_progress(const struct st_snap *s, double rate, struct sb *out);

#endif
