# tests/intuition/redislib.sh -- a throwaway Redis for one test script
# (sourced after tests/lib.sh).
#
#   redis_start [aof]   redis-server on a Unix socket in $TEST_DIR/redis
#                       (no TCP port), with appendonly + appendfsync always
#                       when "aof" is given; exports REDIS_SOCKET; stopped when
#                       the script exits.  Its pid in $REDIS_DIR/pid.
#   redis_stop [-9]     stop it (SHUTDOWN NOSAVE, or SIGKILL)
#   rcli ARGS...        redis-cli on that socket
#   ix_resp STREAM      records (ix-sim's output) on stdin -> XADD commands
#                       for redis-cli --pipe on stdout
#   ix_feed STREAM      the same, piped into Redis
#   ix_last_seq STREAM  the frames' seq of the stream's last message
REDIS_DIR=$TEST_DIR/redis
export REDIS_SOCKET=$REDIS_DIR/redis.sock

redis_start() {
	command -v redis-server >/dev/null || skip_all "no redis-server (run scripts/setup)"
	mkdir -p "$REDIS_DIR"
	local aof=no
	[ "${1:-}" = aof ] && aof=yes
	redis-server --port 0 --unixsocket "$REDIS_SOCKET" --unixsocketperm 700 --dir "$REDIS_DIR" \
		--appendonly "$aof" --appendfsync always --save "" --daemonize no --logfile "$REDIS_DIR/redis.log" \
		</dev/null >/dev/null 2>&1 &
	echo $! >"$REDIS_DIR/pid"
	# not a job of the test's shell: no "Killed" notice when redis_stop -9 kills it
	disown $!
	echo "$aof" >"$REDIS_DIR/aof"
	[ -n "${_in_test_body:-}" ] || [ -n "${_redis_cleanup:-}" ] || { test_when_finished "redis_stop"; _redis_cleanup=1; }
	local i=0
	while ! rcli PING 2>/dev/null | grep -q PONG; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "redis-server did not start"; cat "$REDIS_DIR/redis.log"; return 1; }
		sleep 0.05
	done
}

# Start it again after a stop, same settings (its AOF, if any, is replayed).
redis_restart() {
	redis_start "$([ "$(cat "$REDIS_DIR/aof")" = yes ] && echo aof)"
}

redis_stop() {
	local pid
	pid=$(cat "$REDIS_DIR/pid" 2>/dev/null) && [ -n "$pid" ] || return 0
	if [ "${1:-}" = -9 ]; then
		kill -9 "$pid" 2>/dev/null
	else
		rcli SHUTDOWN NOSAVE >/dev/null 2>&1
	fi
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$REDIS_DIR/pid"
	return 0
}

rcli() {
	redis-cli -s "$REDIS_SOCKET" "$@"
}

ix_resp() {
	jq -c .payload | LC_ALL=C awk -v s="$1" '{
		printf "*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$7\r\npayload\r\n$%d\r\n%s\r\n", length(s), s, length($0), $0
	}'
}

ix_feed() {
	ix_resp "$1" | rcli --pipe >/dev/null
}

ix_last_seq() {
	local id
	id=$(rcli XREVRANGE "$1" + - COUNT 1 | head -n 1)
	echo $(((${id%-*} << 16) + ${id#*-}))
}
# ix_last_seq_max STREAM...: the largest seq of the streams' last messages
ix_last_seq_max() {
	local s m=0 v
	for s in "$@"; do
		v=$(ix_last_seq "$s")
		[ "$v" -gt $m ] && m=$v
	done
	echo $m
}

# ix_route_resp STREAM_TERMS STREAM_POSITIONS STREAM_OTHER: records on stdin ->
# redis-cli --pipe commands that XADD each message to one of three streams by
# its event (the original's per-event streams: AtomCreated / TripleCreated,
# Deposited / Redeemed, the rest and reorgs), in record order, with ids that
# no two streams share: a script takes max(server clock, last + 1) ms under
# the key ix:clock, as XADD * does within one stream (docs/formats.md,
# "Redis sources": ids of one millisecond in two streams are ordered by the
# streams' places, not by arrival).
IX_XADD_LUA="local t = redis.call('TIME') local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) local last = tonumber(redis.call('GET', 'ix:clock') or '0') if ms <= last then ms = last + 1 end redis.call('SET', 'ix:clock', ms) return redis.call('XADD', KEYS[1], ms .. '-0', 'payload', ARGV[1])"
ix_route_resp() {
	jq -c '[(.payload.event_name), (.payload | tojson)]' |
		jq -r '.[0] + "\t" + .[1]' |
		LC_ALL=C awk -F '\t' -v a="$1" -v b="$2" -v c="$3" -v lua="$IX_XADD_LUA" '{
			s = c
			if ($1 == "AtomCreated" || $1 == "TripleCreated") s = a
			else if ($1 == "Deposited" || $1 == "Redeemed") s = b
			printf "*5\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n1\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(lua), lua, length(s), s, length($2), $2
		}'
}
ix_route_feed() {
	ix_route_resp "$@" | rcli --pipe >/dev/null
}
