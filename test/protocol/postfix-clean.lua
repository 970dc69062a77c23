-- A clean message in Postfix's callback order and with Postfix's macros:
-- delivered, with our X-Portcullis header added, one log line that starts
-- with the queue id Postfix sent from DATA on.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.postfix_conn("client.example", "192.0.2.10")
for _, f in ipairs({ SMFIF_ADDHDRS, SMFIF_CHGHDRS, SMFIF_CHGBODY,
    SMFIF_QUARANTINE }) do
	T.check(mt.test_action(conn, f), "action flag " .. f .. " negotiated")
end
local r, stage = T.postfix_message(conn, {
	from = "sender@example.net",
	rcpts = { "a@example.com", "b@example.com" },
	qid = "4ABC123DEF",
})
T.delivered(r, stage, "clean message")
T.check(mt.eom_check(conn, MT_HDRADD, "X-Portcullis"), "X-Portcullis added")
local v = mt.getheader(conn, "X-Portcullis", 0)
T.check(v ~= nil and v:find("(mx.test)", 1, true), "header names the host: " ..
    tostring(v))
T.check(not mt.eom_check(conn, MT_HDRCHANGE), "no header changed")
T.check(not mt.eom_check(conn, MT_BODYCHANGE), "body not replaced")
T.check(not mt.eom_check(conn, MT_QUARANTINE), "not held")
mt.disconnect(conn)

local line = T.wait_log("4ABC123DEF:")
T.line_has(line, { "4ABC123DEF: event=verdict client=client.example[192.0.2.10]",
    "from=<sender@example.net>", "rcpts=2", "dir=inbound", "action=accept",
    "size=", "ms=" })
T.check(T.count_log("4ABC123DEF:") == 1, "one line per message")
