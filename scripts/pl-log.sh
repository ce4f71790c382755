# scripts/pl-log.sh -- the log line of every script, as core/die.c writes it
# for the C programs (docs/logging.md).  Sourced (bash):
#
#   . "$top/scripts/pl-log.sh"
#   pl_log PROG LEVEL MESSAGE [EXIT]
#
# LEVEL: fatal, error, warn, info, debug.  Text (the default):
#   2026-12-01T09:10:11Z PROG: [warning: |fatal: ]MESSAGE
# and with PL_LOG_FORMAT=logfmt:
#   ts=2026-12-01T09:10:11Z level=LEVEL prog=PROG msg="MESSAGE" [exit=EXIT]
# Lines below PL_LOG_LEVEL (error < warn < info < debug; default info) are
# not written; fatal and error lines always are.
pl_log() {
	local prog=$1 lvl=$2 m=$3 code=${4:-}
	case ${PL_LOG_LEVEL:-info}:$lvl in
	error:warn | error:info | warn:info | error:debug | warn:debug | info:debug) return 0 ;;
	esac
	if [ "${PL_LOG_FORMAT:-text}" = logfmt ]; then
		m=${m//\\/\\\\} m=${m//\"/\\\"} m=${m//$'\n'/\\n}
		TZ=UTC0 printf 'ts=%(%Y-%m-%dT%H:%M:%SZ)T level=%s prog=%s msg="%s"%s\n' -1 "$lvl" "$prog" "$m" \
			"${code:+ exit=$code}" >&2
	else
		case $lvl in warn) m="warning: $m" ;; fatal) m="fatal: $m" ;; error) m="error: $m" ;; debug) m="debug: $m" ;; esac
		TZ=UTC0 printf '%(%Y-%m-%dT%H:%M:%SZ)T %s: %s\n' -1 "$prog" "$m" >&2
	fi
}
