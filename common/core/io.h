/*
 * io.h -- safe line I/O: growable string buffers, whole-buffer writes that
 * survive EINTR and short writes, and a bounded line reader usable both in
 * blocking loops and in poll() loops.
 */
#ifndef PL_IO_H
#define PL_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A growable byte buffer, always NUL-terminated.  Zero-initialise or sb_init. */
struct sb {
	char *buf;
	size_t len, cap;
};
#define SB_INIT            \
	{                  \
		NULL, 0, 0 \
	}

void sb_init(struct sb *sb);
void sb_free(struct sb *sb);
void sb_reset(struct sb *sb);
void sb_grow(struct sb *sb, size_t extra);
void sb_add(struct sb *sb, const void *p, size_t n);
void sb_adds(struct sb *sb, const char *s);
void sb_addc(struct sb *sb, char c);
void sb_addf(struct sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_add_u64(struct sb *sb, uint64_t v);
void sb_add_i64(struct sb *sb, int64_t v);

/* write(2) until all of buf is written, retrying EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * Write buf to stdout in full.  If the reader has gone (EPIPE), die quietly
 * the way git does: re-raise SIGPIPE with the default action (status 141).
 * Any other error is fatal: "unable to write output: <strerror>", exit 75.
 */
void io_out(const void *buf, size_t len);
/* Call once at start-up: ignore SIGPIPE so that io_out() sees EPIPE. */
void io_init_stdout(void);
/* Call at exit: close stdout and die if that reports an error (jq-style). */
void io_close_stdout(void);

/*
 * Replacing a file atomically (state snapshots): the new contents go to a
 * temporary file created with O_EXCL in the target's directory
 * (".NAME.tmp<pid>-<n>"), which is fsynced and renamed over the target,
 * and then the directory is fsynced.  Only a regular file (or nothing) is
 * ever replaced: a device, FIFO, socket, directory or symbolic link
 * (lstat) is refused.  Until it is committed or aborted the temporary
 * file is removed at exit(), so a program dying on an error leaves none.
 *
 * The functions return 0, or the exit code the failure calls for with
 * err_msg() set: EXIT_CONFIG when the target cannot be used (not a regular
 * file, no such directory, no write permission), EXIT_TEMPFAIL when
 * writing failed (full disk, I/O error).
 */
struct io_atomic {
	char *path; /* the target */
	char *tmp;  /* the temporary file */
	int fd;	    /* open on tmp, for writing */
};

/* Can path be replaced?  Call it before doing any work. */
int io_atomic_check(const char *path);
/* io_atomic_check, then create the temporary file (a->fd). */
int io_atomic_open(struct io_atomic *a, const char *path);
/* fsync and close the temporary file, rename it over the target, fsync the
 * directory.  On failure the temporary file is removed. */
int io_atomic_commit(struct io_atomic *a);
/* Close and remove the temporary file. */
void io_atomic_abort(struct io_atomic *a);

/*
 * Replace path with buf for readers that must never see half a file
 * (status and stats files, not state): written to "path.tmp<pid>" and
 * renamed over path, without fsync.  0, or -1 with err_msg() set (the
 * temporary file is removed).
 */
int io_replace(const char *path, const char *buf, size_t len);

/*
 * Graceful SIGTERM/SIGINT for a filter (block-fetch, apply filters): the
 * handler sets *flag; while the filter is idle -- waiting for input, with
 * nothing of the current item written -- it also ends the program at once
 * with exit 0 (_exit: nothing is buffered, since io_out flushes every
 * line).  While busy (io_busy(1): an item read and not finished) the loop
 * finishes the item, then sees *flag and exits 0.  Busy at first, so that
 * start-up waits (a connection) see the flag.
 */
void io_graceful_signals(volatile sig_atomic_t *flag);
void io_busy(int busy);

/* Bounded line reader. */
struct lr {
	int fd;
	char *buf;
	size_t cap;	 /* allocated size */
	size_t start;	 /* first unconsumed byte */
	size_t end;	 /* end of valid data */
	size_t scan;	 /* bytes after start already known to contain no '\n' */
	size_t max;	 /* longest accepted line, without the '\n' */
	uint64_t lineno; /* number of the line last returned (1-based) */
	int eof;
	int err; /* errno of the last failed read */
};

/* Results of lr_getline / lr_next: negative ones are errors (err_msg() explains). */
enum {
	LR_LINE = 1,	  /* a line */
	LR_NONE = 0,	  /* lr_getline: no complete line buffered; lr_next: end of input */
	LR_EREAD = -1,	  /* the read failed (errno kept in lr->err): transient */
	LR_ETOOLONG = -2, /* the line exceeds lr->max: bad input */
};

void lr_init(struct lr *lr, int fd, size_t max_line);
void lr_free(struct lr *lr);
/*
 * Read once from the fd (retrying EINTR).  Returns the number of bytes read,
 * 0 at EOF (and sets lr->eof), -1 on error with errno set (EAGAIN for a
 * non-blocking fd with nothing to read).
 */
ssize_t lr_fill(struct lr *lr);
/*
 * Take the next complete line out of the buffer without reading.  Returns
 * LR_LINE and sets *line (NUL-terminated in place, without '\n') and *len;
 * LR_NONE when no complete line is buffered; LR_ETOOLONG when the line
 * exceeds lr->max (err_msg() explains).
 */
int lr_getline(struct lr *lr, char **line, size_t *len);
/*
 * Blocking convenience: lr_getline, filling as needed.  Returns LR_LINE,
 * LR_NONE at EOF (bytes after the last '\n' are reported by lr_partial()),
 * LR_ETOOLONG or LR_EREAD (err_msg() explains).
 */
int lr_next(struct lr *lr, char **line, size_t *len);
/* Bytes left in the buffer at EOF: a last line without its '\n'. */
size_t lr_partial(const struct lr *lr);

#endif
