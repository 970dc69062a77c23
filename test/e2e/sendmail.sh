# test/e2e/sendmail.sh - a private Sendmail for the e2e ring (sourced by
# test/e2e/run, which defines ok/notok/expect/send/row and $T, $SOCK,
# $PF_SINKPORT, $PF_SINKDIR).
#
# Debian's sendmail-bin conflicts with postfix as an installed package, so
# the .debs are fetched with "apt-get download" and unpacked into $T with
# dpkg-deb -x; nothing is installed. Sendmail runs in the foreground (-bD)
# with its own generated .cf: SMTP on 127.0.0.1:SMPORT only (no MSA), its own
# queue, and everything relayed to the ring's smtp-sink. Portcullis is its
# milter exactly as docs/INTEGRATION.md says:
#   INPUT_MAIL_FILTER(`portcullis', `S=unix:SOCK, F=T, T=S:4m;R:4m;E:10m')
#
# Sendmail insists on a fully qualified host name before it reads its .cf
# (else it sleeps 60 s). So it runs, where it can, in private UTS and mount
# namespaces (unshare) with the host name mta.portcullis.test and a private
# /etc/hosts naming it, bind-mounted over the real one only inside that
# namespace. The smart host is written relay:[127.0.0.1]: a bare
# [127.0.0.1] would count as this host and be dropped.

SM_DIR=""
SMPID=""

sendmail_setup() {	# sendmail_setup PORT: 0 ok, 1 failed, 2 unavailable
	SM_DIR=$T/sendmail
	SM_PORT=$1
	SM_ROOT=$SM_DIR/root
	mkdir -p "$SM_DIR/debs" "$SM_ROOT" "$SM_DIR/queue"
	chmod 0700 "$SM_DIR/queue"
	# Empty package lists (a fresh container whose packages were all
	# there already) are refreshed once.
	if ! (cd "$SM_DIR/debs" && timeout 120 apt-get download -q \
	    sendmail-bin sendmail-base sendmail-cf >"$SM_DIR/download.log" 2>&1) &&
	    ! { timeout 300 apt-get update -q >>"$SM_DIR/download.log" 2>&1 &&
	    (cd "$SM_DIR/debs" && timeout 120 apt-get download -q \
	    sendmail-bin sendmail-base sendmail-cf >>"$SM_DIR/download.log" 2>&1); }
	then
		echo "# sendmail: apt-get download failed (no Debian mirror?):"
		tail -n 3 "$SM_DIR/download.log" | sed 's/^/#   /'
		return 2
	fi
	for d in "$SM_DIR"/debs/*.deb; do
		dpkg-deb -x "$d" "$SM_ROOT" || return 1
	done
	SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
	SM_CF=$SM_ROOT/usr/share/sendmail/cf
	[ -x "$SM_BIN" ] || { echo "# sendmail: no binary in the .deb"; return 1; }
	if ldd "$SM_BIN" | grep -q 'not found'; then
		echo "# sendmail: missing libraries:" \
		    "$(ldd "$SM_BIN" | grep 'not found' | tr -s ' \t' ' ')"
		return 1
	fi
	command -v m4 >/dev/null && command -v unshare >/dev/null || {
		echo "# sendmail: m4 or unshare missing"
		return 1
	}
	printf '127.0.0.1 mta.portcullis.test localhost\n' > "$SM_DIR/hosts"
	printf 'hosts files\naliases files\n' > "$SM_DIR/service.switch"
	: > "$SM_DIR/aliases"
	: > "$SM_DIR/statistics"
	cat > "$SM_DIR/e2e.mc" <<EOF
divert(-1)
# Private Sendmail for the Portcullis e2e ring; relays everything to the sink.
divert(0)dnl
VERSIONID(\`portcullis e2e')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mta.portcullis.test')dnl
define(\`QUEUE_DIR', \`$SM_DIR/queue')dnl
define(\`STATUS_FILE', \`$SM_DIR/statistics')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$SM_DIR/aliases')dnl
define(\`HELP_FILE', \`$SM_DIR/helpfile')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl
define(\`confHOSTS_FILE', \`$SM_DIR/hosts')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confLOG_LEVEL', \`9')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $PF_SINKPORT')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $PF_SINKPORT')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$SM_PORT, Name=MTA')dnl
INPUT_MAIL_FILTER(\`portcullis', \`S=unix:$SOCK, F=T, T=S:4m;R:4m;E:10m')dnl
MAILER(\`smtp')dnl
EOF
	m4 -D_CF_DIR_="$SM_CF/" "$SM_CF/m4/cf.m4" "$SM_DIR/e2e.mc" \
	    > "$SM_DIR/sendmail.cf" 2>"$SM_DIR/m4.log" || {
		echo "# sendmail: m4 failed: $(head -n 3 "$SM_DIR/m4.log")"
		return 1
	}
}

sendmail_start() {
	_run="exec '$SM_BIN' -C '$SM_DIR/sendmail.cf' -bD -q30s"
	_wait=30
	if unshare --uts --mount sh -c \
	    "mount --bind '$SM_DIR/hosts' /etc/hosts" 2>/dev/null; then
		_ns="unshare --uts --mount"
		_run="mount --bind '$SM_DIR/hosts' /etc/hosts &&
		    hostname mta.portcullis.test && $_run"
	elif unshare --uts true 2>/dev/null; then
		_ns="unshare --uts"
		_run="hostname mta.portcullis.test && $_run"
	else
		# No namespaces (an unprivileged container): Sendmail may sleep
		# 60 s over an unqualified host name before it listens.
		echo "# sendmail: no private namespaces; start may take 60 s"
		_ns=""
		_wait=100
	fi
	$_ns sh -c "$_run" </dev/null >"$SM_DIR/sendmail.out" 2>&1 &
	SMPID=$!
	pf_wait_port "$SM_PORT" "$_wait" || {
		echo "# sendmail did not listen on $SM_PORT:"
		sed 's/^/#   /' "$SM_DIR/sendmail.out"
		return 1
	}
}

sendmail_stop() {
	[ -n "$SMPID" ] || return 0
	kill -TERM "$SMPID" 2>/dev/null
	wait_until "$PORTCULLIS_TEST_WAIT" sendmail_gone
	kill -KILL "$SMPID" 2>/dev/null
	wait "$SMPID" 2>/dev/null
	SMPID=""
}

sendmail_gone() { ! kill -0 "$SMPID" 2>/dev/null; }

# new_log_lines N: daemon log lines after line N.
new_log_lines() { tail -n +"$(($1 + 1))" "$T/daemon.log"; }
# new_reject N: a line after line N says action=reject.
new_reject() { new_log_lines "$1" | grep -q 'action=reject'; }

sendmail_cases() {
	_p=$((PF_PORT + 2))
	while pf_port_busy "$_p" || pf_port_busy $((_p + 1)); do
		_p=$((_p + 1))
	done
	# As docs/INTEGRATION.md sets it up for Sendmail: the socket in a
	# directory like /run/portcullis (0750 portcullis:portcullis) and
	# socket_group = portcullis.
	daemon_stop
	chmod 0750 "$T/run"
	SOCK=$T/run/portcullis.sock
	daemon_start -o daemon.socket_group=portcullis ||
	    { notok "sendmail: daemon on $SOCK"; return 0; }
	sendmail_setup "$_p"
	case $? in
	0) ;;
	2)
		echo "# SKIP sendmail: the sendmail .debs could not be downloaded"
		row "sendmail" "skipped: no Debian mirror" "-" "-"
		return 0
		;;
	*)
		notok "sendmail: private setup"
		return 0
		;;
	esac
	if ! sendmail_start; then
		notok "sendmail: start on 127.0.0.1:$SM_PORT"
		return 0
	fi
	if ! SEND_PORT=$SM_PORT wait_ready; then
		notok "sendmail: no 250 through Sendmail and the daemon"
		return 0
	fi
	# (Not "sendmail -d0.1": outside the namespace it may wait 60 s.)
	ok "sendmail $(dpkg-deb -f "$SM_DIR"/debs/sendmail-bin_*.deb Version) on 127.0.0.1:$SM_PORT, milter F=T"

	mkmsg "$T/msg/smclean" smclean@example.net smclean@example.com \
	    "smclean-$RUN"
	SEND_PORT=$SM_PORT send smclean "$T/msg/smclean"
	expect "sendmail clean: reply \"$REPLY_LINE\" is 250" \
	    grep -q '^250' <<<"$REPLY_LINE"
	_q=$(awk '{ print $3 }' <<<"$REPLY_LINE")
	_f=$(wait_token "smclean-$RUN")
	expect "sendmail clean: relayed to the sink with an X-Portcullis header" \
	    grep -q '^X-Portcullis:' "${_f:-/dev/null}"
	_l=$(log_line "$_q")
	expect "sendmail clean: log line with Sendmail's queue id $_q" \
	    grep -q "action=accept" <<<"$_l"
	row "sendmail: clean" "$REPLY_LINE" "${_f:+yes}" "${_l:-none}"

	_before=$(wc -l < "$T/daemon.log")
	mkmsg "$T/msg/smeicar" smeicar@example.net smeicar@example.com \
	    "smeicar-$RUN" "$EICAR_FILE" readme.txt text/plain
	SEND_PORT=$SM_PORT send smeicar "$T/msg/smeicar"
	expect "sendmail EICAR: reply \"$REPLY_LINE\" is 554 5.7.1 with the virus name" \
	    grep -qE '^554 5\.7\.1 .*EICAR' <<<"$REPLY_LINE"
	wait_until "$PORTCULLIS_TEST_WAIT" new_reject "$_before"
	sleep 1		# a negative check: give a wrong relay a moment
	expect "sendmail EICAR: not relayed" \
	    test "$(token_count "smeicar-$RUN")" -eq 0
	_l=$(new_log_lines "$_before" | grep 'action=reject' | tail -n 1)
	expect "sendmail EICAR: log line with action=reject and virus" \
	    grep -q 'virus' <<<"$_l"
	row "sendmail: EICAR" "$REPLY_LINE" no "${_l:-none}"

	mkmsg "$T/msg/smzip" smzip@example.net smzip@example.com \
	    "smzip-$RUN" "$T/invoice.zip" invoice.zip application/zip
	SEND_PORT=$SM_PORT send smzip "$T/msg/smzip"
	expect "sendmail zipped .exe: reply \"$REPLY_LINE\" is 5xx 5.7.1" \
	    grep -qE '^5[0-9][0-9] 5\.7\.1' <<<"$REPLY_LINE"
	row "sendmail: zipped .exe" "$REPLY_LINE" \
	    "$([ "$(token_count "smzip-$RUN")" -eq 0 ] && echo no || echo YES)" \
	    "$(grep 'action=reject' "$T/daemon.log" | tail -n 1)"

	# F=T: with the milter down Sendmail tempfails instead of failing open.
	daemon_stop
	mkmsg "$T/msg/smdown" smdown@example.net smdown@example.com \
	    "smdown-$RUN"
	SEND_PORT=$SM_PORT send smdown "$T/msg/smdown"
	expect "sendmail, daemon stopped: \"$REPLY_LINE\" is 4xx (F=T, not fail-open)" \
	    grep -q '^4' <<<"$REPLY_LINE"
	row "sendmail: daemon stopped" "$REPLY_LINE" \
	    "$([ "$(token_count "smdown-$RUN")" -eq 0 ] && echo no || echo YES)" "-"
	sendmail_stop
}
