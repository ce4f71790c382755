/*
 * io.c -- see io.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
