-- SIGTERM stops gracefully: the message in flight is finished, a new
-- MAIL FROM gets 421 meanwhile, then the daemon stops.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.postfix_conn()
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<s@example.net>") == nil, "mailfrom")
T.reply(conn, SMFIR_CONTINUE, "mail")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.check(mt.header(conn, "Subject", "in flight at SIGTERM") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
T.check(mt.bodystring(conn, "first part\r\n") == nil, "body")

-- a second connection opens a message while the first is in flight
local c2 = T.postfix_conn()
T.signal_and_wait(T.SIGTERM, "event=stop state=stopping signal=SIGTERM inflight=1")
-- meanwhile, a new message is told to come back later
local r2, stage = T.postfix_message(c2, { qid = "TERM2" })
T.check(stage == "mail" and r2 == SMFIR_REPLYCODE, "421 while stopping")
T.wait_log("reason=shutdown")
mt.disconnect(c2)
T.check(mt.bodystring(conn, "second part\r\n") == nil, "body after SIGTERM")
T.reply(conn, SMFIR_CONTINUE, "body after SIGTERM")
mt.macro(conn, string.byte("E"), "i", "TERM1")
T.check(mt.eom(conn) == nil, "eom")
local r = mt.getreply(conn)
T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "in-flight message " ..
    "finished")
T.line_has(T.wait_log("TERM1:"), { "action=accept" })

mt.disconnect(conn)
T.wait_log("event=stop state=stopped")
