# test/e2e/rspamd.sh - Portcullis chained with a real spam engine, rspamd,
# as README.md ("Chaining with a spam filter") tells a postmaster to do:
#
#   smtpd_milters = unix:/portcullis/portcullis.sock, inet:127.0.0.1:11332
#
# Sourced by test/e2e/run, which defines ok/notok/expect/send/row/
# wait_token/token_count/log_line/reject_qid/mkmsg and $T, $SOCK, $RUN,
# $EICAR_FILE and the private Postfix (test/postfix.sh).
#
# rspamd (Debian package rspamd) runs privately: its own configuration,
# database, run and log directories under $T/rspamd, the stock rules of
# /etc/rspamd included read-only, one proxy worker in milter mode that scans
# by itself (self_scan) on 127.0.0.1 and a free port, no controller, no
# redis. Everything that would reach the network is switched off (DNS
# blocklists, SPF/DKIM/DMARC lookups, fuzzy storage, remote maps, update
# checks), and its resolver points at a closed local port. It drops root
# for the Debian package's user _rspamd (it refuses to run workers as
# root). The system's rspamd, if any, is not touched.
#
# The chained smtpd is one more listener of the ring's Postfix, with
#   smtpd_milters = unix:$SOCK,inet:127.0.0.1:PORT
# Cases: GTUBE refused by rspamd (its 554 reply, Portcullis accepted it),
# EICAR refused by Portcullis (rspamd never asked for a verdict), clean mail
# delivered once with both filters' headers. And the order: what each filter
# sees of the other (a rule in the private rspamd that fires when the
# message carries X-Portcullis) and what each costs per message.

RS_DIR=""
RS_PID=""
RS_PORT=""

# rs_port_free PORT: nothing listens on it and the ring uses it for nothing.
rs_port_free() {
	! pf_port_busy "$1" && [ "$1" != "$PF_PORT" ] &&
	    [ "$1" != "$PF_SINKPORT" ] && [ "$1" != "${UP_PORT:-0}" ]
}

rspamd_setup() {	# 0 ok, 1 failed
	RS_DIR=$T/rspamd
	mkdir -p "$RS_DIR/conf/local.d" "$RS_DIR/db" "$RS_DIR/run" \
	    "$RS_DIR/log" || return 1
	RS_PORT=$((PF_SINKPORT + 3))
	while ! rs_port_free "$RS_PORT"; do
		RS_PORT=$((RS_PORT + 1))
	done
	# The stock rules and modules ($CONFDIR = /etc/rspamd), our own
	# top level: only the milter proxy, with its own scanner.
	cat > "$RS_DIR/conf/rspamd.conf" <<EOF
# Private rspamd of the Portcullis e2e ring (test/e2e/rspamd.sh).
.include "\$CONFDIR/common.conf"
options {
	pidfile = "\$RUNDIR/rspamd.pid";
	.include "\$CONFDIR/options.inc"
	.include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
	type = "file";
	filename = "\$LOGDIR/rspamd.log";
	level = "info";
}
worker "rspamd_proxy" {
	bind_socket = "127.0.0.1:$RS_PORT";
	milter = yes;
	timeout = 120s;
	upstream "local" {
		default = yes;
		self_scan = yes;
	}
	count = 1;
	spam_header = "X-Spam";
	reject_message = "Spam message rejected";
}
EOF
	# No name server: lookups fail at once on a closed local port.
	cat > "$RS_DIR/conf/local.d/options.inc" <<EOF
dns {
	nameserver = ["127.0.0.1:9"];
	timeout = 0.2s;
	retransmits = 1;
}
EOF
	# Every module that asks the network (DNS, remote maps, services)
	# or needs redis.
	for _m in antivirus arc asn bimi dcc dkim dkim_signing dmarc emails \
	    external_services fuzzy_check greylist hfilter history_redis \
	    metadata_exporter mid mime_types multimap mx_check neural p0f \
	    phishing ratelimit rbl replies reputation rspamd_update \
	    spamassassin spf surbl url_redirector whitelist clickhouse \
	    elastic; do
		echo 'enabled = false;' > "$RS_DIR/conf/local.d/$_m.conf"
	done
	# What rspamd adds in milter mode to mail it lets through.
	echo 'extended_spam_headers = true;' \
	    > "$RS_DIR/conf/local.d/milter_headers.conf"
	# Does the second milter see the first one's header? A symbol of
	# no weight that says so in X-Spamd-Result.
	cat > "$RS_DIR/conf/rspamd.local.lua" <<'EOF'
rspamd_config.PORTCULLIS_SEEN = {
	callback = function(task)
		return task:get_header('X-Portcullis') ~= nil
	end,
	score = 0.0,
	description = 'the message carries X-Portcullis'
}
EOF
	chmod -R a+rX "$RS_DIR/conf"
	chown _rspamd "$RS_DIR/db" "$RS_DIR/run" "$RS_DIR/log" || return 1
}

rspamd_listening() { pf_port_busy "$RS_PORT" || ! kill -0 "$RS_PID" 2>/dev/null; }

rspamd_start() {
	rspamd -f -u _rspamd -g _rspamd -c "$RS_DIR/conf/rspamd.conf" \
	    --var "LOCAL_CONFDIR=$RS_DIR/conf" --var "DBDIR=$RS_DIR/db" \
	    --var "RUNDIR=$RS_DIR/run" --var "LOGDIR=$RS_DIR/log" \
	    </dev/null >"$RS_DIR/rspamd.out" 2>&1 &
	RS_PID=$!
	# Loading the stock rules (Lua) takes 20 to 80 s on a busy 2-core
	# machine: twice the ring's usual bound for this one wait.
	wait_until $((2 * PORTCULLIS_TEST_WAIT)) rspamd_listening
	pf_port_busy "$RS_PORT" || {
		echo "# rspamd did not listen on 127.0.0.1:$RS_PORT:"
		tail -n 20 "$RS_DIR/rspamd.out" "$RS_DIR/log/rspamd.log" \
		    2>/dev/null | sed 's/^/#   /'
		return 1
	}
}

rspamd_gone() { ! kill -0 "$RS_PID" 2>/dev/null; }

rspamd_stop() {		# its main process stops its workers
	[ -n "$RS_PID" ] || return 0
	kill -TERM "$RS_PID" 2>/dev/null
	wait_until "$PORTCULLIS_TEST_WAIT" rspamd_gone
	kill -KILL "$RS_PID" 2>/dev/null
	{ wait "$RS_PID"; } 2>/dev/null
	RS_PID=""
}

# rs_send NAME FILE: to the chained smtpd, as the outside client the ring
# poses as (XCLIENT): rspamd adds no headers to mail from its local
# networks (127.0.0.0/8).
rs_send() {
	SEND_PORT=$RS_SMTP send "$1" "$2" -- \
	    --xclient "ADDR=$CLIENT_ADDR NAME=mail.outside.test"
}

# make_gtube FILE: the GTUBE test string (put together from two halves).
make_gtube() {
	printf '%s%s\n' 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-' \
	    'ANTI-UBE-TEST-EMAIL*C.34X' > "$1"
}

# rs_log_has TEXT: rspamd's log names TEXT.
rs_log_has() { grep -qF -- "$1" "$RS_DIR/log/rspamd.log" 2>/dev/null; }

# header_of FILE NAME: the first NAME header of FILE, unfolded.
header_of() {
	awk -v h="$2:" 'tolower(substr($0, 1, length(h))) == tolower(h) {
		v = $0; in_h = 1; next }
	    in_h && /^[ \t]/ { sub(/^[ \t]+/, " "); v = v $0; next }
	    in_h { exit } END { print v }' "$1"
}

rspamd_cases() {
	if ! command -v rspamd >/dev/null 2>&1; then
		notok "rspamd: not installed (test/lib.sh need_packages)"
		return 0
	fi
	if ! getent passwd _rspamd >/dev/null; then
		notok "rspamd: no user _rspamd (the Debian package makes it)"
		return 0
	fi
	rspamd_setup || { notok "rspamd: private setup in $T/rspamd"; return 0; }
	_t0=$(date +%s)
	if ! rspamd_start; then
		notok "rspamd: start on 127.0.0.1:$RS_PORT"
		return 0
	fi
	ok "rspamd $(rspamd --version | awk '{ print $NF }') in milter mode on 127.0.0.1:$RS_PORT (listening after $(($(date +%s) - _t0)) s)"

	# The chain: a listener of the ring's Postfix with both milters.
	RS_SMTP=$((RS_PORT + 1))
	while ! rs_port_free "$RS_SMTP"; do
		RS_SMTP=$((RS_SMTP + 1))
	done
	pf_add_listener "$RS_SMTP" \
	    "smtpd_milters=unix:$SOCK,inet:127.0.0.1:$RS_PORT"
	pf_reload
	if ! pf_wait_port "$RS_SMTP" 20; then
		notok "rspamd: Postfix listener on 127.0.0.1:$RS_SMTP"
		return 0
	fi

	# GTUBE: Portcullis accepts it (no virus, no attachment), rspamd
	# refuses it with its reply.
	make_gtube "$T/gtube.txt"
	mkmsg "$T/msg/gtube" gtube@example.net gtube@example.com "gtube-$RUN"
	cat "$T/gtube.txt" >> "$T/msg/gtube"
	rs_send gtube "$T/msg/gtube"
	expect "rspamd GTUBE: reply \"$REPLY_LINE\" is rspamd's 554 5.7.1" \
	    grep -qE '^554 5\.7\.1 (Gtube pattern|Spam message rejected)' \
	    <<<"$REPLY_LINE"
	_q=$(reject_qid gtube)
	_l=""
	[ -n "$_q" ] && _l=$(log_line "$_q")
	expect "rspamd GTUBE: Portcullis accepted it first (its line for ${_q:-?}: action=accept)" \
	    grep -q 'action=accept' <<<"$_l"
	wait_until "$PORTCULLIS_TEST_WAIT" rs_log_has "gtube-$RUN@example.net"
	expect "rspamd GTUBE: rspamd's verdict is reject, symbol GTUBE" \
	    grep -qE "from: <gtube-$RUN@example.net>.*\(reject\).*GTUBE" \
	    "$RS_DIR/log/rspamd.log"
	sleep 1		# a negative check: give a wrong delivery a moment
	expect "rspamd GTUBE: not delivered" \
	    test "$(token_count "gtube-$RUN")" -eq 0
	row "chain: GTUBE" "$REPLY_LINE" no "${_l:-none}"

	# EICAR: Portcullis refuses it; rspamd is never asked for a verdict.
	mkmsg "$T/msg/rseicar" rseicar@example.net rseicar@example.com \
	    "rseicar-$RUN" "$EICAR_FILE" readme.txt text/plain
	rs_send rseicar "$T/msg/rseicar"
	expect "rspamd EICAR: reply \"$REPLY_LINE\" is Portcullis's 554 5.7.1 with the virus name" \
	    grep -qE '^554 5\.7\.1 Virus found: .*EICAR' <<<"$REPLY_LINE"
	_q=$(reject_qid rseicar)
	_l=""
	[ -n "$_q" ] && _l=$(log_line "$_q")
	expect "rspamd EICAR: Portcullis's line for ${_q:-?} says action=reject reason=virus" \
	    grep -qE 'action=reject.*reason=virus' <<<"$_l"
	expect "rspamd EICAR: rspamd never scanned it" \
	    test -n "$_q" -a "$(grep -c "rseicar-$RUN@" "$RS_DIR/log/rspamd.log")" -eq 0
	expect "rspamd EICAR: not delivered" \
	    test "$(token_count "rseicar-$RUN")" -eq 0
	row "chain: EICAR" "$REPLY_LINE" no "${_l:-none}"

	# Clean mail: delivered once, with X-Portcullis and rspamd's headers.
	mkmsg "$T/msg/rsclean" rsclean@example.net rsclean@example.com \
	    "rsclean-$RUN"
	rs_send rsclean "$T/msg/rsclean"
	expect "rspamd clean: reply \"$REPLY_LINE\" is 250" \
	    grep -q '^250' <<<"$REPLY_LINE"
	_f=$(wait_token "rsclean-$RUN")
	expect "rspamd clean: delivered exactly once" \
	    test "$(token_count "rsclean-$RUN")" -eq 1
	_xp=$(header_of "${_f:-/dev/null}" X-Portcullis)
	_xr=$(header_of "${_f:-/dev/null}" X-Spamd-Result)
	expect "rspamd clean: X-Portcullis (\"$_xp\")" \
	    grep -q '^X-Portcullis: clean' <<<"$_xp"
	expect "rspamd clean: rspamd's X-Spamd-Result and X-Rspamd-Server" \
	    test -n "$_xr" -a -n "$(header_of "${_f:-/dev/null}" X-Rspamd-Server)"
	expect "rspamd clean: X-Rspamd-Queue-Id is Postfix's queue id $QID" \
	    grep -q "^X-Rspamd-Queue-Id: $QID\$" <<<"$(header_of "${_f:-/dev/null}" X-Rspamd-Queue-Id)"
	# Portcullis runs first: rspamd judged the message with its header.
	expect "rspamd clean: rspamd saw Portcullis's header (PORTCULLIS_SEEN in X-Spamd-Result)" \
	    grep -q 'PORTCULLIS_SEEN' <<<"$_xr"
	_l=""
	[ -n "$QID" ] && _l=$(log_line "$QID")
	expect "rspamd clean: Portcullis's line for $QID says action=accept" \
	    grep -q 'action=accept' <<<"$_l"
	row "chain: clean" "$REPLY_LINE" "${_f:+yes, once}" "${_l:-none}"

	# What each filter costs per message, on the same clean messages:
	# Portcullis's ms= against rspamd's time: (both as they log them).
	_n=0
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		mkmsg "$T/msg/rscost$_i" rscost@example.net rscost@example.com \
		    "rscost$_i-$RUN"
		rs_send "rscost$_i" "$T/msg/rscost$_i"
		case $REPLY_LINE in 250*) _n=$((_n + 1)) ;; esac
	done
	wait_until "$PORTCULLIS_TEST_WAIT" rs_log_has "rscost10-$RUN@"
	_pc=$(grep -E "from=<rscost[0-9]+-$RUN@" "$T/daemon.log" |
	    sed -nE 's/.* ms=([0-9]+).*/\1/p' | sort -n | awk '
	    { v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
	_rs=$(grep -E "from: <rscost[0-9]+-$RUN@" "$RS_DIR/log/rspamd.log" |
	    sed -nE 's/.*time: ([0-9.]+)ms.*/\1/p' | sort -n | awk '
	    { v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
	expect "rspamd cost: 10 clean messages through the chain ($_n accepted); median per message: Portcullis ${_pc:-?} ms, rspamd ${_rs:-?} ms (no network checks)" \
	    test "$_n" -eq 10 -a -n "$_pc" -a -n "$_rs"
	row "chain: cost of 10 clean" "$_n x 250" "-" \
	    "median ms: portcullis ${_pc:-?}, rspamd ${_rs:-?}"
	rspamd_stop
}
