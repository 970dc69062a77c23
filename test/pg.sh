#!/bin/sh
# test/pg.sh - a private, throw-away PostgreSQL server for the unit and
# end-to-end rings: its data and its unix socket in one directory, no TCP
# at all (listen_addresses is empty), trust authentication on the socket
# only, and a database "portcullis" owned by the role "portcullis". It
# never touches a system cluster. The server runs as the caller, or as
# "nobody" when the caller is root (initdb refuses root).
#
#   test/pg.sh start DIR   creates DIR (once: initdb, createdb), starts the
#                          server and waits (bounded) until it answers;
#                          prints the connection string on stdout
#   test/pg.sh stop DIR    stops that server (fast shutdown) and waits
#   test/pg.sh conninfo DIR
#                          prints the connection string
# Exit status 0, or 1 with the reason (and the server's log) on stderr.
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: test/pg.sh start|stop|conninfo DIR" >&2
	exit 1
}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || {
	echo "pg.sh: no PostgreSQL server (Debian package postgresql)" >&2
	exit 1
}

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    --reset-env "$@"
	else
		"$@"
	fi
}

conninfo() {
	echo "host=$dir dbname=portcullis user=portcullis connect_timeout=5"
}

case $cmd in
start)
	if [ ! -d "$dir/data" ]; then
		mkdir -p "$dir" || exit 1
		chmod 0755 "$dir"
		[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir"
		as_owner "$bin/initdb" -D "$dir/data" -A trust -U portcullis \
		    -E UTF8 --no-sync > "$dir/initdb.log" 2>&1 || {
			echo "pg.sh: initdb failed:" >&2
			cat "$dir/initdb.log" >&2
			exit 1
		}
		fresh=1
	fi
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	    -o "-k $dir -c listen_addresses= -c fsync=off" start \
	    > /dev/null 2>&1 || {
		echo "pg.sh: the server did not start:" >&2
		tail -n 20 "$dir/server.log" >&2
		exit 1
	}
	if [ "${fresh:-0}" = 1 ]; then
		as_owner "$bin/createdb" -h "$dir" -U portcullis portcullis || {
			echo "pg.sh: createdb failed" >&2
			exit 1
		}
	fi
	conninfo
	;;
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
	    > /dev/null 2>&1 || {
		echo "pg.sh: the server did not stop" >&2
		exit 1
	}
	;;
conninfo)
	conninfo
	;;
*)
	echo "usage: test/pg.sh start|stop|conninfo DIR" >&2
	exit 1
	;;
esac
