-- Antivirus on but no engine yet (the database cannot be loaded): every
-- message gets 451 4.7.1, never accept -- even if the policy's error rule
-- says accept.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = yes\ndatabase = " .. tmp .. "/no-such-db\n" ..
    "[rules]\nerror = accept\n")

local conn = T.postfix_conn()
for i = 1, 2 do
	local r, stage = T.postfix_message(conn, { qid = "NR" .. i })
	T.check(stage == "eom" and r == SMFIR_REPLYCODE, "tempfail " .. i)
	T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
	    "Virus scanner not ready, try again later"), "not-ready reply")
	T.check(not mt.eom_check(conn, MT_HDRADD), "nothing added")
end
mt.disconnect(conn)
T.wait_log("event=signatures result=failed")
