/*
 * opt.c -- see opt.h.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"

#ifndef PL_VERSION
#define PL_VERSION "unknown"
#endif

enum {
	OPT_HELP = 'h',
	OPT_VERSION = 0xFFF0,
	OPT_HELP_LONG = 0xFFF1,
	OPT_LOG_LEVEL = 0xFFF2,
};

const char *opt_version(void)
{
	return PL_VERSION;
}

void opt_usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", die_prog(), buf, die_prog());
	exit(EXIT_USAGE);
}

void opt_init(struct opt *o, int argc, char **argv, const struct option *longopts, const char *shortopts,
	const char *usage)
{
	size_t n = 0;
	while (longopts && longopts[n].name)
		n++;
	memset(o, 0, sizeof *o);
	o->longopts = longopts;
	o->usage = usage;
	o->argc = argc;
	o->argv = argv;
	o->all = xcalloc(n + 4, sizeof *o->all);
	if (n)
		memcpy(o->all, longopts, n * sizeof *o->all);
	o->all[n] = (struct option){"help", no_argument, NULL, OPT_HELP_LONG};
	o->all[n + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	o->all[n + 2] = (struct option){"log-level", required_argument, NULL, OPT_LOG_LEVEL};
	o->own_h = shortopts && strchr(shortopts, 'h') != NULL;
	/* ':' first: a missing value is reported as ':' instead of getopt's message */
	size_t sl = strlen(shortopts ? shortopts : "");
	o->shorts = xmalloc(sl + 3);
	o->shorts[0] = ':';
	memcpy(o->shorts + 1, shortopts ? shortopts : "", sl);
	memcpy(o->shorts + 1 + sl, "h", 2);
	io_init_stdout();
	opterr = 0;
	optind = 1;
}

/* The option as the user wrote it, for messages: "--name" (no "=value") or "-x". */
static void spelled(char *buf, size_t n, const char *arg, int optopt_)
{
	if (arg && arg[0] == '-' && arg[1] == '-') {
		size_t l = strcspn(arg, "=");
		snprintf(buf, n, "%.*s", (int)(l > 200 ? 200 : l), arg);
	} else {
		snprintf(buf, n, "-%c", optopt_ ? optopt_ : '?');
	}
}

/*
 * After getopt_long returned '?': was the offending option the long one in
 * argv[optind - 1]?  getopt moves past a long option before reporting it,
 * but not past a cluster of short ones ("-xy" with x unknown), where
 * argv[optind - 1] is the argument before, possibly a long option.  An
 * unknown or ambiguous long option leaves optopt 0; a long option given a
 * value it does not take leaves its val, and its argument has '='.
 */
static int long_error(const struct opt *o, const char *arg, int *takes_no_value)
{
	*takes_no_value = 0;
	if (optind < 2 || !arg || strncmp(arg, "--", 2))
		return 0;
	if (optopt == 0)
		return 1;
	const char *eq = strchr(arg, '=');
	if (!eq)
		return 0;
	size_t l = (size_t)(eq - arg) - 2;
	for (const struct option *p = o->all; p->name; p++)
		if (strlen(p->name) == l && !strncmp(p->name, arg + 2, l) && p->val == optopt &&
			p->has_arg == no_argument) {
			*takes_no_value = 1;
			return 1;
		}
	return 0;
}

/* Long options of which arg ("--na", no "=value") is a prefix. */
static int prefix_matches(const struct opt *o, const char *arg)
{
	size_t l = strcspn(arg + 2, "=");
	int n = 0;
	for (const struct option *p = o->all; p->name; p++)
		if (!strncmp(p->name, arg + 2, l))
			n++;
	return n;
}

int opt_next(struct opt *o)
{
	int idx = -1;
	int c = getopt_long(o->argc, o->argv, o->shorts, o->all, &idx);
	char what[256];
	switch (c) {
	case OPT_HELP:
		if (o->own_h)
			return c;
		/* fall through */
	case OPT_HELP_LONG:
		io_out(o->usage, strlen(o->usage));
		io_close_stdout();
		exit(0);
	case OPT_VERSION: {
		char buf[256];
		int n = snprintf(buf, sizeof buf, "%s (pitchlake) %s\n", die_prog(), PL_VERSION);
		io_out(buf, (size_t)n);
		io_close_stdout();
		exit(0);
	}
	case OPT_LOG_LEVEL:
		if (die_set_log_level(optarg) < 0)
			opt_usage_error("unable to use --log-level '%s': want error, warn, info or debug", optarg);
		return opt_next(o);
	case '?': {
		const char *arg = optind > 1 ? o->argv[optind - 1] : NULL;
		int no_value;
		if (!long_error(o, arg, &no_value)) {
			spelled(what, sizeof what, NULL, optopt);
			opt_usage_error("unknown option '%s'", what);
		}
		spelled(what, sizeof what, arg, optopt);
		if (no_value)
			opt_usage_error("option '%s' takes no value", what);
		if (prefix_matches(o, arg) > 1)
			opt_usage_error("option '%s' is ambiguous", what);
		opt_usage_error("unknown option '%s'", what);
	}
	case ':':
		spelled(what, sizeof what, o->argv[optind - 1], optopt);
		opt_usage_error("option '%s' needs a value", what);
	default:
		return c;
	}
}

int opt_rest(const struct opt *o, char ***rest)
{
	*rest = o->argv + optind;
	return o->argc - optind;
}

void opt_no_operands(struct opt *o)
{
	if (optind < o->argc)
		opt_usage_error("unexpected argument '%s'", o->argv[optind]);
}

void opt_free(struct opt *o)
{
	free(o->all);
	free(o->shorts);
	o->all = NULL;
	o->shorts = NULL;
}

uint64_t opt_u64(const char *opt, const char *val, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(val, &end, 10);
	if (errno || !*val || *end || val[0] == '-' || val[0] == '+' || isspace((unsigned char)val[0]) || v < min ||
		v > max)
		opt_usage_error("unable to use %s '%s': want an integer in %" PRIu64 "..%" PRIu64, opt, val, min, max);
	return (uint64_t)v;
}

int64_t opt_i64(const char *opt, const char *val, int64_t min, int64_t max)
{
	char *end;
	errno = 0;
	long long v = strtoll(val, &end, 10);
	if (errno || !*val || *end || val[0] == '+' || isspace((unsigned char)val[0]) || v < min || v > max)
		opt_usage_error("unable to use %s '%s': want an integer in %" PRId64 "..%" PRId64, opt, val, min, max);
	return (int64_t)v;
}

void opt_conn_init(struct opt_conn *c)
{
	memset(c, 0, sizeof *c);
	c->wait_seconds = -1;
}

int opt_conn(struct opt_conn *c, int opt, const char *arg)
{
	switch (opt) {
	case 'd':
		c->dbname = arg; /* "" = the PG* environment */
		return 1;
	case 'h':
		c->host = opt_str("--host", arg);
		return 1;
	case 'p':
		(void)opt_u64("--port", arg, 1, 65535);
		c->port = arg;
		return 1;
	case 'U':
		c->user = opt_str("--username", arg);
		return 1;
	case OPT_CONN_TIMEOUT:
		c->wait_seconds = (int)opt_u64("--connect-timeout", arg, 0, 86400);
		return 1;
	default:
		return 0;
	}
}

const char *opt_str(const char *opt, const char *val)
{
	if (!val || !*val)
		opt_usage_error("unable to use an empty %s", opt);
	return val;
}
