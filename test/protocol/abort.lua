-- RSET in the middle of the body (abort), then a new message on the same
-- connection: the second is judged on its own, the aborted one leaves no
-- verdict line, and no state leaks (the ring checks "in flight").
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.postfix_conn()
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<one@example.net>") == nil, "mailfrom")
T.reply(conn, SMFIR_CONTINUE, "mail")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.reply(conn, SMFIR_CONTINUE, "rcpt")
mt.macro(conn, string.byte("T"), "i", "7ABORTED")
T.check(mt.data(conn) == nil, "data")
T.check(mt.header(conn, "Subject", "aborted") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
T.check(mt.bodystring(conn, "first half of the body\r\n") == nil, "body")
T.reply(conn, SMFIR_CONTINUE, "body")
T.check(mt.abort(conn) == nil, "abort")

local r, stage = T.postfix_message(conn, { from = "two@example.net",
    qid = "7SECOND" })
T.delivered(r, stage, "message after abort")
local line = T.wait_log("7SECOND:")
T.line_has(line, { "from=<two@example.net>", "rcpts=1", "action=accept" })
T.check(T.count_log("7ABORTED") == 0, "no verdict for the aborted message")

-- abort right after MAIL, then again a message
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<three@example.net>") == nil, "mailfrom")
T.check(mt.abort(conn) == nil, "abort")
r, stage = T.postfix_message(conn, { qid = "7THIRD" })
T.delivered(r, stage, "message after abort at MAIL")
mt.disconnect(conn)
