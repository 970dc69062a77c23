-- A message above [daemon] memory_buffer (here 14 + 2 + 5 * 57600 bytes) goes to an unlinked file in the
-- spool directory (memory bounded by policy); it is judged from there
-- and nothing is left behind.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("memory_buffer = 64K\n[antivirus]\nenabled = no\n" ..
    "[limits]\nmessage_size = 1M\n")

local pid = T.pid()
local conn = T.postfix_conn()
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<s@example.net>") == nil, "mailfrom")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.check(mt.header(conn, "Subject", "big") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
local line = string.rep("0123456789", 7) .. "\r\n"
local chunk = string.rep(line, 800)		-- 57600 bytes
for i = 1, 5 do
	T.check(mt.bodystring(conn, chunk) == nil, "body chunk " .. i)
	T.reply(conn, SMFIR_CONTINUE, "body chunk " .. i)
end
local fds = T.sh("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
T.check(fds:find("portcullis-msg.", 1, true) and
    fds:find("(deleted)", 1, true), "spilled to an unlinked file: " .. fds)
T.check(T.sh("ls -A " .. tmp .. "/spool") == "", "nothing visible in spool")
mt.macro(conn, string.byte("E"), "i", "SPILL1")
T.check(mt.eom(conn) == nil, "eom")
local r = mt.getreply(conn)
T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "delivered")
T.line_has(T.wait_log("SPILL1:"), { "spooled=yes", "size=288016" })
fds = T.sh("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
T.check(not fds:find("portcullis-msg.", 1, true), "file closed after EOM")

-- a small one stays in memory
r = T.postfix_message(conn, { qid = "SPILL2" })
T.check(not T.wait_log("SPILL2:"):find("spooled", 1, true), "kept in memory")
mt.disconnect(conn)
