-- The SMTP reply text given to smfi_setreply: '%' doubled (a lone % makes
-- libmilter drop the text), bytes outside printable ASCII replaced, the
-- queue id from the MTA sanitised too. Driven through the "error" rule,
-- which needs no inspection: antivirus on with a database that does not
-- exist means "scanner not ready", i.e. the error rule's tempfail.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = yes\ndatabase = " .. tmp .. "/no-such-db\n" ..
    "[action:busy]\ndisposition = tempfail\n" ..
    "reply = 451 4.7.1 100% busy, id %QUEUEID% \xc3\xa9t\xc3\xa9\n" ..
    "[rules]\nerror = busy\n")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "Q1%X" })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "tempfail with a reply")
T.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1",
    "100%% busy, id Q1%%X ??t??"), "reply sanitised")
T.line_has(T.wait_log("action=tempfail"), { "reason=error",
    "detail=\"virus scanner not ready\"" })
mt.disconnect(conn)
