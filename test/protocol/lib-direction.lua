-- Direction from the envelope: an authenticated sender and a client in
-- [direction] internal_networks are outbound, others inbound. Needs the
-- library's scan_direction().
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.postfix_conn("client.example", "192.0.2.10")
local r, stage = T.postfix_message(conn, { qid = "DIR1" })
T.delivered(r, stage, "external")
T.line_has(T.wait_log("DIR1:"), { "dir=inbound" })
r, stage = T.postfix_message(conn, { qid = "DIR2", auth = "alice" })
T.delivered(r, stage, "authenticated")
T.line_has(T.wait_log("DIR2:"), { "auth=alice", "dir=outbound" })
mt.disconnect(conn)

conn = T.postfix_conn("localhost", "127.0.0.1")
r, stage = T.postfix_message(conn, { qid = "DIR3" })
T.delivered(r, stage, "internal network")
T.line_has(T.wait_log("DIR3:"), { "dir=outbound" })
mt.disconnect(conn)
