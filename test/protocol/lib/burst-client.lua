-- test/protocol/lib/burst-client.lua - one client of a burst: a separate
-- miltertest process that sends n messages, one after the other, on one
-- connection to the daemon the calling test started, and writes one line
-- per message to out ("QID ok", "QID tempfail", "QID reject", "QID other
-- R" with R the reply letter), then "done" as its last line.
-- Globals (-D): top, tmp (the test's directory: the socket is there), id
-- (this client's name, part of each queue id), n, out, and optionally
-- kib (the body's size in KiB, default 1) and fault (an
-- X-Portcullis-Fault header for the fault-injection build).
dofile(top .. "/test/protocol/lib/common.lua")
local f = assert(io.open(out .. ".new", "w"))
local conn = T.postfix_conn()
local filler = string.rep(string.rep("burst filler line ", 3) .. "\r\n",
    math.floor((tonumber(kib or "1") * 1024) / 56) + 1)
for i = 1, tonumber(n) do
	local qid = id .. "X" .. i
	local hdrs = { { "From", "burst@example.net" },
	    { "To", "rcpt@example.com" }, { "Subject", "burst " .. qid },
	    { "Message-Id", "<" .. qid .. "@example.net>" } }
	if fault ~= nil and fault ~= "" then
		hdrs[#hdrs + 1] = { "X-Portcullis-Fault", fault }
	end
	local r, stage = T.postfix_message(conn, { qid = qid,
	    headers = hdrs, body = "burst message " .. qid .. "\r\n" ..
	    filler })
	local what
	if stage == "eom" and (r == SMFIR_CONTINUE or r == SMFIR_ACCEPT) then
		what = "ok"
	elseif stage == "eom" and r == SMFIR_REPLYCODE and
	    mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
	    "Virus scanner not ready, try again later") then
		what = "tempfail not-ready"
	elseif r == SMFIR_TEMPFAIL or (r == SMFIR_REPLYCODE and
	    (mt.eom_check(conn, MT_SMTPREPLY, "451") or
	    mt.eom_check(conn, MT_SMTPREPLY, "421"))) then
		what = "tempfail"
	else
		what = "other " .. tostring(r) .. " at " .. stage
	end
	f:write(qid .. " " .. what .. "\n")
end
mt.disconnect(conn)
f:write("done\n")
f:close()
-- the caller waits for this file: it appears whole
assert(os.rename(out .. ".new", out))
