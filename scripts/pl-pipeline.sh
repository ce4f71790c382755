# scripts/pl-pipeline.sh -- the supervisor's half of a pipeline's
# configuration (docs/architecture.md), sourced by run-pipeline, pl-stage
# and pl-verify (bash; $top is the project root, $BIN the programs).
#
# pl_load_pipeline NAME CONFIG: read CONFIG, else scripts/pipelines/NAME.conf,
# else scripts/pipelines/default.conf (a shard NAME-KofN without a file of
# its own: its parent's NAME.conf, sql/025), into PIPELINE, FETCH, FETCH_USES_DB
# and APPLY (and, for a pipeline without a work table, SOURCE instead of
# pg-listen, SOURCE_USES_DB, SOURCE_REJECTS, ACK and ACK_REJECTS, BACKLOG (a
# command printing "SEQ DRIVER" of the source's newest item, or "-": the
# stall watchdog) and HISTORY (a command writing the frames of the whole
# history: pl-verify); FETCH may then be empty);
# set config (the file read) and pipeline (NAME, else the file's
# PIPELINE); a stage that is one of our programs runs from $BIN.  Returns 1
# with the reason in pl_pipeline_error when the file is unreadable or does
# not set PIPELINE, FETCH and APPLY (the callers exit 78).
pl_load_pipeline() {
	pipeline=$1 config=$2 pl_pipeline_error=
	if [ -z "$config" ]; then
		if [ -n "$pipeline" ]; then config=$top/scripts/pipelines/$pipeline.conf; else config=$top/scripts/pipelines/default.conf; fi
		if [ ! -r "$config" ] && [[ $pipeline =~ ^(.+)-[0-9]+of[0-9]+$ ]]; then
			config=$top/scripts/pipelines/${BASH_REMATCH[1]}.conf
		fi
	fi
	if [ ! -r "$config" ]; then
		pl_pipeline_error="unable to read pipeline configuration '$config'"
		return 1
	fi
	PIPELINE= FETCH=() FETCH_USES_DB=0 APPLY=() SOURCE=() SOURCE_USES_DB=0 SOURCE_REJECTS=0 ACK=() ACK_REJECTS=0 BACKLOG=() HISTORY=()
	# shellcheck source=pipelines/pitchlake.conf
	. "$config"
	[ -n "$pipeline" ] || pipeline=$PIPELINE
	# SOURCE (instead of pg-listen) may stand for FETCH: redis-read writes event frames
	if [ -z "$pipeline" ] || { [ ${#FETCH[@]} -eq 0 ] && [ ${#SOURCE[@]} -eq 0 ]; } || [ ${#APPLY[@]} -eq 0 ]; then
		pl_pipeline_error="'$config' must set PIPELINE, FETCH (or SOURCE) and APPLY"
		return 1
	fi
	[ ${#FETCH[@]} -gt 0 ] && [ -x "$BIN/${FETCH[0]}" ] && FETCH[0]=$BIN/${FETCH[0]}
	[ -x "$BIN/${APPLY[0]}" ] && APPLY[0]=$BIN/${APPLY[0]}
	[ ${#SOURCE[@]} -gt 0 ] && [ -x "$BIN/${SOURCE[0]}" ] && SOURCE[0]=$BIN/${SOURCE[0]}
	[ ${#ACK[@]} -gt 0 ] && [ -x "$BIN/${ACK[0]}" ] && ACK[0]=$BIN/${ACK[0]}
	[ ${#BACKLOG[@]} -gt 0 ] && [ -x "$BIN/${BACKLOG[0]}" ] && BACKLOG[0]=$BIN/${BACKLOG[0]}
	[ ${#HISTORY[@]} -gt 0 ] && [ -x "$BIN/${HISTORY[0]}" ] && HISTORY[0]=$BIN/${HISTORY[0]}
	return 0
}
