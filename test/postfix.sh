# test/postfix.sh - a private, throw-away Postfix instance on 127.0.0.1 for
# the end-to-end ring, the quickstart and the benchmark. Source it from sh.
#
# It never touches the system's Postfix: the instance has its own config,
# queue, data and log under one directory, listens on 127.0.0.1 only, and
# pf_stop stops only the master and smtp-sink this file started. It works
# where /etc/postfix/main.cf does not exist (Debian's "No configuration").
# Every process runs with chroot = n (unless PF_CHROOT=1), so a unix: milter
# path is a real path.
# Must run as root (Postfix's master needs it).
#
# Interface:
#   pf_pick_ports                 sets PF_PORT and PF_SINKPORT: from
#                                 $PORTCULLIS_PF_PORT / $PORTCULLIS_PF_SINKPORT
#                                 if set, else two free ports in 20000-29999
#                                 chosen from the process id. Returns 1 if none.
#   pf_setup DIR PORT SINKPORT MILTER
#                                 writes DIR/conf (main.cf, master.cf), makes
#                                 DIR/{spool,data,sink}. MILTER is a Postfix
#                                 milter spec (unix:/path, inet:127.0.0.1:N) or
#                                 "none". Before calling, these may be set:
#                                 PF_MILTER_DEFAULT_ACTION (tempfail),
#                                 PF_MILTER_COMMAND_TIMEOUT (30s),
#                                 PF_MILTER_CONTENT_TIMEOUT (300s),
#                                 PF_MESSAGE_SIZE_LIMIT (52428800),
#                                 PF_RECIPIENT_LIMIT (1000),
#                                 PF_RELAY_DOMAINS (example.com),
#                                 PF_NON_SMTPD_MILTERS (none),
#                                 PF_CHROOT (0; 1 = chroot like Debian's
#                                 master.cf: unix:/x resolves to
#                                 DIR/spool/x for smtpd and cleanup).
#                                 Clients in 127.0.0.0/8 may relay anywhere
#                                 and may use XCLIENT (e.g. to pose as an
#                                 outside client: swaks --xclient-addr);
#                                 any client may send to PF_RELAY_DOMAINS.
#                                 All mail goes to the sink.
#   pf_conf 'name = value'...     changes main.cf (postconf -e); call
#                                 pf_reload afterwards if running.
#   pf_start                      starts smtp-sink on 127.0.0.1:SINKPORT
#                                 (dumping each message to DIR/sink/) and the
#                                 Postfix master; waits (bounded) until both
#                                 listen. Returns 1 (and prints why) on failure.
#                                 PF_DETACH=1 starts the sink in its own
#                                 session (for instances left running).
#   pf_reload                     postfix reload (after pf_conf).
#   pf_add_listener PORT 'name=value'...
#                                 after pf_setup: one more smtpd on
#                                 127.0.0.1:PORT with these main.cf
#                                 overrides (master.cf -o, no spaces in
#                                 values), e.g. smtpd_milters=unix:/x.sock
#                                 to run several milter setups side by side
#                                 in one instance. pf_start waits for it.
#   pf_stop                       stops that instance and that smtp-sink only.
#   pf_wait_delivered N [SECS]    waits until N messages were delivered to the
#                                 sink (log "status=sent"), default 30 s;
#                                 returns 1 on timeout.
#   pf_delivered_file PATTERN     prints the path of the sink file whose
#                                 content matches the grep -E PATTERN (first).
#   pf_sent_count                 prints how many "status=sent" so far.
#   pf_log                        prints the instance's log (DIR/maillog).
#   pf_queue                      postqueue -j of the instance (one JSON
#                                 object per queued message; hold = queue_name
#                                 "hold").
#   pf_postcmd CMD ARGS...        runs a Postfix command (postqueue,
#                                 postsuper, postcat, postconf) with -c conf.
# Variables after pf_setup: PF_DIR, PF_CONF, PF_PORT, PF_SINKPORT, PF_SINKDIR.
# Sink files start with smtp-sink's X-Client-Addr:/X-Mail-Args:/X-Rcpt-Args:
# lines and its Received: header, then the message as Postfix relayed it.

PF_DIR=""
PF_SINK_PID=""

# pf_port_busy PORT: 0 if something listens on PORT (TCP, v4 or v6).
pf_port_busy() {
	_hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v p=":$_hex" '$4 == "0A" && substr($2, length($2) - 4) == p \
		{ found = 1 } END { exit !found }'
}

pf_pick_ports() {
	if [ -n "${PORTCULLIS_PF_PORT:-}" ]; then
		PF_PORT=$PORTCULLIS_PF_PORT
		PF_SINKPORT=${PORTCULLIS_PF_SINKPORT:-$((PF_PORT + 1))}
		return 0
	fi
	_try=0
	_p=$((20000 + ($$ % 4990) * 2))
	while [ "$_try" -lt 50 ]; do
		if ! pf_port_busy "$_p" && ! pf_port_busy $((_p + 1)); then
			PF_PORT=$_p
			PF_SINKPORT=${PORTCULLIS_PF_SINKPORT:-$((_p + 1))}
			return 0
		fi
		_p=$((_p + 2))
		[ "$_p" -ge 29998 ] && _p=20000
		_try=$((_try + 1))
	done
	echo "pf_pick_ports: no free port pair found" >&2
	return 1
}

pf_setup() {
	PF_EXTRA_PORTS=""
	PF_DIR=$1
	PF_PORT=$2
	PF_SINKPORT=$3
	_milter=$4
	[ "$_milter" = none ] && _milter=""
	PF_CONF=$PF_DIR/conf
	PF_SINKDIR=$PF_DIR/sink
	mkdir -p "$PF_CONF" "$PF_DIR/spool" "$PF_DIR/data" "$PF_SINKDIR" ||
	    return 1
	# Postfix's unprivileged processes must reach the milter socket and
	# the sink must write its dumps.
	chmod 0755 "$PF_DIR"
	chown postfix "$PF_DIR/data" "$PF_SINKDIR" || return 1
	for _f in dynamicmaps.cf dynamicmaps.cf.d postfix-files \
	    postfix-files.d post-install postfix-script; do
		if [ -e "/etc/postfix/$_f" ]; then
			cp -r "/etc/postfix/$_f" "$PF_CONF/"
		elif [ -e "/usr/share/postfix/$_f" ]; then
			cp -r "/usr/share/postfix/$_f" "$PF_CONF/"
		elif [ -e "/usr/lib/postfix/sbin/$_f" ]; then
			cp -r "/usr/lib/postfix/sbin/$_f" "$PF_CONF/"
		fi
	done
	[ -f "$PF_CONF/postfix-files" ] || {
		echo "pf_setup: no postfix-files in /etc/postfix" >&2
		return 1
	}
	cat > "$PF_CONF/main.cf" <<EOF
# Private test instance (test/postfix.sh). Not the system's Postfix.
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
meta_directory = $PF_CONF
syslog_name = postfix-portcullis-test
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
myhostname = mx.portcullis.test
mydomain = portcullis.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
mynetworks = 127.0.0.0/8
relay_domains = ${PF_RELAY_DOMAINS:-example.com}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0
relayhost = [127.0.0.1]:$PF_SINKPORT
smtp_dns_support_level = disabled
smtp_connect_timeout = 10s
queue_run_delay = 10s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
delay_warning_time = 0
smtpd_recipient_limit = ${PF_RECIPIENT_LIMIT:-1000}
message_size_limit = ${PF_MESSAGE_SIZE_LIMIT:-52428800}
mailbox_size_limit = 0
smtpd_milters = $_milter
non_smtpd_milters = ${PF_NON_SMTPD_MILTERS:-}
milter_protocol = 6
milter_default_action = ${PF_MILTER_DEFAULT_ACTION:-tempfail}
milter_connect_timeout = 10s
milter_command_timeout = ${PF_MILTER_COMMAND_TIMEOUT:-30s}
milter_content_timeout = ${PF_MILTER_CONTENT_TIMEOUT:-300s}
EOF
	# The standard services and smtpd on loopback. chroot = n, or with
	# PF_CHROOT=1 the chroot column of Debian's master.cf (y for smtpd,
	# cleanup, pickup, smtp... as on a stock Debian system), which makes
	# unix: milter paths resolve inside the queue directory.
	_y=n
	if [ "${PF_CHROOT:-0}" = 1 ]; then
		_y=y
		# What Debian's configure-instance.sh copies into the chroot.
		mkdir -p "$PF_DIR/spool/etc"
		for _f in localtime services resolv.conf hosts host.conf \
		    nsswitch.conf; do
			[ -f "/etc/$_f" ] && cp "/etc/$_f" "$PF_DIR/spool/etc/"
		done
		chmod -R a+rX "$PF_DIR/spool/etc"
	fi
	cat > "$PF_CONF/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - $_y - - smtpd
pickup     unix  n - $_y 60   1 pickup
cleanup    unix  n - $_y -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - $_y 1000? 1 tlsmgr
rewrite    unix  - - $_y -    - trivial-rewrite
bounce     unix  - - $_y -    0 bounce
defer      unix  - - $_y -    0 bounce
trace      unix  - - $_y -    0 bounce
verify     unix  - - $_y -    1 verify
flush      unix  n - $_y 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - $_y -    - smtp
relay      unix  - - $_y -    - smtp
showq      unix  n - $_y -    - showq
error      unix  - - $_y -    - error
retry      unix  - - $_y -    - error
discard    unix  - - $_y -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
lmtp       unix  - - $_y -    - lmtp
anvil      unix  - - $_y -    1 anvil
scache     unix  - - $_y -    1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
	: > "$PF_DIR/maillog"
}

PF_EXTRA_PORTS=""

pf_add_listener() {
	_lport=$1
	shift
	_line="127.0.0.1:$_lport inet n - n - - smtpd"
	for _o in "$@"; do
		_line="$_line -o $_o"
	done
	echo "$_line" >> "$PF_CONF/master.cf"
	PF_EXTRA_PORTS="$PF_EXTRA_PORTS $_lport"
}

pf_postcmd() {
	_cmd=$1
	shift
	"$_cmd" -c "$PF_CONF" "$@"
}

pf_conf() {
	postconf -c "$PF_CONF" -e "$@"
}

# pf_wait_port PORT SECS: wait until something listens on 127.0.0.1:PORT.
pf_wait_port() {
	_n=0
	while ! pf_port_busy "$1"; do
		_n=$((_n + 1))
		[ "$_n" -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}

pf_start() {
	[ -n "$PF_DIR" ] || { echo "pf_start: pf_setup first" >&2; return 1; }
	if pf_port_busy "$PF_PORT" || pf_port_busy "$PF_SINKPORT"; then
		echo "pf_start: port $PF_PORT or $PF_SINKPORT is in use" >&2
		return 1
	fi
	# PF_DETACH=1: the sink outlives the calling script (its own session;
	# setsid does not fork here, a background child is no group leader).
	_setsid=""
	[ "${PF_DETACH:-0}" = 1 ] && _setsid=setsid
	$_setsid smtp-sink -u postfix -d "$PF_SINKDIR/%M." \
	    "127.0.0.1:$PF_SINKPORT" 256 </dev/null >>"$PF_DIR/sink.log" 2>&1 &
	PF_SINK_PID=$!
	postfix -c "$PF_CONF" check >>"$PF_DIR/postfix.log" 2>&1 &&
	    postfix -c "$PF_CONF" start >>"$PF_DIR/postfix.log" 2>&1 || {
		echo "pf_start: postfix failed to start:" >&2
		cat "$PF_DIR/postfix.log" >&2
		return 1
	}
	pf_wait_port "$PF_SINKPORT" 10 || {
		echo "pf_start: smtp-sink is not listening" >&2
		return 1
	}
	pf_wait_port "$PF_PORT" 20 || {
		echo "pf_start: postfix is not listening on $PF_PORT" >&2
		return 1
	}
	for _lport in $PF_EXTRA_PORTS; do
		pf_wait_port "$_lport" 20 || {
			echo "pf_start: postfix is not listening on $_lport" >&2
			return 1
		}
	done
}

pf_reload() {
	postfix -c "$PF_CONF" reload >>"$PF_DIR/postfix.log" 2>&1
}

pf_master_pid() {
	_pf=$PF_DIR/spool/pid/master.pid
	[ -s "$_pf" ] && tr -dc '0-9' < "$_pf"
}

pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	_mp=$(pf_master_pid)
	if [ -n "$_mp" ] && kill -0 "$_mp" 2>/dev/null; then
		postfix -c "$PF_CONF" stop >>"$PF_DIR/postfix.log" 2>&1
		_n=0
		while kill -0 "$_mp" 2>/dev/null && [ "$_n" -lt 100 ]; do
			sleep 0.1
			_n=$((_n + 1))
		done
		kill -9 "$_mp" 2>/dev/null
	fi
	if [ -n "$PF_SINK_PID" ]; then
		kill "$PF_SINK_PID" 2>/dev/null
		wait "$PF_SINK_PID" 2>/dev/null
		PF_SINK_PID=""
	fi
	return 0
}

pf_sent_count() {
	_c=$(grep -c ' status=sent ' "$PF_DIR/maillog" 2>/dev/null)
	echo "${_c:-0}"
}

pf_wait_delivered() {
	_want=$1
	_secs=${2:-30}
	_n=0
	while [ "$(pf_sent_count)" -lt "$_want" ]; do
		_n=$((_n + 1))
		[ "$_n" -gt $((_secs * 10)) ] && return 1
		sleep 0.1
	done
}

pf_delivered_file() {
	grep -lE -- "$1" "$PF_SINKDIR"/* 2>/dev/null | head -n 1
}

pf_log() {
	cat "$PF_DIR/maillog"
}

pf_queue() {
	postqueue -c "$PF_CONF" -j
}
