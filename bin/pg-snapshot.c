/*
 * pg-snapshot -- write the state snapshot (docs/formats.md) of the
 * database: the same lines as ep-apply --dump-state, so that the two can be
 * compared byte for byte and ep-apply can start from it (--state FILE).
 *
 *   pg-snapshot [--conninfo STR] [-o FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "pg/pgconn.h"
#include "pg/pgsnap.h"

static const char usage_text[] =
	"usage: pg-snapshot [--conninfo STR] [-o FILE]\n"
	"\n"
	"Writes the state snapshot of docs/formats.md from the database: a put line\n"
	"for every row of every table listed in pl_state_tables except the *_Historic\n"
	"ones (append-only outputs), sorted by table name and key (bytewise), then the\n"
	"undo journal (block and undo lines) and the checkpoint line.  Everything is\n"
	"read in one REPEATABLE READ READ ONLY transaction: a consistent snapshot,\n"
	"byte-identical for identical database contents.\n"
	"\n"
	"options:\n"
	"  --conninfo STR   libpq connection string or URI (default: PG* environment)\n"
	"  -o FILE          write to FILE (atomically: FILE.tmp, fsync, rename)\n"
	"                   instead of stdout\n"
	"  -h, --help       this text\n"
	"\n"
	"exit status:\n"
	"  0   done\n"
	"  64  usage error\n"
	"  69  database unavailable (restart with backoff)\n"
	"  70  internal error\n"
	"  75  connection lost, or the output cannot be written (retry)\n"
	"  78  configuration error: bad conninfo, a registered table missing or\n"
	"      without a primary key (do not retry)\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'c'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *conninfo = NULL, *file = NULL;
	int c;

	die_set_prog(argv[0]);
	io_init_stdout();
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conninfo = optarg;
			break;
		case 'o':
			file = optarg;
			break;
		case 'h':
			io_out(usage_text, sizeof usage_text - 1);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage_text, stderr);
		die_code(EXIT_USAGE, "unable to use argument '%s'", argv[optind]);
	}

	PGconn *conn = pgc_connect_or_die(conninfo, "pg-snapshot", 30);
	if (!file) {
		pgs_dump(conn, STDOUT_FILENO);
		PQfinish(conn);
		io_close_stdout();
		return 0;
	}
	size_t n = strlen(file) + 5;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die_errno(EXIT_TEMPFAIL, "unable to create '%s'", tmp);
	pgs_dump(conn, fd);
	PQfinish(conn);
	if (fsync(fd) < 0 || close(fd) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to write '%s'", tmp);
	if (rename(tmp, file) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to rename '%s' to '%s'", tmp, file);
	free(tmp);
	return 0;
}
