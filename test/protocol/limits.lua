-- Envelope limits refused before the body is read: SIZE= over
-- message_size at MAIL (552 5.3.4), recipients over the limit at RCPT
-- (452 4.5.3, the message goes on with the others), a body that passes
-- message_size (552 5.3.4 as soon as it does), messages per connection
-- (421, the MTA drops the session).
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n[limits]\nmessage_size = 4K\n" ..
    "recipients = 2\nmessages_per_connection = 4\n")

local conn = T.postfix_conn()
-- 1: SIZE= too big
local r, stage = T.postfix_message(conn, { esmtp = "SIZE=5000", qid = "9A" })
T.check(stage == "mail" and r == SMFIR_REPLYCODE, "SIZE=5000 refused at MAIL")
T.line_has(T.wait_log("reason=size_limit stage=mail"),
    { "action=reject", "size=5000", "reply=\"552 5.3.4\"" })
-- 2: three recipients, the third refused, the message delivered to two
r, stage = T.postfix_message(conn, { esmtp = "SIZE=4000", qid = "9B",
    rcpts = { "a@example.com", "b@example.com", "c@example.com" },
    rcpt_may_fail = true })
T.delivered(r, stage, "message with a refused recipient")
T.line_has(T.wait_log("reason=recipients"),
    { "event=rcpt", "action=tempfail", "reply=\"452 4.5.3\"" })
T.line_has(T.wait_log("9B:"), { "rcpts=2", "rcpts_refused=1",
    "action=accept" })
-- 3: a body over 4K in 1K chunks: refused at the chunk that passes it
local chunk = string.rep("0123456789abcdef0123456789abcdef\r\n", 30)  -- 1020
r, stage = T.postfix_message(conn, { qid = "9C",
    chunks = { chunk, chunk, chunk, chunk, chunk, chunk } })
T.check(stage == "body" and r == SMFIR_REPLYCODE, "big body refused in the " ..
    "body, got stage " .. stage)
T.line_has(T.wait_log("9C:"), { "reason=size_limit", "stage=body",
    "reply=\"552 5.3.4\"" })
-- 4: a message exactly at the limit passes (header block counted too)
r, stage = T.postfix_message(conn, { qid = "9D",
    headers = { { "Subject", "x" } },	-- "Subject: x\r\n\r\n" = 14 bytes
    chunks = { string.rep("a", 4096 - 14) } })
T.delivered(r, stage, "message of exactly message_size")
-- 5: the fifth MAIL FROM on this connection: 421
r, stage = T.postfix_message(conn, { qid = "9E" })
T.check(stage == "mail" and r == SMFIR_REPLYCODE, "5th message refused")
T.line_has(T.wait_log("reason=messages_per_connection"),
    { "action=tempfail", "reply=\"421 4.7.0\"" })
mt.disconnect(conn)

-- a new connection starts counting again
conn = T.postfix_conn()
r, stage = T.postfix_message(conn, { qid = "9F" })
T.delivered(r, stage, "first message of a new connection")
mt.disconnect(conn)
