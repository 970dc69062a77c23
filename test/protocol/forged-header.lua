-- X-Portcullis headers that arrive from outside are deleted (last first,
-- so the indexes hold) and ours is added: the header cannot be forged.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, {
	qid = "5FORGED",
	headers = {
		{ "From", "a@example.net" },
		{ "X-Portcullis", "clean (mx.test)" },
		{ "Subject", "forged" },
		{ "x-portcullis", "clean (elsewhere)" },
	},
})
T.delivered(r, stage, "message with forged headers")
T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Portcullis") or
    mt.eom_check(conn, MT_HDRCHANGE, "X-Portcullis"),
    "incoming X-Portcullis deleted")
T.check(mt.eom_check(conn, MT_HDRADD, "X-Portcullis"), "ours added")
-- A message without one: nothing deleted.
r, stage = T.postfix_message(conn, { qid = "5CLEAN" })
T.delivered(r, stage, "second message")
T.check(not mt.eom_check(conn, MT_HDRDELETE) and
    not mt.eom_check(conn, MT_HDRCHANGE), "nothing deleted the second time")
mt.disconnect(conn)
