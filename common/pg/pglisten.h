/*
 * pglisten.h -- the work-table listener behind pg-listen: one libpq
 * connection that LISTENs on the pipeline's channel, a keyset "drain" query
 * over the unprocessed rows of its work table, a poll() wait that treats
 * notifications as wake-ups only, a heartbeat, and reconnection with capped
 * exponential backoff and jitter.
 *
 * A work table (pl_pipeline, sql/007) has: one or more bigint order
 * columns giving the items a total order (the last one unique), an id
 * column, a boolean "done" column, and an insert trigger that NOTIFYs the
 * channel.  Each item is emitted as the JSON of its whole row.
 *
 * NOTIFY payloads are never parsed or trusted: every wake-up leads to a
 * re-query past the last emitted order key, which is what makes
 * the listener immune to the catch-up/LISTEN race and to lost notifications
 * (reliability-anchors.md section 13, P3).
 */
#ifndef PL_PGLISTEN_H
#define PL_PGLISTEN_H

#include <signal.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/io.h"

/* Rows per drain query. */
#define PGL_BATCH 1000

struct pip;
struct pgl {
	PGconn *conn;
	const struct pip *work; /* the work table (pipeline.h) */
	int include_done;	/* also the processed items (pl-verify's replay) */
	const char *conninfo;
	int connect_timeout;	     /* seconds a (re)connection may keep failing */
	unsigned long reconnects;    /* successful reconnections so far */
	volatile sig_atomic_t *stop; /* set by a signal handler: give up connecting */
};

/*
 * Connect, set the session up (UTC time zone, timeouts, prepared
 * statements) and LISTEN on work->channel.  Dies with 78 for a permanent
 * failure (bad conninfo, authentication, missing database), 69 when the
 * server stays unreachable for connect_timeout seconds.  Returns 0, or -1
 * when *stop (may be NULL) became set while connecting (no connection).
 * Server messages outside queries are reported on stderr via note().
 */
int pgl_open(struct pgl *l, const struct pip *work, int include_done, const char *conninfo, int connect_timeout,
	volatile sig_atomic_t *stop);

/*
 * Drop the connection and connect again (same rules as pgl_open), after a
 * backoff of 100 ms doubling to 5 s with jitter for consecutive failures
 * (pgc_sleep_ms: PL_TEST_NO_SLEEP shortens the sleeps to 10 ms).  Counts reconnects and
 * reports the loss (why) and the reconnection on stderr.  0, or -1 when
 * *l->stop became set meanwhile.
 */
int pgl_reconnect(struct pgl *l, const char *why);

/*
 * Run the drain query: up to PGL_BATCH unprocessed work items whose order
 * key is greater than after[0..norder), in that order.  Returns the result
 * (caller PQclear()s it), or NULL when the connection is lost (err_msg()
 * says why).  Other failures die: 78 if the schema is missing, else 75.
 */
PGresult *pgl_drain(struct pgl *l, const int64_t *after);

/*
 * Append row i of a drain result to out as one line (with its '\n'): the
 * work-table row as JSON (row_to_json: its columns in table order, the
 * time zone UTC).  Sets pos[0..norder) to its order key.  Dies with 70 if
 * the row is not what the query makes.
 */
void pgl_format(const struct pgl *l, const PGresult *res, int i, struct sb *out, int64_t *pos);

enum pgl_wake {
	PGL_TIMEOUT, /* timeout_ms passed */
	PGL_NOTIFY,  /* one or more notifications (all consumed and dropped) */
	PGL_FD,	     /* extra_fd is readable */
	PGL_LOST,    /* the connection is gone (err_msg() says why) */
};

/*
 * Wait up to timeout_ms for a notification on the connection or for extra_fd
 * (-1: none) to become readable.  Notifications already buffered by libpq
 * are reported at once.  All pending notifications are consumed and
 * coalesced into one PGL_NOTIFY.
 */
enum pgl_wake pgl_wait(struct pgl *l, long timeout_ms, int extra_fd);

/*
 * Check that the connection is alive and still LISTENing on the channel.
 * 0 if so, -1 otherwise (err_msg() says why; the caller reconnects).
 */
int pgl_heartbeat(struct pgl *l);

/* Close the connection. */
void pgl_close(struct pgl *l);

#endif
