# test/e2e/alerts.sh - the e2e case of [alerts] (sourced by test/e2e/run,
# which defines ok/notok/expect/row/write_policy/wait_token/token_count/
# log_count/log_more and $T, $DPID, $PF_PORT, $PF_SINKDIR).
#
# A real condition: the spool's file system has less free space than
# disk_free = 100 (percent) asks for. The running daemon is given that
# policy by SIGHUP; its alert goes through [notify] sendmail, here a
# stand-in that submits over SMTP to the private Postfix (Postfix's own
# sendmail cannot use a private configuration directory unless it runs as
# root, and the daemon runs as its own user), so the alert is judged by
# the daemon like any mail and arrives at the sink. It must arrive once
# within the period, through several checks; a reload with a passing
# threshold clears it, and the recovery notice arrives. The test policy
# is put back at the end.

# alert_reload TEXT: the test policy plus TEXT, by SIGHUP, waiting for the
# daemon to say it reloaded.
alert_reload() {
	_ar_n=$(log_count "event=reload what=policy result=ok signal=SIGHUP")
	write_policy "$T/policy.ini" "$1"
	kill -HUP "$DPID"
	wait_until "$PORTCULLIS_TEST_WAIT" log_more "event=reload what=policy result=ok signal=SIGHUP" \
	    "$_ar_n"
}

alert_policy() {	# alert_policy DISK_FREE
	cat <<EOF

[daemon]
log_level = diagnostic

[notify]
sendmail = $T/alert-sendmail
server_tag = [e2e-$RUN]

[alerts]
mail_to = alerts@example.com
interval = 1s
period = 1h
signature_age = 0
queue_size = 0
disk_free = $1
EOF
}

alert_cases() {
	cat > "$T/alert-sendmail" <<EOF
#!/usr/bin/python3
# e2e stand-in for sendmail(1) -i -f FROM -- RCPT...: SMTP to the private
# Postfix on 127.0.0.1:$PF_PORT (LF line endings become CRLF).
import smtplib, sys
args = sys.argv[1:]
sender = args[args.index("-f") + 1] if "-f" in args else ""
rcpts = args[args.index("--") + 1:] if "--" in args else []
data = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
with smtplib.SMTP("127.0.0.1", $PF_PORT, timeout=60) as s:
    s.sendmail(sender, rcpts, data)
EOF
	chmod 0755 "$T/alert-sendmail"

	if alert_reload "$(alert_policy 100)"; then
		ok "alerts: policy with disk_free = 100 reloaded"
	else
		notok "alerts: reload with disk_free = 100"
		return
	fi
	_tag="\\[e2e-$RUN\\] ALERT: spool disk nearly full"
	_f=$(wait_token "$_tag")
	expect "alerts: the alert mail arrived at the sink${_f:+ (${_f#$T/})}" \
	    test -n "$_f"
	expect "alerts: it names value and threshold" \
	    grep -qE "^Subject: .*: [0-9]+\.[0-9]% free \(threshold 100\.0% free\)" \
	    "${_f:-/dev/null}"
	expect "alerts: it was judged by the daemon on its way (X-Portcullis)" \
	    grep -q '^X-Portcullis:' "${_f:-/dev/null}"
	expect "alerts: it went to mail_to" \
	    grep -qE '^X-Rcpt-Args: .*alerts@example\.com' "${_f:-/dev/null}"
	_l=$(grep 'event=alert state=raised kind=spool_disk' "$T/daemon.log" | tail -n 1)
	expect "alerts: logged with value and threshold (\"${_l#*: }\")" \
	    grep -qE 'value=[0-9.]+% threshold=100\.0% mail=yes' <<<"$_l"
	row "alert: spool disk_free = 100" "(alert mail)" "${_f:+yes}" \
	    "${_l:-none}"

	# three more checks: not mailed again within the period
	_n=$(log_count "event=alert state=checked")
	wait_until "$PORTCULLIS_TEST_WAIT" log_more "event=alert state=checked" \
	    $((_n + 2))
	expect "alerts: one alert mail through three more checks (got $(token_count "$_tag"))" \
	    test "$(token_count "$_tag")" -eq 1
	expect "alerts: raised once in the log" \
	    test "$(log_count "event=alert state=raised kind=spool_disk")" -eq 1

	if alert_reload "$(alert_policy 1)"; then
		ok "alerts: policy with disk_free = 1 reloaded"
	else
		notok "alerts: reload with disk_free = 1"
	fi
	_r="\\[e2e-$RUN\\] RECOVERED: spool disk nearly full"
	_f=$(wait_token "$_r")
	expect "alerts: the recovery notice arrived${_f:+ (${_f#$T/})}" \
	    test -n "$_f"
	_l=$(grep 'event=alert state=cleared kind=spool_disk' "$T/daemon.log" | tail -n 1)
	expect "alerts: cleared in the log (\"${_l#*: }\")" \
	    grep -q 'threshold=1\.0% mail=yes' <<<"$_l"
	expect "alerts: still one alert mail (got $(token_count "$_tag"))" \
	    test "$(token_count "$_tag")" -eq 1
	row "alert: reload, disk_free = 1" "(recovery mail)" "${_f:+yes}" \
	    "${_l:-none}"

	if alert_reload ""; then
		ok "alerts: daemon back on the test policy"
	else
		notok "alerts: reload of the test policy"
	fi
}
