/*
 * io.c -- see io.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"

void sb_init(struct sb *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void sb_free(struct sb *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct sb *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void sb_grow(struct sb *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void sb_add(struct sb *sb, const void *p, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(struct sb *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct sb *sb, char c)
{
	sb_grow(sb, 1);
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void sb_addf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_code(EXIT_SOFTWARE, "unable to format '%s'", fmt);
	sb_grow(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sb_add_u64(struct sb *sb, uint64_t v)
{
	char tmp[24];
	int i = 24;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_add(sb, tmp + i, (size_t)(24 - i));
}

void sb_add_i64(struct sb *sb, int64_t v)
{
	if (v < 0) {
		sb_addc(sb, '-');
		sb_add_u64(sb, (uint64_t)0 - (uint64_t)v);
	} else {
		sb_add_u64(sb, (uint64_t)v);
	}
}

int io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void io_init_stdout(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static _Noreturn void die_pipe(void)
{
	/* Downstream has gone: leave quietly, as git's check_pipe() does. */
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(141);
}

void io_out(const void *buf, size_t len)
{
	if (io_write_all(STDOUT_FILENO, buf, len) == 0)
		return;
	if (errno == EPIPE)
		die_pipe();
	die_errno(EXIT_TEMPFAIL, "unable to write output");
}

void io_close_stdout(void)
{
	if (close(STDOUT_FILENO) < 0 && errno != EBADF) {
		if (errno == EPIPE)
			die_pipe();
		die_errno(EXIT_TEMPFAIL, "unable to close output");
	}
}

/* ------------------------------------------------------ atomic replace */

static struct io_atomic *atomic_pending; /* removed at exit unless committed */

static void atomic_atexit(void)
{
	if (atomic_pending && atomic_pending->tmp)
		unlink(atomic_pending->tmp);
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* The target's directory ("." for a bare name), allocated. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int io_atomic_check(const char *path)
{
	struct stat st;
	size_t n = strlen(path);
	if (n == 0 || path[n - 1] == '/') {
		error("'%s' is not a file name", path);
		return EXIT_CONFIG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			error("'%s' is %s, not a regular file (refusing to replace it)", path, file_kind(st.st_mode));
			return EXIT_CONFIG;
		}
	} else if (errno != ENOENT) {
		error("unable to use '%s': %s", path, strerror(errno));
		return EXIT_CONFIG;
	}
	char *dir = dir_of(path);
	int rc = 0;
	if (stat(dir, &st) < 0) {
		error("unable to use directory '%s': %s", dir, strerror(errno));
		rc = EXIT_CONFIG;
	} else if (!S_ISDIR(st.st_mode)) {
		error("unable to use directory '%s': not a directory", dir);
		rc = EXIT_CONFIG;
	} else if (access(dir, W_OK | X_OK) < 0) {
		error("unable to create files in directory '%s': %s", dir, strerror(errno));
		rc = EXIT_CONFIG;
	}
	free(dir);
	return rc;
}

int io_atomic_open(struct io_atomic *a, const char *path)
{
	static int registered;
	static unsigned seq;
	int rc = io_atomic_check(path);
	memset(a, 0, sizeof *a);
	a->fd = -1;
	if (rc)
		return rc;
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t cap = strlen(path) + 48;
	a->tmp = xmalloc(cap);
	for (int tries = 0; a->fd < 0; tries++) {
		snprintf(a->tmp, cap, "%.*s.%s.tmp%ld-%u", (int)dlen, path, path + dlen, (long)getpid(), seq++);
		a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (a->fd < 0 && (errno != EEXIST || tries == 100)) {
			error("unable to create '%s': %s", a->tmp, strerror(errno));
			free(a->tmp);
			a->tmp = NULL;
			return EXIT_TEMPFAIL;
		}
	}
	a->path = xstrdup(path);
	if (!registered) {
		atexit(atomic_atexit);
		registered = 1;
	}
	atomic_pending = a;
	return 0;
}

static void atomic_done(struct io_atomic *a, int remove)
{
	if (a->fd >= 0)
		close(a->fd);
	if (remove && a->tmp)
		unlink(a->tmp);
	if (atomic_pending == a)
		atomic_pending = NULL;
	free(a->tmp);
	free(a->path);
	a->tmp = a->path = NULL;
	a->fd = -1;
}

void io_atomic_abort(struct io_atomic *a)
{
	atomic_done(a, 1);
}

int io_atomic_commit(struct io_atomic *a)
{
	int fd = a->fd, rc;
	a->fd = -1;
	if (fsync(fd) < 0 || close(fd) < 0) {
		error("unable to write '%s': %s", a->tmp, strerror(errno));
		atomic_done(a, 1);
		return EXIT_TEMPFAIL;
	}
	/* Once more, just before the rename: the target may have changed. */
	if ((rc = io_atomic_check(a->path)) != 0) {
		atomic_done(a, 1);
		return rc;
	}
	if (rename(a->tmp, a->path) < 0) {
		error("unable to rename '%s' to '%s': %s", a->tmp, a->path, strerror(errno));
		atomic_done(a, 1);
		return EXIT_TEMPFAIL;
	}
	/* The rename is durable once the directory is. */
	char *dir = dir_of(a->path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = 0;
	if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL)) {
		error("unable to sync directory '%s': %s", dir, strerror(errno));
		rc = EXIT_TEMPFAIL;
	}
	if (dfd >= 0)
		close(dfd);
	free(dir);
	atomic_done(a, 0);
	return rc;
}

/* ------------------------------------------------------------ line reader */

void lr_init(struct lr *lr, int fd, size_t max_line)
{
	memset(lr, 0, sizeof *lr);
	lr->fd = fd;
	lr->max = max_line;
	lr->cap = 65536;
	lr->buf = xmalloc(lr->cap);
}

void lr_free(struct lr *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}

ssize_t lr_fill(struct lr *lr)
{
	if (lr->start > 0 && (lr->start == lr->end || lr->end + 4096 > lr->cap)) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
	}
	if (lr->cap - lr->end < 4096) {
		size_t want = lr->cap * 2;
		if (want > lr->max + 65536 && lr->cap >= lr->max + 2)
			want = lr->cap; /* never grow past one maximal line */
		if (want != lr->cap) {
			lr->buf = xrealloc(lr->buf, want);
			lr->cap = want;
		}
	}
	for (;;) {
		ssize_t n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			lr->eof = 1;
		if (n > 0)
			lr->end += (size_t)n;
		return n;
	}
}

int lr_getline(struct lr *lr, char **line, size_t *len)
{
	char *base = lr->buf + lr->start;
	size_t avail = lr->end - lr->start;
	char *nl = memchr(base + lr->scan, '\n', avail - lr->scan);
	if (!nl) {
		lr->scan = avail;
		if (avail > lr->max) {
			error("line %llu is longer than %zu bytes", (unsigned long long)lr->lineno + 1, lr->max);
			return LR_ETOOLONG;
		}
		return LR_NONE;
	}
	size_t n = (size_t)(nl - base);
	if (n > lr->max) {
		error("line %llu is longer than %zu bytes", (unsigned long long)lr->lineno + 1, lr->max);
		return LR_ETOOLONG;
	}
	*nl = '\0';
	*line = base;
	*len = n;
	lr->start += n + 1;
	lr->scan = 0;
	lr->lineno++;
	return LR_LINE;
}

int lr_next(struct lr *lr, char **line, size_t *len)
{
	for (;;) {
		int r = lr_getline(lr, line, len);
		if (r != LR_NONE)
			return r;
		if (lr->eof)
			return LR_NONE;
		ssize_t n = lr_fill(lr);
		if (n < 0) {
			lr->err = errno;
			error("unable to read input: %s", strerror(errno));
			return LR_EREAD;
		}
	}
}

size_t lr_partial(const struct lr *lr)
{
	return lr->end - lr->start;
}

static volatile sig_atomic_t *graceful_flag;
static volatile sig_atomic_t graceful_busy = 1;

static void on_graceful(int sig)
{
	(void)sig;
	if (graceful_flag)
		*graceful_flag = 1;
	if (!graceful_busy)
		_exit(0);
}

void io_graceful_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_graceful;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART; /* reads go on; idle means the handler ends the program */
	graceful_flag = flag;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void io_busy(int busy)
{
	graceful_busy = busy;
	if (!busy && graceful_flag && *graceful_flag)
		_exit(0);
}

int io_replace(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return error("unable to write '%s': path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return error("unable to create '%s': %s", tmp, strerror(errno));
	if (io_write_all(fd, buf, len) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return error("unable to write '%s': %s", tmp, strerror(e));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return error("unable to replace '%s': %s", path, strerror(e));
	}
	return 0;
}
