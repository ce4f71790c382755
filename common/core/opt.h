/*
 * opt.h -- the one command-line surface of every program: getopt_long with
 * --help and --version built in, one usage-error format, checked numbers.
 *
 *   prog: unknown option '--x'
 *   Try 'prog --help'.
 *
 * on stderr with exit 64, the same for a missing value ("option '--state'
 * needs a value"), a bad number and a stray argument.  --help writes the
 * usage text to stdout (write errors checked: exit 75) and exits 0;
 * --version writes "prog (pitchlake) VERSION" and exits 0; --log-level
 * LEVEL (error, warn, info, debug; core/die.h) is taken by every program.
 * -h is --help unless the program's shortopts name 'h' (the programs that
 * connect use it for --host, as psql does; --help stays).
 */
#ifndef PL_OPT_H
#define PL_OPT_H

#include <getopt.h>
#include <stdint.h>

/* Option values from here up are free for programs' long-only options. */
#define OPT_LONG 0x100

struct opt {
	const struct option *longopts; /* the program's options; --help/--version are added */
	const char *shortopts;	       /* getopt letters ("" for none); 'h' is --help */
	const char *usage;	       /* the whole --help text */
	int argc;
	char **argv;
	struct option *all; /* longopts + help + version + log-level */
	char *shorts;
	int own_h; /* the program's shortopts name 'h' */
};

void opt_init(struct opt *o, int argc, char **argv, const struct option *longopts, const char *shortopts,
	const char *usage);
/* The next option's val (optarg as getopt's), or -1 after the last option. */
int opt_next(struct opt *o);
/* Operands left after the options (argv from optind on). */
int opt_rest(const struct opt *o, char ***rest);
/* Exit 64 unless every argument was an option. */
void opt_no_operands(struct opt *o);
void opt_free(struct opt *o);

/* "prog: <fmt>" + "Try 'prog --help'." on stderr, exit 64. */
_Noreturn void opt_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checked numbers of option opt: decimal, within [min, max], else a usage error. */
uint64_t opt_u64(const char *opt, const char *val, uint64_t min, uint64_t max);
int64_t opt_i64(const char *opt, const char *val, int64_t min, int64_t max);
/* A non-empty string. */
const char *opt_str(const char *opt, const char *val);

/*
 * The PostgreSQL client options of every program that connects, with
 * psql's letters: -d/--dbname (also --conninfo: a conninfo string or URI),
 * -h/--host, -p/--port, -U/--username, and --connect-timeout SECONDS (how
 * long to keep retrying an unreachable server).  Put OPT_CONN_LONGOPTS in
 * the program's longopts and OPT_CONN_SHORTS in its shortopts, and hand
 * every option to opt_conn() first.  Each attempt's own timeout is libpq's
 * connect_timeout (conninfo, or $PGCONNECT_TIMEOUT); the PG* environment
 * fills whatever the options leave unset (pg/pgconn.h).
 */
struct opt_conn {
	const char *dbname, *host, *port, *user; /* NULL: not given */
	int wait_seconds;			 /* --connect-timeout; -1: the program's default */
};
enum { OPT_CONN_TIMEOUT = 0xFFE0 };
#define OPT_CONN_SHORTS "d:h:p:U:"
#define OPT_CONN_LONGOPTS                                                                       \
	{"dbname", required_argument, NULL, 'd'}, {"conninfo", required_argument, NULL, 'd'},   \
		{"host", required_argument, NULL, 'h'}, {"port", required_argument, NULL, 'p'}, \
		{"username", required_argument, NULL, 'U'},                                     \
	{                                                                                       \
		"connect-timeout", required_argument, NULL, OPT_CONN_TIMEOUT                    \
	}
/* The usage lines of those options. */
#define OPT_CONN_USAGE                                                                                \
	"  -d, --dbname, --conninfo STR  libpq connection string or URI (default: PG* environment)\n" \
	"  -h, --host HOST     server host or socket directory ($PGHOST)\n"                           \
	"  -p, --port PORT     server port ($PGPORT)\n"                                               \
	"  -U, --username USER database user ($PGUSER)\n"                                             \
	"  --connect-timeout SECONDS  keep retrying an unreachable server this long, then exit 69;\n" \
	"                      each attempt times out after $PGCONNECT_TIMEOUT (default 10) seconds\n"
void opt_conn_init(struct opt_conn *c);
/* 1 when opt (opt_next's value) was a connection option, taken into c; else 0. */
int opt_conn(struct opt_conn *c, int opt, const char *arg);

/* The version of every program and script (scripts/version). */
const char *opt_version(void);

#endif
