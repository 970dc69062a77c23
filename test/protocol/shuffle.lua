-- Several messages on one connection with different outcomes, in a
-- shuffled order: each is judged on its own state (nothing carries over
-- from the previous message: recipients, size, queue id, headers).
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n[limits]\nmessage_size = 8K\n" ..
    "recipients = 3\n")

local conn = T.postfix_conn()
local big = string.rep("x", 9000)
local steps = {
	{ "ok1", { qid = "AA1" }, "eom" },
	{ "too big", { qid = "AA2", chunks = { big } }, "body" },
	{ "forged", { qid = "AA3", headers = { { "X-Portcullis", "x" } } },
	    "eom" },
	{ "SIZE", { qid = "AA4", esmtp = "SIZE=100000" }, "mail" },
	{ "rcpts", { qid = "AA5", rcpts = { "1@x.example", "2@x.example",
	    "3@x.example", "4@x.example", "5@x.example" },
	    rcpt_may_fail = true }, "eom" },
	{ "ok2", { qid = "AA6", rcpts = { "6@x.example" } }, "eom" },
}
for _, s in ipairs(steps) do
	local r, stage = T.postfix_message(conn, s[2])
	T.check(stage == s[3], s[1] .. ": ended at " .. stage .. ", want " ..
	    s[3])
	if s[3] == "eom" then
		T.delivered(r, stage, s[1])
	else
		T.check(r == SMFIR_REPLYCODE, s[1] .. ": refused with a reply")
	end
	if s[1] == "forged" then
		T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Portcullis") or
		    mt.eom_check(conn, MT_HDRCHANGE, "X-Portcullis"), "deleted")
	end
	if s[1] == "ok2" then
		T.check(not mt.eom_check(conn, MT_HDRDELETE) and
		    not mt.eom_check(conn, MT_HDRCHANGE),
		    "no deletion carried over")
	end
end
T.line_has(T.wait_log("AA5:"), { "rcpts=3", "rcpts_refused=2" })
T.line_has(T.wait_log("AA6:"), { "rcpts=1", "action=accept" })
T.check(not T.wait_log("AA6:"):find("rcpts_refused", 1, true),
    "refused count reset")
T.check(T.count_log("reason=recipients") == 1,
    "the refused recipients are logged once per message")
mt.disconnect(conn)
