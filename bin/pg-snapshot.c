/*
 * pg-snapshot -- write the state snapshot (docs/formats.md) of the
 * database: the same lines as ep-apply --dump-state, so that the two can be
 * compared byte for byte and ep-apply can start from it (--state FILE).
 *
 *   pg-snapshot [--pipeline NAME] [--conninfo STR] [-o FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "pg/pgconn.h"
#include "core/opt.h"
#include "pg/pgsnap.h"
#include "pg/pipeline.h"

static const char usage_text[] =
	"usage: pg-snapshot [--pipeline NAME] [--conninfo STR] [-o FILE]\n"
	"\n"
	"Writes the state snapshot of docs/formats.md from the database: a put line\n"
	"for every row of every table the pipeline owns (pl_state_tables) except the\n"
	"append-only ones, sorted by table name and key (bytewise), then the\n"
	"pipeline's undo journal (block and undo lines) and its checkpoint line.\n"
	"Everything is read in one REPEATABLE READ READ ONLY transaction: a\n"
	"consistent snapshot, byte-identical for identical database contents.\n"
	"\n"
	"options:\n" OPT_CONN_USAGE
	"                      (--connect-timeout default 30)\n"
	"  --pipeline NAME     the pipeline (default: $PL_PIPELINE, or the only one\n"
	"                      registered in pl_pipeline)\n"
	"  -o, --output FILE   write to FILE instead of stdout, atomically: a temporary\n"
	"                      file in FILE's directory, fsync, rename, fsync of the\n"
	"                      directory.  FILE must be a regular file or not exist\n"
	"                      yet (a device, FIFO, directory or symbolic link is refused)\n"
	"  --log-level LEVEL   error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --help              this text\n"
	"  --version           print the version\n"
	"\n"
	"exit status:\n"
	"  0   done\n"
	"  64  usage error\n"
	"  69  database unavailable (restart with backoff)\n"
	"  70  internal error\n"
	"  75  connection lost, or the output cannot be written (retry)\n"
	"  78  configuration error: bad conninfo, unknown pipeline, a registered table\n"
	"      missing or without a primary key, an -o FILE that is not a regular file\n"
	"      or cannot be created (do not retry)\n";

enum { O_PIPELINE = OPT_LONG };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		OPT_CONN_LONGOPTS,
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *conninfo = NULL, *file = NULL, *pipeline = NULL;
	struct opt op;
	int c;

	die_set_prog(argv[0]);
	struct opt_conn oc;
	opt_conn_init(&oc);
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS "o:", usage_text);
	while ((c = opt_next(&op)) != -1) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_PIPELINE:
			pipeline = opt_str("--pipeline", optarg);
			break;
		case 'o':
			file = opt_str("-o", optarg);
			break;
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	conninfo = oc.dbname;
	pgc_use_options(&oc);
	pgc_catch_signals();
	/* A target we must not replace is refused before connecting. */
	int rc;
	if (file && (rc = io_atomic_check(file)) != 0)
		die_code(rc, "unable to write the snapshot: %s", err_msg());

	PGconn *conn = pgc_connect_or_die(conninfo, "pg-snapshot", 30);
	struct pip pip;
	pip_resolve(conn, pipeline, &pip);
	if (!file) {
		pgs_dump(conn, STDOUT_FILENO, pip.name);
		pip_free(&pip);
		PQfinish(conn);
		io_close_stdout();
		return 0;
	}
	struct io_atomic out;
	if ((rc = io_atomic_open(&out, file)) != 0)
		die_code(rc, "unable to write the snapshot: %s", err_msg());
	pgs_dump(conn, out.fd, pip.name); /* dies on failure: the temporary file goes at exit */
	pip_free(&pip);
	PQfinish(conn);
	if ((rc = io_atomic_commit(&out)) != 0)
		die_code(rc, "unable to write the snapshot: %s", err_msg());
	return 0;
}
