# scripts/pl-conninfo.sh -- keep a password out of command lines (bash;
# sourced by run-pipeline, pl-verify, pl-stage and pl-migrate).
#
# pl_conninfo_hide_password: when $conninfo (a libpq connection string,
# keyword=value or a postgres:// URI) holds a password, take it out of
# $conninfo and export it as PGPASSWORD instead, so that the stages, psql
# and every other command we start see it in their environment (readable
# only by the same user) and never in their arguments (which ps shows to
# every user).  libpq gives a conninfo password precedence over PGPASSWORD,
# so the connection is the same.  A string this parser does not understand
# is left as it is (libpq will report it).
pl_conninfo_hide_password() {
	local ci=$conninfo out= rest key raw val i c pw= found=0
	case $ci in
	postgres://* | postgresql://*)
		local scheme=${ci%%://*} tail=${ci#*://} auth path= q= p kept=()
		auth=${tail%%[/?]*}
		tail=${tail:${#auth}}
		if [ "${auth%@*}" != "$auth" ]; then
			local user=${auth%@*} hostpart=${auth##*@}
			if [ "${user#*:}" != "$user" ]; then
				pw=${user#*:} user=${user%%:*} found=1
			fi
			auth=$user@$hostpart
		fi
		path=${tail%%\?*}
		[ "$path" != "$tail" ] && q=${tail#*\?}
		if [ -n "$q" ]; then
			local IFS='&'
			for p in $q; do
				case $p in
				password=*) pw=${p#password=} found=1 ;;
				*) kept+=("$p") ;;
				esac
			done
			q="${kept[*]}"
		fi
		[ $found = 1 ] || return 0
		pw=${pw//+/ }
		printf -v pw '%b' "${pw//%/\\x}"
		conninfo=$scheme://$auth$path${q:+?$q}
		export PGPASSWORD=$pw
		return 0
		;;
	esac
	rest=$ci
	while :; do
		rest=${rest#"${rest%%[![:space:]]*}"}
		[ -n "$rest" ] || break
		[ "${rest#*=}" != "$rest" ] || return 0 # not keyword=value: leave it
		key=${rest%%=*}
		key=${key%"${key##*[![:space:]]}"}
		rest=${rest#*=}
		rest=${rest#"${rest%%[![:space:]]*}"}
		val=
		if [ "${rest:0:1}" = "'" ]; then
			i=1
			while [ $i -lt ${#rest} ]; do
				c=${rest:i:1}
				if [ "$c" = '\' ]; then
					val+=${rest:i+1:1} i=$((i + 2))
				elif [ "$c" = "'" ]; then
					break
				else
					val+=$c i=$((i + 1))
				fi
			done
			raw=${rest:0:i+1} rest=${rest:i+1}
		else
			raw=${rest%%[[:space:]]*} rest=${rest:${#raw}}
			val=${raw//\\\\/\\}
			val=${val//\\\'/\'}
		fi
		if [ "$key" = password ]; then
			pw=$val found=1
		else
			out+="${out:+ }$key=$raw"
		fi
	done
	[ $found = 1 ] || return 0
	conninfo=$out
	export PGPASSWORD=$pw
}
