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
 * --version writes "prog (pitchlake) VERSION" and exits 0.
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
	struct option *all; /* longopts + help + version */
	char *shorts;
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

/* The version of every program and script (scripts/version). */
const char *opt_version(void);

#endif
