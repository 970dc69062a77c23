-- Each disposition applied in the SMTP session, for a blocked attachment
-- (invoice.pdf.exe), the policy switched by SIGUSR1 between messages:
-- reject (554), strip (body replaced, headers edited, tagged), hold
-- (quarantine = Postfix hold queue, reason logged), discard, tag (subject
-- tag). Needs the inspection library.
dofile(top .. "/test/protocol/lib/common.lua")
local base = "[antivirus]\nenabled = no\n" ..
    "[quarantine]\ndirectory = " .. tmp .. "/quarantine\n" ..
    "[action:drop]\ndisposition = discard\nquarantine = attachment\n"
local function policy(action)
	return base .. "[rules]\nblocked_extension = " .. action ..
	    "\nblocked_type = " .. action .. "\n"
end
T.start(policy("reject"))
local exe = "MZ" .. string.rep("\0", 58) .. "\64\0\0\0" ..
    string.rep("\0", 64) .. "PE\0\0"
local function send(conn, qid)
	return T.postfix_message(conn, { qid = qid,
	    headers = T.mime_headers("invoice"),
	    body = T.mime_with_attachment("invoice.pdf.exe", exe) })
end

local conn = T.postfix_conn()
local reloads = 0
local function switch(action)
	T.write_policy(policy(action))
	reloads = reloads + 1
	T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok", reloads)
end

local r, stage = send(conn, "VR1")
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "reject")
T.line_has(T.wait_log("VR1:"), { "action=reject", "file=invoice.pdf.exe" })

switch("strip")
r, stage = send(conn, "VR2")
T.delivered(r, stage, "strip")
T.check(mt.eom_check(conn, MT_BODYCHANGE), "body replaced")
T.check(mt.eom_check(conn, MT_HDRADD, "X-Portcullis"), "header added")
T.line_has(T.wait_log("VR2:"), { "action=strip", "stripped=yes" })

switch("hold")
r, stage = send(conn, "VR3")
T.delivered(r, stage, "hold")
T.check(mt.eom_check(conn, MT_QUARANTINE), "held")
T.line_has(T.wait_log("VR3:"), { "action=hold", "reason=" })

switch("drop")
r, stage = send(conn, "VR4")
T.check(stage == "eom" and r == SMFIR_DISCARD, "discard")
T.line_has(T.wait_log("VR4:"), { "action=discard", "quarantine=attachment",
    "quarantine_id=" })
T.check(T.sh("ls '" .. tmp .. "/quarantine/attachment/'"):find("%.eml") ~= nil,
    "discarded message kept in the quarantine")

switch("tag")
r, stage = send(conn, "VR5")
T.delivered(r, stage, "tag")
T.check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SUSPICIOUS] invoice"),
    "subject tagged")
T.line_has(T.wait_log("VR5:"), { "action=tag" })
mt.disconnect(conn)
