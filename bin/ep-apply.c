/*
 * ep-apply -- the Pitchlake state machine as a filter: event frames on stdin,
 * delta frames on stdout (docs/formats.md).  Deterministic: the same snapshot
 * and input give byte-identical output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "dom/pitchlake/pitchlake.h"
#include "core/io.h"

static const char usage[] =
	"usage: ep-apply [--state FILE] [--dump-state FILE] [--finality N] [--max-line BYTES] [--stats]\n"
	"\n"
	"Reads event frames (NDJSON) on stdin and writes one delta frame per applied\n"
	"work item on stdout, each as soon as its 'end' line is read.\n"
	"\n"
	"  --state FILE       start from this snapshot (as written by --dump-state or pg-snapshot)\n"
	"  --dump-state FILE  write the final state snapshot to FILE at end of input\n"
	"  --finality N       blocks kept in the undo journal (default 64); reverts deeper fail\n"
	"  --max-line BYTES   longest accepted input line (default 16777216)\n"
	"  --stats            print counters and the state's size on stderr at exit\n"
	"\n"
	"Frames already applied according to the snapshot's checkpoint are skipped.\n"
	"A partial frame at end of input is discarded (it will be delivered again).\n"
	"\n"
	"exit codes: 0 end of input; 64 usage; 65 bad input data or broken contract\n"
	"invariant (do not restart: the message names the line); 70 internal error;\n"
	"75 output error (restart); 78 unreadable --state file.\n";

static uint64_t parse_count(const char *s, const char *opt)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !*s || *end || s[0] == '-')
		die_code(EXIT_USAGE, "unable to parse %s '%s': not a non-negative integer", opt, s);
	return v;
}

static void load_state(struct dl *ep, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die_errno(EXIT_CONFIG, "unable to open state '%s'", path);
	struct lr lr;
	lr_init(&lr, fd, (size_t)1 << 24);
	char *line;
	size_t len;
	int r;
	while ((r = lr_next(&lr, &line, &len)) > 0)
		if (dl_load_line(ep, line, len) < 0)
			die_code(EXIT_DATAERR, "unable to load state '%s' at line %llu: %s", path,
				(unsigned long long)lr.lineno, err_msg());
	if (r < 0)
		die_code(EXIT_DATAERR, "unable to load state '%s': %s", path, err_msg());
	if (lr_partial(&lr))
		die_code(EXIT_DATAERR, "unable to load state '%s': last line has no newline (truncated file?)", path);
	if (dl_load_done(ep) < 0)
		die_code(EXIT_DATAERR, "unable to load state '%s': %s", path, err_msg());
	lr_free(&lr);
	close(fd);
}

static void dump_state(struct dl *ep, const char *path)
{
	struct sb out = SB_INIT;
	size_t plen = strlen(path);
	char *tmp = xmalloc(plen + 16);
	snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
	dl_dump(ep, &out);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die_errno(EXIT_TEMPFAIL, "unable to create '%s'", tmp);
	if (io_write_all(fd, out.buf ? out.buf : "", out.len) < 0 || fsync(fd) < 0 || close(fd) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to write '%s'", tmp);
	if (rename(tmp, path) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to rename '%s' to '%s'", tmp, path);
	free(tmp);
	sb_free(&out);
}

int main(int argc, char **argv)
{
	const char *state = NULL, *dump = NULL;
	uint64_t finality = 64, max_line = (uint64_t)1 << 24;
	int stats = 0;

	die_set_prog(argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(a, "--stats")) {
			stats = 1;
			continue;
		}
		if (!strncmp(a, "--", 2) && strchr(a, '=')) {
			v = strchr(a, '=') + 1;
		} else if (i + 1 < argc) {
			v = argv[i + 1];
		}
		size_t alen = strchr(a, '=') ? (size_t)(strchr(a, '=') - a) : strlen(a);
#define OPT(name) (alen == strlen(name) && !strncmp(a, name, alen))
		if (OPT("--state") || OPT("--dump-state") || OPT("--finality") || OPT("--max-line")) {
			if (!v)
				die_code(EXIT_USAGE, "option '%s' needs a value", a);
			if (!strchr(a, '='))
				i++;
			if (OPT("--state"))
				state = v;
			else if (OPT("--dump-state"))
				dump = v;
			else if (OPT("--finality"))
				finality = parse_count(v, "--finality");
			else
				max_line = parse_count(v, "--max-line");
			continue;
		}
		fprintf(stderr, "%s: unknown option '%s'\n%s", die_prog(), a, usage);
		return EXIT_USAGE;
	}
	if (max_line < 1024)
		die_code(EXIT_USAGE, "--max-line must be at least 1024");

	io_init_stdout();
	struct dl *ep = dl_new(&pitchlake_domain, finality);
	if (state)
		load_state(ep, state);

	struct lr lr;
	struct sb out = SB_INIT;
	lr_init(&lr, STDIN_FILENO, (size_t)max_line);
	char *line;
	size_t len;
	int r;
	while ((r = lr_next(&lr, &line, &len)) > 0) {
		if (dl_feed(ep, line, len, &out) < 0) {
			long long d = dl_current_driver(ep);
			if (d >= 0)
				die_code(EXIT_DATAERR, "unable to apply input at line %llu (driver event %lld): %s",
					(unsigned long long)lr.lineno, d, err_msg());
			die_code(EXIT_DATAERR, "unable to apply input at line %llu: %s", (unsigned long long)lr.lineno, err_msg());
		}
		if (out.len) {
			io_out(out.buf, out.len);
			sb_reset(&out);
		}
	}
	if (r == LR_EREAD)
		die_code(EXIT_TEMPFAIL, "%s", err_msg());
	if (r < 0)
		die_code(EXIT_DATAERR, "unable to read input: %s", err_msg());
	if (lr_partial(&lr))
		warn("ignoring an incomplete last line (%zu bytes without a newline)", lr_partial(&lr));
	if (dl_finish(ep))
		warn("discarding a partial frame at end of input (it will be delivered again)");
	if (dump)
		dump_state(ep, dump);
	if (stats) {
		struct sb d = SB_INIT;
		dl_describe_stats(ep, &d);
		note("%s", d.buf);
		sb_reset(&d);
		dl_describe(ep, &d);
		note("%s", d.buf);
		sb_free(&d);
	}
	dl_free(ep);
	lr_free(&lr);
	sb_free(&out);
	io_close_stdout();
	return 0;
}
