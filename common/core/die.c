/*
 * die.c -- error reporting and checked allocation shared by every program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"

static const char *prog = "pl";
static char errbuf[1024];

void die_set_prog(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	prog = slash ? slash + 1 : (argv0 ? argv0 : "pl");
}

const char *die_prog(void)
{
	return prog;
}

static void vreport(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char buf[4096];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		buf[0] = '\0';
	fprintf(stderr, "%s: %s%s%s%s\n", prog, prefix, buf, suffix ? ": " : "", suffix ? suffix : "");
	fflush(stderr);
}

void die_code(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(code);
}

void die_errno(int code, const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal: ", fmt, ap, e);
	va_end(ap);
	exit(code);
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap, NULL);
	va_end(ap);
}

int error(const char *fmt, ...)
{
	/* Format aside first: the arguments may point into errbuf itself
	 * (return error("field '%s': %s", name, err_msg()) wraps a message). */
	char buf[sizeof errbuf];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	memcpy(errbuf, buf, n < 0 ? 1 : (size_t)n + 1 > sizeof buf ? sizeof buf
								   : (size_t)n + 1);
	if (n < 0)
		errbuf[0] = '\0';
	return -1;
}

const char *err_msg(void)
{
	return errbuf;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_code(EXIT_SOFTWARE, "unable to allocate %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_code(EXIT_SOFTWARE, "unable to allocate %zu bytes", n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die_code(EXIT_SOFTWARE, "unable to allocate %zu bytes", n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
