-- An action with a quarantine area and notify = admin: EICAR is rejected,
-- a copy of the message and its record are kept in the quarantine (0600
-- files, the id in the log line), the admin is notified through the
-- policy's sendmail (a recording stand-in written here, run without a
-- shell). The same message re-injected from loopback with its
-- X-Portcullis-Released header is accepted without a scan; with a forged
-- id, or from outside, it is judged again.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")

local out = tmp .. "/mailout"
local function q(path)		-- quoted for sh (the ASan run's dir has a space)
	return "'" .. path .. "'"
end
os.execute("mkdir -p " .. q(out) .. " && chmod 777 " .. q(out))
-- The stand-in writes the message, then its arguments, each under a
-- temporary name renamed into place: once N.argv exists, N.msg is
-- complete (the test waits for that, not for a time).
local fake = assert(io.open(tmp .. "/fake-sendmail", "w"))
fake:write("#!/bin/sh\nn=\"" .. out .. "/$(date +%s%N)-$$\"\n" ..
    "cat > \"$n.msg.tmp\" && mv \"$n.msg.tmp\" \"$n.msg\" &&\n" ..
    "printf '%s\\n' \"$@\" > \"$n.argv.tmp\" && " ..
    "mv \"$n.argv.tmp\" \"$n.argv\"\n")
fake:close()
os.execute("chmod 755 " .. q(tmp .. "/fake-sendmail"))

T.start("[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n" ..
    "[quarantine]\ndirectory = " .. tmp .. "/quarantine\n" ..
    "[notify]\nadmin = postmaster@example.com\nsendmail = " .. tmp ..
    "/fake-sendmail\n" ..
    "[rules]\nvirus = keep\n" ..
    "[action:keep]\ndisposition = reject\nquarantine = virus\n" ..
    "notify = admin\nreply = 554 5.7.1 Virus found: %VIRUS%\n")
T.wait_log("event=signatures result=loaded")

local body = T.mime_with_attachment("eicar.txt", T.eicar())
local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "QU1",
    headers = T.mime_headers("quarantine me"), body = body })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "virus: rejected")
local line = T.wait_log("QU1:")
T.line_has(line, { "action=reject", "reason=virus", "quarantine=virus",
    "quarantine_id=" })
local id = line:match("quarantine_id=([%w%-]+)")
T.check(id ~= nil, "quarantine id in the log line")
mt.disconnect(conn)

if id ~= nil then
	local dir = tmp .. "/quarantine/virus/"
	T.check(T.sh("stat -c %a " .. q(dir .. id .. ".eml")):match("^600") ~=
	    nil, "message stored 0600")
	T.check(T.sh("cat " .. q(dir .. id .. ".json")):find("Test.EICAR",
	    1, true) ~= nil, "record names the virus")
end
-- the notification reached the stand-in, arguments intact
local argv = T.wait_for("the notification (" .. out .. "/*.argv)",
    function()
	local a = T.sh("cat " .. q(out) .. "/*.argv 2>/dev/null")
	return a ~= "" and a
end)
T.check(argv:find("postmaster@example.com", 1, true) ~= nil,
    "admin notified: " .. argv)
T.check(T.sh("cat " .. q(out) .. "/*.msg 2>/dev/null"):find(
    "Auto-Submitted: auto-generated", 1, true) ~= nil,
    "notification is marked automatic")

-- released: the same message from loopback with the id passes unscanned
local hdrs = T.mime_headers("quarantine me")
hdrs[#hdrs + 1] = { "X-Portcullis-Released", id or "x" }
conn = T.postfix_conn("localhost", "127.0.0.1")
r, stage = T.postfix_message(conn, { qid = "QU2", headers = hdrs,
    body = body })
T.check(stage == "eom" and r == SMFIR_ACCEPT, "released copy accepted")
T.line_has(T.wait_log("QU2:"), { "event=verdict", "action=accept",
    "reason=released", "quarantine_id=" .. (id or "?") })
-- a forged id is no key
hdrs[#hdrs] = { "X-Portcullis-Released", "20260101T000000Z-0000000000000000" }
r, stage = T.postfix_message(conn, { qid = "QU3", headers = hdrs,
    body = body })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "forged release: rejected")
mt.disconnect(conn)
