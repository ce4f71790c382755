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
