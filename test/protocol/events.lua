-- The event log and the traffic statistics: with [daemon] event_log set,
-- each judged message (a clean one, a virus kept in the quarantine) is
-- one JSON line with the version, the queue id, what was done, the
-- quarantine id and the findings; and both messages are traffic rows of
-- the quarantine index, which portcullisctl report counts.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")

local function q(path)		-- quoted for sh (the ASan run's dir has a space)
	return "'" .. path .. "'"
end
local ev = tmp .. "/events"
os.execute("mkdir -p " .. q(ev) .. " && chmod 777 " .. q(ev))
T.start("event_log = " .. ev .. "/events.json\n" ..
    "[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n" ..
    "[quarantine]\ndirectory = " .. tmp .. "/quarantine\n" ..
    "[rules]\nvirus = keep\n" ..
    "[action:keep]\ndisposition = reject\nquarantine = virus\n" ..
    "reply = 554 5.7.1 Virus found: %VIRUS%\n")
T.wait_log("event=signatures result=loaded")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "EV1" })
T.delivered(r, stage, "clean message")
r, stage = T.postfix_message(conn, { qid = "EV2",
    headers = T.mime_headers("a virus"),
    body = T.mime_with_attachment("eicar.txt", T.eicar()) })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "virus: rejected")
mt.disconnect(conn)
local id = T.wait_log("EV2:"):match("quarantine_id=([%w%-]+)")
T.check(id ~= nil, "quarantine id in the log line")

local lines = T.wait_for("two lines in " .. ev .. "/events.json", function()
	local s = T.read_file(ev .. "/events.json") or ""
	local _, n = s:gsub("\n", "\n")
	return n >= 2 and s
end)
local l1 = lines:match("[^\n]*\"queue_id\":\"EV1\"[^\n]*")
local l2 = lines:match("[^\n]*\"queue_id\":\"EV2\"[^\n]*")
T.check(l1 ~= nil and l1:find('^{"version":1,') ~= nil and
    l1:find('"action":"accept"', 1, true) ~= nil and
    l1:find('"quarantine_id":null', 1, true) ~= nil,
    "clean message's event: " .. tostring(l1))
T.check(l2 ~= nil and l2:find('"action":"reject"', 1, true) ~= nil and
    l2:find('"quarantine_id":"' .. tostring(id) .. '"', 1, true) ~= nil and
    l2:find('"rule":"virus"', 1, true) ~= nil and
    l2:find('"recipients":["rcpt@example.com"]', 1, true) ~= nil,
    "virus's event: " .. tostring(l2))
T.check(T.count_log("what=event_log") == 0 and
    T.count_log("what=statistics") == 0, "no write failure logged")

-- the traffic rows, through the quarantine manager
local ctl = bin:gsub("portcullis$", "portcullisctl")
local rep = T.sh(q(ctl) .. " -o quarantine.directory=" .. q(tmp ..
    "/quarantine") .. " --policy " .. q(T.policy_file) ..
    " report --json 2>&1")
T.check(rep:find('"traffic":{"totals":{"messages":2,', 1, true) ~= nil and
    rep:find('"quarantine":{"totals":{"messages":1,', 1, true) ~= nil,
    "report counts 2 judged, 1 quarantined: " .. rep)
