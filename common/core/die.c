/*
 * die.c -- error reporting and checked allocation shared by every program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/die.h"

static const char *prog = "pl";
static char errbuf[1024];
static int log_level = DIE_LOG_INFO;
static int log_logfmt;

int die_set_log_level(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (name && !strcmp(name, names[i])) {
			log_level = i;
			return 0;
		}
	if (name && !strcmp(name, "warning")) {
		log_level = DIE_LOG_WARN;
		return 0;
	}
	return -1;
}

int die_log_level(void)
{
	return log_level;
}

int die_set_log_format(const char *name)
{
	if (name && !strcmp(name, "logfmt"))
		log_logfmt = 1;
	else if (name && !strcmp(name, "text"))
		log_logfmt = 0;
	else
		return -1;
	return 0;
}

int die_logfmt(void)
{
	return log_logfmt;
}

void die_set_prog(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	prog = slash ? slash + 1 : (argv0 ? argv0 : "pl");
	/* An unknown value in the environment is ignored (the default stays):
	 * a log setting must not stop a program. */
	const char *l = getenv("PL_LOG_LEVEL");
	if (l && *l)
		(void)die_set_log_level(l);
	const char *f = getenv("PL_LOG_FORMAT");
	if (f && *f)
		(void)die_set_log_format(f);
}

const char *die_prog(void)
{
	return prog;
}

/* logfmt value: bare when it has no space, quote, '=' or control byte, else quoted with \" \\ \n escapes. */
static void add_value(char *out, size_t cap, size_t *len, const char *v)
{
	int bare = *v != '\0';
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\')
			bare = 0;
#define PUT(c)                               \
	do {                                 \
		if (*len + 1 < cap)          \
			out[(*len)++] = (c); \
	} while (0)
	if (!bare)
		PUT('"');
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c == '\n') {
			PUT('\\');
			PUT('n');
		} else if (c == '\t') {
			PUT('\\');
			PUT('t');
		} else if (c < ' ') {
			char hex[8];
			snprintf(hex, sizeof hex, "\\x%02x", c);
			for (char *h = hex; *h; h++)
				PUT(*h);
		} else {
			PUT((char)c);
		}
	}
	if (!bare)
		PUT('"');
#undef PUT
	out[*len] = '\0';
}

/* One log line.  level: "fatal", "error", "warn", "info", "debug"; prefix: the text format's ("fatal: "). */
static void vreport(const char *level, const char *prefix, const char *fmt, va_list ap, const char *suffix, int code)
{
	char buf[4096];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		buf[0] = '\0';
	if (!log_logfmt) {
		fprintf(stderr, "%s: %s%s%s%s\n", prog, prefix, buf, suffix ? ": " : "", suffix ? suffix : "");
		fflush(stderr);
		return;
	}
	char msg[4608], line[10240];
	snprintf(msg, sizeof msg, "%s%s%s", buf, suffix ? ": " : "", suffix ? suffix : "");
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t len = (size_t)snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		level);
	add_value(line, sizeof line - 16, &len, prog);
	len += (size_t)snprintf(line + len, sizeof line - len, " msg=");
	add_value(line, sizeof line - 16, &len, msg);
	if (code >= 0)
		len += (size_t)snprintf(line + len, sizeof line - len, " exit=%d", code);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

void die_code(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal", "fatal: ", fmt, ap, NULL, code);
	va_end(ap);
	exit(code);
}

void die_errno(int code, const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vreport("fatal", "fatal: ", fmt, ap, e, code);
	va_end(ap);
	exit(code);
}

void warn(const char *fmt, ...)
{
	if (log_level < DIE_LOG_WARN)
		return;
	va_list ap;
	va_start(ap, fmt);
	vreport("warn", "warning: ", fmt, ap, NULL, -1);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	if (log_level < DIE_LOG_INFO)
		return;
	va_list ap;
	va_start(ap, fmt);
	vreport("info", "", fmt, ap, NULL, -1);
	va_end(ap);
}

void debug(const char *fmt, ...)
{
	if (log_level < DIE_LOG_DEBUG)
		return;
	va_list ap;
	va_start(ap, fmt);
	vreport("debug", "debug: ", fmt, ap, NULL, -1);
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
