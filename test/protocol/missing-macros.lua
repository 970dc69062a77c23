-- An MTA that sends no macros at all (no i, no auth, no daemon name) and
-- a client of unknown address family: the message is still judged and
-- logged as NOQUEUE, with c=<connection number> after the event.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.connect()
T.check(mt.negotiate(conn, 6, T.PF_ACTIONS, T.PF_STEPS) == nil, "negotiate")
T.check(mt.conninfo(conn, "strange.example", "unspec") == nil, "conninfo")
T.reply(conn, SMFIR_CONTINUE, "connect")
T.check(mt.mailfrom(conn, "<>") == nil, "mailfrom (bounce)")
T.reply(conn, SMFIR_CONTINUE, "mail")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.reply(conn, SMFIR_CONTINUE, "rcpt")
T.check(mt.header(conn, "Subject", "no macros") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
T.check(mt.bodystring(conn, "body\r\n") == nil, "body")
T.check(mt.eom(conn) == nil, "eom")
local r = mt.getreply(conn)
T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "delivered")
mt.disconnect(conn)
local line = T.wait_log("NOQUEUE: event=verdict c=")
T.line_has(line, { "client=strange.example ", "from=<>", "rcpts=1",
    "action=accept" })
T.check(not line:find("auth=", 1, true), "no auth field")
