-- [daemon] metrics_file: the Prometheus text file counts messages by
-- disposition and findings by rule, and is rewritten on SIGUSR1.
dofile(top .. "/test/protocol/lib/common.lua")
-- a directory the daemon's user (nobody, when run as root) may write
os.execute("mkdir -p '" .. tmp .. "/m' && chmod 777 '" .. tmp .. "/m'")
local file = tmp .. "/m/metrics.prom"
T.start("metrics_file = " .. file .. "\n[antivirus]\nenabled = no\n")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "ME1" })
T.delivered(r, stage, "clean message")
r, stage = T.postfix_message(conn, { qid = "ME2",
    headers = T.mime_headers("exe"),
    body = T.mime_with_attachment("run.exe", "MZ") })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "blocked: rejected")
T.wait_log("ME2:")
mt.disconnect(conn)

T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok", 1)
-- the file is replaced in one step (rename): wait until it counts both
local text = T.wait_for(file .. " counting the reject", function()
	local t = T.read_file(file)
	return t ~= nil and t:find('action="reject"} 1', 1, true) and t
end)
T.check(text:find('portcullis_messages_total{action="accept"} 1', 1,
    true) ~= nil, "accept counted: " .. text)
T.check(text:find('portcullis_messages_total{action="reject"} 1', 1,
    true) ~= nil, "reject counted")
T.check(text:find('portcullis_findings_total{rule="blocked_extension"} 1',
    1, true) ~= nil, "finding counted")
T.check(text:find("portcullis_scan_duration_seconds_count 2", 1, true) ~=
    nil, "histogram count")
