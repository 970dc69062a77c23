-- close without connect (priv NULL), close in the middle of a message,
-- and an abrupt disconnect: none may crash the daemon or leak, and it
-- still answers afterwards.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

-- negotiate only, then quit: xxfi_close without xxfi_connect
local c1 = T.connect()
T.check(mt.negotiate(c1, 6, T.PF_ACTIONS, T.PF_STEPS) == nil, "negotiate")
mt.disconnect(c1)

-- connect, MAIL, RCPT, then quit without DATA
local c2 = T.postfix_conn()
mt.macro(c2, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(c2, "<x@example.net>") == nil, "mailfrom")
T.check(mt.rcptto(c2, "<y@example.com>") == nil, "rcptto")
mt.disconnect(c2)

-- in the middle of the body, the socket just goes away
local c3 = T.postfix_conn()
mt.macro(c3, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(c3, "<x@example.net>") == nil, "mailfrom")
T.check(mt.rcptto(c3, "<y@example.com>") == nil, "rcptto")
T.check(mt.header(c3, "Subject", "cut") == nil, "header")
T.check(mt.eoh(c3) == nil, "eoh")
T.check(mt.bodystring(c3, "partial\r\n") == nil, "body")
mt.disconnect(c3, false)

local c4 = T.postfix_conn()
local r, stage = T.postfix_message(c4, { qid = "8AFTER" })
T.delivered(r, stage, "message after the closes")
mt.disconnect(c4)
T.wait_log("8AFTER:")
