/*
 * die.h -- the one error vocabulary and the exit codes of every program.
 *
 * Messages look like "prog: fatal: unable to parse 'x' at line 12: reason".
 * Exit codes (documented in every --help and in README.md) separate
 * "restart me" from "do not restart me":
 *
 *   0  done (EOF, --once, --until-seq)
 *   64 usage error
 *   65 bad input data: poison line or broken invariant (do not restart)
 *   69 database unavailable (restart with backoff)
 *   70 internal error (a bug)
 *   75 transient failure (restart with backoff)
 *   78 configuration error (do not restart)
 */
#ifndef PL_DIE_H
#define PL_DIE_H

#include <stdarg.h>
#include <stddef.h>

enum {
	EX_OK_ = 0,
	EXIT_USAGE = 64,
	EXIT_DATAERR = 65,
	EXIT_UNAVAILABLE = 69,
	EXIT_SOFTWARE = 70,
	EXIT_TEMPFAIL = 75,
	EXIT_CONFIG = 78,
};

/* Set once from main(); used as the message prefix. */
void die_set_prog(const char *argv0);
const char *die_prog(void);

/*
 * Log lines (docs/logging.md).  Two formats of the same messages:
 *   text (the default)   "prog: fatal: unable to ... at line N: ..."
 *   logfmt               ts=2026-12-01T09:10:11.123Z level=fatal prog=pg-write
 *                        msg="unable to ... at line N: ..." exit=65
 * chosen by $PL_LOG_FORMAT (text | logfmt; run-pipeline --log-format sets it
 * for its stages); levels error < warn < info < debug from --log-level
 * (core/opt.h) or $PL_LOG_LEVEL (default info): warn() is shown at warn and
 * above, note() at info, debug() at debug; fatal lines always.
 */
enum { DIE_LOG_ERROR = 0,
	DIE_LOG_WARN,
	DIE_LOG_INFO,
	DIE_LOG_DEBUG };
/* Set the level by name; -1 when the name is none of error, warn, info, debug. */
int die_set_log_level(const char *name);
int die_log_level(void);
/* Set the format by name; -1 when it is neither text nor logfmt. */
int die_set_log_format(const char *name);
/* 1 when lines are logfmt. */
int die_logfmt(void);
/* A debug line ("prog: debug: <fmt>"), shown at --log-level debug. */
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "prog: fatal: <fmt>\n" on stderr, then exit(code). */
_Noreturn void die_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with ": <strerror(errno)>" appended. */
_Noreturn void die_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: warning: <fmt>\n" on stderr. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: <fmt>\n" on stderr (progress and info lines). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Record an error message for a caller higher up (parsers do this) and
 * return -1, so that "return error(...)" reads naturally.  The message is
 * kept in a static buffer until the next call; err_msg() returns it.
 */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_msg(void);

/* Allocation that dies (exit 70) on failure; never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
