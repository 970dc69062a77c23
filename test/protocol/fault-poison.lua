-- Contained failures (fault-injection build): a worker that aborts, spins
-- past scan_time or allocates past worker_memory costs only its message
-- (451, the error rule), is replaced, and the same message is refused as
-- poison (554 5.7.0, quarantined) when it comes back -- also after the
-- engine keeper itself was killed and started again. The milter process
-- stays the same throughout. "fault" names the fault-injection binary.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(fault ~= nil and fault ~= "", "no fault-injection build")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")
bin = fault
T.start("workers = 2\nworker_memory = 768M\n" ..
    -- long enough for the oom fault to fill 768M on a busy machine
    "[limits]\nscan_time = 10s\n" ..
    "[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n" ..
    "[quarantine]\ndirectory = " .. tmp .. "/quarantine\n" ..
    "[rules]\npoison = reject-poison\n" ..
    "[action:reject-poison]\ndisposition = reject\nquarantine = poison\n" ..
    "reply = 554 5.7.0 Message refused: it cannot be inspected safely\n")
T.wait_log("event=signatures result=loaded", 60)
local pid = T.pid()

local conn = T.postfix_conn()
local function faulty(qid, kind)
	return T.postfix_message(conn, { qid = qid, headers = {
	    { "From", "a@example.net" }, { "To", "b@example.com" },
	    { "Subject", "fault " .. kind },
	    { "Message-Id", "<" .. kind .. "@example.net>" },
	    { "X-Portcullis-Fault", kind } }, body = "fault: " .. kind .. "\r\n" })
end
local function clean(qid)
	local r, stage = T.postfix_message(conn, { qid = qid })
	T.delivered(r, stage, qid .. ": clean message")
end

-- each kind of failure: 451 now, 554 5.7.0 as poison on the retry
local kinds = { { "abort", "crash: signal 6" }, { "loop", "deadline" },
    { "oom", "memory" } }
for i, k in ipairs(kinds) do
	local t0 = os.time()
	local r, stage = faulty("F" .. i .. "A", k[1])
	T.check(stage == "eom" and r == SMFIR_REPLYCODE, k[1] .. ": tempfail")
	T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
	    "Message could not be checked now, try again later"),
	    k[1] .. ": 451 4.7.1")
	T.line_has(T.wait_log("F" .. i .. "A: event=error stage=scan cause=worker_died"), { k[2] })
	T.line_has(T.wait_log("F" .. i .. "A: event=verdict"), { "action=tempfail",
	    "reason=error" })
	if k[1] == "loop" then
		T.check(os.time() - t0 >= 10, "loop: killed at scan_time, " ..
		    "not before (" .. (os.time() - t0) .. " s)")
	end
	r, stage = faulty("F" .. i .. "B", k[1])
	T.check(stage == "eom" and r == SMFIR_REPLYCODE, k[1] .. ": refused")
	T.check(mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.0",
	    "Message refused: it cannot be inspected safely"),
	    k[1] .. ": 554 5.7.0 on the retry")
	T.line_has(T.wait_log("F" .. i .. "B: event=verdict"), { "action=reject",
	    "reason=poison", "quarantine=poison" })
	clean("F" .. i .. "C")		-- the pool is whole again
end
T.check(T.count_log(": event=poison result=refused sha256=") == 3, "three poison refusals")

-- the list is on disk: three digests
local f = assert(io.open(tmp .. "/spool/poison", "r"))
local n = 0
for line in f:lines() do
	T.check(line:match("^%x+ %d+ ") ~= nil, "poison line: " .. line)
	n = n + 1
end
f:close()
T.check(n == 3, "poison file lines: got " .. n .. ", want 3")

-- kill -9 of the keeper: the milter starts another, which reads the list
local keeper = T.sh("pgrep -P " .. pid .. " -f 'portcullis keeper'"):match("%d+")
T.check(keeper ~= nil, "keeper process found")
os.execute("kill -KILL " .. keeper)
T.wait_log("event=keeper state=died pid=" .. keeper .. " signal=SIGKILL")
T.wait_log("event=keeper state=restarted", 15)
T.wait_log("event=signatures result=loaded", 60, 2)
clean("K1")
local r, stage = faulty("K2", "abort")
T.check(stage == "eom" and mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.0",
    "Message refused: it cannot be inspected safely"),
    "poison remembered by the new keeper")
T.check(T.pid() == pid, "milter process unchanged")
mt.disconnect(conn)
