# test/e2e/policy.sh - the e2e cases of the policy features (sourced by
# test/e2e/run after its overlay phase; it defines ok/notok/expect/send/
# row/write_policy/daemon_restart/reject_qid/wait_token and $T, $RUN,
# $PORTCULLIS, $PF_SINKDIR, $EICAR_FILE, $AV).
#
#   policy_cases   runs them all and leaves the daemon on the test policy:
#     passwords    encrypted zips (ZipCrypto and AES-256, made here with zip
#                  and 7z) holding EICAR, an .exe or a clean document, the
#                  password in the body in several languages: refused by
#                  the payload's rule, or delivered tagged encrypted_opened,
#                  the log saying where the password came from; a wrong
#                  password stays encrypted; a password-protected 7z stays
#                  encrypted and says why
#     content      an overlay changes a [content:NAME] rule's action
#                  (accept) or switches it off
#     replay       "portcullis replay" over the sink's copies and over the
#                  quarantine area this phase filled, with two policies
#     rescan       "portcullisctl rescan" after a signature update that
#                  withdraws a (false-positive) signature: that message,
#                  and only it, is listed for release
#     templates    a stripped part's replacement from replacement_file
#                  and the postmaster's notice from admin_template, each
#                  with its variables, through real Postfix to the sink
#
# Quarantine area of this phase: e2e-policy (its records only).

POL_AREA=e2e-policy
POL_FP_MARK="portcullis-e2e-false-positive-marker"

# pol_msg OUT SUBJECT TEXT [FILE NAME TYPE]: a message with a UTF-8 text
# part (8bit) and, optionally, one base64 attachment.
pol_msg() {
	_pm_out=$1 _pm_subj=$2 _pm_text=$3
	shift 3
	_pm_b="=_portcullis_policy_$$_$RANDOM"
	{
		printf 'From: <sender@example.net>\nTo: <rcpt@example.com>\n'
		printf 'Subject: %s\nDate: %s\n' "$_pm_subj" "$(date -R)"
		printf 'Message-ID: <%s.%s@policy.portcullis.test>\n' \
		    "$_pm_subj" "$$"
		printf 'MIME-Version: 1.0\n'
		if [ $# -lt 3 ]; then
			printf 'Content-Type: text/plain; charset=utf-8\n'
			printf 'Content-Transfer-Encoding: 8bit\n\n%s\n' \
			    "$_pm_text"
		else
			printf 'Content-Type: multipart/mixed; boundary="%s"\n\n' \
			    "$_pm_b"
			printf -- '--%s\nContent-Type: text/plain; charset=utf-8\n' \
			    "$_pm_b"
			printf 'Content-Transfer-Encoding: 8bit\n\n%s\n\n' \
			    "$_pm_text"
			printf -- '--%s\nContent-Type: %s; name="%s"\n' "$_pm_b" \
			    "$3" "$2"
			printf 'Content-Disposition: attachment; filename="%s"\n' \
			    "$2"
			printf 'Content-Transfer-Encoding: base64\n\n'
			base64 -w 76 < "$1"
			printf -- '\n--%s--\n' "$_pm_b"
		fi
	} > "$_pm_out"
}

# pol_lines QID: every daemon log line about that message.
pol_lines() { grep -E "[: ]$1: " "$T/daemon.log"; }
# pol_verdict QID: the verdict line (waits for it, bounded).
pol_verdict() {
	_pv_qid=$1
	wait_until "$PORTCULLIS_TEST_WAIT" pol_verdict_logged || return 1
	echo "$_pv"
}
pol_verdict_logged() {
	_pv=$(pol_lines "$_pv_qid" | grep ' dir=' | grep ' action=' |
	    tail -n 1)
	[ -n "$_pv" ]
}
# pol_xpc FILE: its X-Portcullis header, unfolded.
pol_xpc() {
	awk '/^X-Portcullis:/ { h = $0; in_h = 1; next }
	    in_h && /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
	    { in_h = 0 } END { print h }' "$1"
}

# pol_reject NAME FILE CODE-RE VERDICT-RE [LOG-RE]: refused at end of
# data with a reply matching CODE-RE, not delivered, the verdict line
# matching VERDICT-RE and (if given) some line of the message's log
# matching LOG-RE. Sets POL_QID and POL_VERDICT (the verdict line).
pol_reject() {
	_pr_name=$1 _pr_file=$2 _pr_code=$3 _pr_vre=$4 _pr_lre=${5:-}
	send "$_pr_name" "$_pr_file"
	expect "$_pr_name: reply \"$REPLY_LINE\" matches /$_pr_code/" \
	    grep -qE "$_pr_code" <<<"$REPLY_LINE"
	POL_QID=$(reject_qid "$_pr_name")
	_pr_v=""
	[ -n "$POL_QID" ] && _pr_v=$(pol_verdict "$POL_QID")
	POL_VERDICT=$_pr_v
	expect "$_pr_name: verdict line of ${POL_QID:-?} matches /$_pr_vre/ (\"$_pr_v\")" \
	    grep -qE "$_pr_vre" <<<"$_pr_v"
	if [ -n "$_pr_lre" ]; then
		expect "$_pr_name: the log of ${POL_QID:-?} says /$_pr_lre/" \
		    grep -qE "$_pr_lre" <<<"$(pol_lines "${POL_QID:-none}")"
	fi
	_pr_subj=$(sed -n 's/^Subject: //p' "$_pr_file" | head -n 1)
	expect "$_pr_name: not delivered" \
	    test "$(token_count "$_pr_subj")" -eq 0
	row "$_pr_name" "$REPLY_LINE" no "${_pr_v:-none}"
}

# pol_deliver NAME FILE RCPT XPC-RE VERDICT-RE: accepted and delivered,
# its X-Portcullis header matching XPC-RE and the verdict line VERDICT-RE.
# Sets POL_FILE (the sink's copy).
pol_deliver() {
	_pd_name=$1 _pd_file=$2 _pd_rcpt=$3 _pd_xre=$4 _pd_vre=$5
	send "$_pd_name" "$_pd_file" "$_pd_rcpt"
	expect "$_pd_name: reply \"$REPLY_LINE\" is 250" \
	    grep -q '^250' <<<"$REPLY_LINE"
	_pd_subj=$(sed -n 's/^Subject: //p' "$_pd_file" | head -n 1)
	POL_FILE=$(wait_token "$_pd_subj")
	_pd_x=$(pol_xpc "${POL_FILE:-/dev/null}")
	expect "$_pd_name: delivered, X-Portcullis matches /$_pd_xre/ (\"$_pd_x\")" \
	    grep -qE "$_pd_xre" <<<"$_pd_x"
	_pd_v=""
	[ -n "$QID" ] && _pd_v=$(pol_verdict "$QID")
	expect "$_pd_name: verdict line of ${QID:-?} matches /$_pd_vre/ (\"$_pd_v\")" \
	    grep -qE "$_pd_vre" <<<"$_pd_v"
	row "$_pd_name" "$REPLY_LINE" "${POL_FILE:+yes}" "${_pd_v:-none}"
}

policy_cases() {
	_pc_ctl=$(dirname "$PORTCULLIS")/portcullisctl
	_pc_d=$T/policy-e2e
	mkdir -p "$_pc_d"

	# A signature that (falsely) matches a harmless text, withdrawn by
	# the "update" of the rescan case below.
	printf 'Portcullis.E2E.FalsePositive:0:*:%s\n' \
	    "$(printf '%s' "$POL_FP_MARK" | od -An -tx1 | tr -d ' \n')" \
	    > "$T/sigs/e2e-fp.ndb"

	# The test policy, viruses quarantined in this phase's own area,
	# every finding logged (log_level = diagnostic), one content rule and
	# two overlays that change it.
	write_policy "$T/policy.ini" '
[daemon]
log_level = diagnostic

[content:invoices]
header = Subject
pattern = invoice [0-9]+
nocase = yes

[policy:partner]
content.invoices = accept

[policy:quiet]
content.invoices = off

[select:inbound]
inv-p@example.com = partner
inv-q@example.com = quiet'
	sed -i "s/^quarantine = virus\$/quarantine = $POL_AREA/" \
	    "$T/policy.ini"
	cp "$T/policy.ini" "$_pc_d/old.ini"
	if daemon_restart; then
		ok "policy: daemon restarted (content rule, two overlays, a false-positive signature)"
	else
		notok "policy: daemon restart"
		return
	fi

	# ---- password-protected archives ----
	(cd "$_pc_d" && rm -f ./*.zip ./*.7z &&
	    cp "$EICAR_FILE" eicar.txt && cp "$T/setup.exe" setup.exe &&
	    cp "$T/report.pdf" report.pdf &&
	    zip -q -P "Tq7mZp2" zc-eicar.zip eicar.txt &&
	    7z a -tzip -mem=AES256 -p"Geh31m-42" -bd aes-exe.zip setup.exe &&
	    zip -q -P "Fr4nc3" zc-eicar-fr.zip eicar.txt &&
	    zip -q -P "right-one" zc-wrong.zip eicar.txt &&
	    7z a -tzip -mem=AES256 -p"Secreto-77" -bd aes-pdf.zip report.pdf &&
	    7z a -p"Zp7vQ2" -mhe=on -bd hdr.7z eicar.txt) \
	    > "$_pc_d/make.log" 2>&1 ||
	    { notok "policy: encrypted archives (zip, 7z): $(tail -n 3 "$_pc_d/make.log")"; return; }

	pol_msg "$T/msg/pw1" "pw-zipcrypto-$RUN" "Hello,

the invoice is attached. The password is: Tq7mZp2" \
	    "$_pc_d/zc-eicar.zip" invoice.zip application/zip
	pol_reject pw-zipcrypto-eicar "$T/msg/pw1" '^554 5\.7\.1 Virus found: .*EICAR' \
	    'action=reject reason=virus .*part=2/invoice\.zip/eicar\.txt' \
	    'finding rule=encrypted_opened .*detail="opened with a password from the text of part 1"'

	pol_msg "$T/msg/pw2" "pw-aes-exe-$RUN" "Guten Tag,

anbei die Rechnung. Das Passwort lautet: Geh31m-42" \
	    "$_pc_d/aes-exe.zip" rechnung.zip application/zip
	pol_reject pw-aes256-exe-de "$T/msg/pw2" '^5[0-9][0-9] 5\.7\.1' \
	    'action=reject reason=blocked_(extension|type) .*part=2/rechnung\.zip/setup\.exe' \
	    'finding rule=encrypted_opened .*part=2 .*detail="opened with a password from the text of part 1"'

	pol_msg "$T/msg/pw3" "pw-quoted-fr-$RUN" "Bonjour,

voici la facture ; le mot de passe est « Fr4nc3 »." \
	    "$_pc_d/zc-eicar-fr.zip" facture.zip application/zip
	pol_reject pw-zipcrypto-eicar-fr "$T/msg/pw3" '^554 5\.7\.1 Virus found: .*EICAR' \
	    'action=reject reason=virus .*part=2/facture\.zip/eicar\.txt' \
	    'finding rule=encrypted_opened .*detail="opened with a password from the text of part 1"'

	pol_msg "$T/msg/pw4" "pw-wrong-$RUN" "Hello,

Password: wrong-one" "$_pc_d/zc-wrong.zip" invoice.zip application/zip
	pol_reject pw-wrong-password "$T/msg/pw4" '^5[0-9][0-9] 5\.7\.1' \
	    'action=reject reason=encrypted .*part=2/invoice\.zip/eicar\.txt' \
	    'event=explain text="part 2: encrypted; [0-9]+ of [0-9]+ candidate passwords tried, none opens it'
	expect "pw-wrong-password: no encrypted_opened in its log" \
	    test -z "$(pol_lines "${POL_QID:-none}" | grep encrypted_opened)"

	pol_msg "$T/msg/pw5" "pw-7z-$RUN" "Hola,

la contraseña del archivo es: Zp7vQ2" "$_pc_d/hdr.7z" factura.7z \
	    application/x-7z-compressed
	pol_reject pw-7z-encrypted-headers "$T/msg/pw5" '^5[0-9][0-9] 5\.7\.1' \
	    'action=reject reason=encrypted detail="encrypted archive: 7z encryption is not supported by the archive library"'
	expect "pw-7z-encrypted-headers: no password tried, none said to open it" \
	    test -z "$(pol_lines "${POL_QID:-none}" | grep -E 'encrypted_opened|none opens it')"

	pol_msg "$T/msg/pw6" "pw-clean-$RUN" "Hola,

te envío el informe. La contraseña es: Secreto-77" \
	    "$_pc_d/aes-pdf.zip" informe.zip application/zip
	pol_deliver pw-aes256-clean-es "$T/msg/pw6" rcpt@example.com \
	    '^X-Portcullis: tag; encrypted_opened part=2 opened with a password from the text of part 1 ' \
	    'action=tag reason=encrypted_opened detail="opened with a password from the text of part 1" part=2 file=informe\.zip'
	pw_clean_copy=$POL_FILE

	# ---- content rules changed by overlays ----
	mkmsg "$T/msg/inv" inv@example.net inv-d@example.com "Invoice 4711 $RUN"
	send inv-default "$T/msg/inv" inv-d@example.com
	expect "content rule, file's action: \"$REPLY_LINE\" is 554 5.7.1 (content)" \
	    grep -qE '^554 5\.7\.1 .*content rule invoices matched Subject' \
	    <<<"$REPLY_LINE"
	_q=$(reject_qid inv-default)
	_l=$(pol_verdict "${_q:-none}")
	expect "content rule, file's action: verdict line names the rule (\"$_l\")" \
	    grep -qE 'action=reject reason=content detail="content rule invoices matched Subject"' \
	    <<<"$_l"
	row "content rule, no overlay" "$REPLY_LINE" no "${_l:-none}"
	mkmsg "$T/msg/invp" inv@example.net inv-p@example.com "Invoice 4712 $RUN"
	pol_deliver content-overlay-accept "$T/msg/invp" inv-p@example.com \
	    '^X-Portcullis: accept; content part= content rule invoices matched Subject; policy=partner ' \
	    'policy=partner reason=content detail="content rule invoices matched Subject"'
	mkmsg "$T/msg/invq" inv@example.net inv-q@example.com "Invoice 4713 $RUN"
	pol_deliver content-overlay-off "$T/msg/invq" inv-q@example.com \
	    '^X-Portcullis: clean; policy=quiet ' \
	    'dir=inbound action=accept policy=quiet'

	# ---- a false positive, quarantined ----
	pol_msg "$T/msg/fp" "fp-$RUN" "Hello,

the quarterly figures: $POL_FP_MARK"
	pol_reject false-positive "$T/msg/fp" \
	    '^554 5\.7\.1 Virus found: Portcullis\.E2E\.FalsePositive' \
	    'action=reject reason=virus sig=Portcullis\.E2E\.FalsePositive'
	_fpid=$(sed -nE 's/.* quarantine_id=([^ ]+).*/\1/p' <<<"$POL_VERDICT")

	# ---- replay over the sink's copies ----
	# What would a policy that trusts opened archives and blocks .xyz
	# change? The tagged pdf-in-zip goes tag -> accept, the .xyz
	# accept -> reject, the clean message stays.
	mkmsg "$T/msg/rpc" rp@example.net rp@example.com "rp-clean-$RUN"
	mkmsg "$T/msg/rpx" rp@example.net rp@example.com "rp-xyz-$RUN" \
	    "$T/notes.xyz" notes.xyz text/plain
	send rp-clean "$T/msg/rpc"
	send rp-xyz "$T/msg/rpx"
	mkdir -p "$_pc_d/sink"
	for _tok in "rp-clean-$RUN" "rp-xyz-$RUN"; do
		_f=$(wait_token "$_tok")
		[ -n "$_f" ] && cp "$_f" "$_pc_d/sink/$_tok.eml"
	done
	[ -n "${pw_clean_copy:-}" ] && cp "$pw_clean_copy" "$_pc_d/sink/pw-clean.eml"
	expect "replay: three sink copies to replay ($(ls "$_pc_d/sink" | wc -l))" \
	    test "$(ls "$_pc_d/sink" | wc -l)" -eq 3
	sed -e '/^\[rules\]$/a encrypted_opened = accept' \
	    -e '/^\[limits\]$/i [attachments]\nblocked_extensions = exe xyz\n' \
	    "$_pc_d/old.ini" > "$_pc_d/new.ini"
	"$PORTCULLIS" replay --policy "$_pc_d/new.ini" --against "$_pc_d/old.ini" \
	    --signatures "$T/sigs" "$_pc_d/sink" > "$_pc_d/replay.out" 2>&1
	_st=$?
	sed 's/^/# replay | /' "$_pc_d/replay.out"
	expect "replay over the sink: status $_st (0), 3 read, 3 judged, 2 changed, 0 not judged" \
	    grep -qE '^3 messages read, 3 judged, 2 changed, 0 not judged' \
	    "$_pc_d/replay.out"
	expect "replay over the sink: tag -> accept for the pdf in the opened zip" \
	    grep -qE "^tag -> accept  .*pw-clean\.eml\$" "$_pc_d/replay.out"
	expect "replay over the sink: accept -> reject for the .xyz" \
	    grep -qE "^accept -> reject  .*rp-xyz-$RUN\.eml\$" "$_pc_d/replay.out"
	expect "replay over the sink: the table counts 1 tag->accept, 1 accept->reject, 1 unchanged" \
	    test "$(grep -cE '^(tag +accept +1  changed|accept +reject +1  changed|accept +accept +1)$' "$_pc_d/replay.out")" -eq 3
	row "replay, 3 sink copies" "status $_st" - \
	    "$(grep -E '^[0-9]+ messages read' "$_pc_d/replay.out")"

	# ---- replay over the quarantine ----
	# The area holds the two viruses found in opened zips and the false
	# positive. Without the message's passwords the viruses are no
	# longer seen (the zips stay encrypted): still refused, but the
	# findings change; the false positive does not.
	sed '/^\[limits\]$/i [attachments]\nmessage_passwords = no\n' \
	    "$_pc_d/old.ini" > "$_pc_d/nopw.ini"
	"$PORTCULLIS" replay --policy "$_pc_d/nopw.ini" --against "$_pc_d/old.ini" \
	    --signatures "$T/sigs" --quarantine "$POL_AREA" \
	    > "$_pc_d/replay-q.out" 2>&1
	_st=$?
	sed 's/^/# replay | /' "$_pc_d/replay-q.out"
	expect "replay --quarantine $POL_AREA: status $_st (0), 3 read, 3 judged, 2 changed" \
	    grep -qE '^3 messages read, 3 judged, 2 changed, 0 not judged' \
	    "$_pc_d/replay-q.out"
	expect "replay --quarantine: each change is virus -> encrypted, still refused" \
	    test "$(grep -c '^  - virus part=2/.*\.zip/eicar\.txt' "$_pc_d/replay-q.out")" -eq 2 -a \
	    "$(grep -c '^  + encrypted part=2/.*\.zip/eicar\.txt' "$_pc_d/replay-q.out")" -eq 2 -a \
	    "$(grep -cE '^reject +reject +3  ' "$_pc_d/replay-q.out")" -eq 0 -a \
	    "$(grep -cE '^reject +reject +3$' "$_pc_d/replay-q.out")" -eq 1
	row "replay --quarantine $POL_AREA" "status $_st" - \
	    "$(grep -E '^[0-9]+ messages read' "$_pc_d/replay-q.out")"

	# ---- rescan after a signature update ----
	expect "rescan: the false positive is quarantined in $POL_AREA (${_fpid:-no quarantine_id})" \
	    grep -q "^${_fpid:-none} " <<<"$("$_pc_ctl" --policy "$T/policy.ini" list "$POL_AREA" 2>&1)"
	out=$("$_pc_ctl" --policy "$T/policy.ini" rescan "$POL_AREA" 2>&1)
	_st=$?
	expect "rescan before the update: status $_st (0), nothing would pass" \
	    grep -q '^0 of 3 quarantined messages would now pass; 0 not judged' \
	    <<<"$out"
	# The update withdraws the false-positive signature.
	mkdir -p "$_pc_d/sigs-update"
	cp "$T/sigs"/* "$_pc_d/sigs-update/"
	rm -f "$_pc_d/sigs-update/e2e-fp.ndb"
	out=$("$_pc_ctl" --policy "$T/policy.ini" \
	    -o "antivirus.database=$_pc_d/sigs-update" rescan "$POL_AREA" 2>&1)
	_st=$?
	printf '%s\n' "$out" | sed 's/^/# rescan | /'
	expect "rescan after the update: status $_st (0), 1 of 3 would now pass" \
	    grep -q '^1 of 3 quarantined messages would now pass; 0 not judged' \
	    <<<"$out"
	expect "rescan after the update: the false positive is listed with its release command" \
	    grep -qE "^${_fpid:-none} +$POL_AREA +reject -> accept  portcullisctl --policy $T/policy.ini release ${_fpid:-none}\$" \
	    <<<"$out"
	expect "rescan after the update: only it" \
	    test "$(grep -c ' -> ' <<<"$out")" -eq 1
	row "rescan after a signature update" "status $_st" - \
	    "$(tail -n 1 <<<"$out")"

	# ---- notification templates ----
	# A stripped .exe: the replacement text comes from a template file,
	# and the postmaster's notice from another, each with its variables
	# filled in; the notice goes through [notify] sendmail (the alerts'
	# stand-in: SMTP to the private Postfix) and arrives at the sink.
	mkdir -p "$_pc_d/templates"
	printf 'Subject: Blocked %%FILENAME%% (%%RULE%%) tpl-%s\n\nTemplate notice: the attachment (%%FILENAME%%) was removed, %%DETAIL%%, queue %%QUEUEID%%.\n' \
	    "$RUN" > "$_pc_d/templates/admin.txt"
	printf 'Template replacement: %%FILENAME%% was taken out (%%RULE%%).\n' \
	    > "$_pc_d/templates/stripped.txt"
	write_policy "$T/policy.ini" "blocked_extension = strip-tpl
blocked_type = strip-tpl

[action:strip-tpl]
disposition = strip
notify = admin
replacement_file = stripped.txt

[notify]
sendmail = $T/alert-sendmail
admin = tpl-admin@example.com
template_dir = $_pc_d/templates
admin_template = admin.txt
attach_original = no"
	if [ -x "$T/alert-sendmail" ] && daemon_restart; then
		ok "templates: daemon restarted (replacement_file, admin_template)"
		pol_msg "$T/msg/tpl" "tpl-strip-$RUN" "Hello,

the tool." "$T/setup.exe" tool.exe application/octet-stream
		# the notice quotes the subject too: look for the copy by its
		# own Subject line
		send tpl-strip "$T/msg/tpl" rcpt@example.com
		expect "tpl-strip: reply \"$REPLY_LINE\" is 250" \
		    grep -q '^250' <<<"$REPLY_LINE"
		POL_FILE=$(wait_token "^Subject: tpl-strip-$RUN")
		_tx=$(pol_xpc "${POL_FILE:-/dev/null}")
		expect "tpl-strip: delivered and stripped (\"$_tx\")" \
		    grep -qE '^X-Portcullis: strip; blocked_' <<<"$_tx"
		expect "templates: the delivered copy carries the template's replacement text" \
		    grep -qE 'Template replacement: tool\.exe was taken out \(blocked_(extension|type)\)' \
		    "${POL_FILE:-/dev/null}"
		expect "templates: the .exe itself is gone from the delivered copy" \
		    test "$(grep -c 'filename="tool.exe"' "${POL_FILE:-/dev/null}")" -eq 0
		_tf=$(wait_token "^Subject: .*Blocked tool\.exe \(blocked_(extension|type)\) tpl-$RUN")
		expect "templates: the admin notice arrived with the template's subject${_tf:+ (${_tf#$T/})}" \
		    test -n "$_tf"
		expect "templates: its text has the variables filled in" \
		    grep -qE 'Template notice: the attachment \(tool\.exe\) was removed, (extension \.exe|true type exe-pe), queue [0-9A-F]+\.' \
		    "${_tf:-/dev/null}"
		row "template: strip + admin notice" "$REPLY_LINE" \
		    "${_tf:+yes}" "replacement and notice from templates"
	else
		notok "templates: daemon restart (or no sendmail stand-in)"
	fi

	# back to the test policy, without the false-positive signature
	rm -f "$T/sigs/e2e-fp.ndb"
	write_policy "$T/policy.ini"
	if daemon_restart; then ok "policy: daemon back on the test policy"
	else notok "policy: daemon restart"; fi
}
