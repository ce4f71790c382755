/*
 * pipeline.h -- a pipeline's identity in the database (sql/007): its name,
 * which keys the checkpoint, the undo journal, the quarantine and the
 * registry of its state tables; its work table; its advisory lock.
 *
 * The name comes from --pipeline, else $PL_PIPELINE, else the one pipeline
 * registered in pl_pipeline (several registered: the caller must choose).
 */
#ifndef PL_PIPELINE_H
#define PL_PIPELINE_H

#include <stdint.h>

#include <libpq-fe.h>

#define PIP_MAX_ORDER 4

struct pip {
	char *name;
	/* the work table (NULL work_table: none; pg-write marks nothing) */
	char *work_table, *channel, *id_column, *done_column;
	char *order[PIP_MAX_ORDER];
	int norder;
	/* pl_pipeline.search_path (sql/040), or NULL: the session's schemas */
	char *search_path;
	/* a shard (sql/025): the pipeline it follows (whose work table and state
	 * tables it shares; no done column: it follows its own checkpoint), and
	 * its shard index/count; NULL, 0, 0 otherwise */
	char *follows;
	int shard_index, shard_count;
};

/*
 * Resolve the pipeline (name as given, or NULL for the defaults above) and
 * read its registry row.  Dies with 78 when the name is invalid, not
 * registered, or ambiguous; 75 on a lost connection.
 */
void pip_resolve(PGconn *conn, const char *name, struct pip *p);
/*
 * Set the session's search_path to p->search_path (nothing when NULL), so
 * that the work table and the state tables of a pipeline that lives in a
 * schema of its own resolve unqualified.  pip_resolve does it on its own
 * connection; call it on every other connection (pg-listen: each
 * reconnection).  0, or -1 with error() set (a lost connection: the
 * caller reconnects); a refused value dies with 78.
 */
int pip_apply_search_path(PGconn *conn, const struct pip *p);
/* The name alone, without the registry (for programs that only key rows by it). */
const char *pip_default_name(const char *name);
void pip_free(struct pip *p);

/* Override the work table: "" or NULL leaves it, a comma list for order. 0 or -1 (error()). */
int pip_set_order(struct pip *p, const char *list);
void pip_set(char **field, const char *value);

/*
 * The advisory lock of the pipeline's single writer, derived from its
 * name (key given: that bigint instead).  Returns 1 when taken, 0 when
 * another session holds it.  Dies with 75 on a lost connection.
 */
int pip_try_lock(PGconn *conn, const struct pip *p, const char *key);

#endif
