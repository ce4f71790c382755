/*
 * pgsnap.h -- the state snapshot of docs/formats.md, read from the
 * database (pg-snapshot).  Same lines as ep-apply --dump-state: every row
 * of every table the pipeline owns (pl_state_tables) except the append-only
 * ones, in canonical order, then the pipeline's undo journal and checkpoint.
 */
#ifndef PL_PGSNAP_H
#define PL_PGSNAP_H

#include <libpq-fe.h>

/*
 * Write the snapshot to fd, reading everything in one REPEATABLE READ READ
 * ONLY transaction and streaming rows through cursors (memory stays
 * bounded by the fetch size).  Byte-identical output for identical
 * database contents.  Returns 0; dies with 75 on a lost connection or a
 * failed write, 78 when a registered table is missing or has no primary
 * key, 70 on other database errors.
 */
int pgs_dump(PGconn *conn, int fd, const char *pipeline);

#endif
