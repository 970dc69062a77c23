-- With the test signature database: EICAR (built here from two halves)
-- in an attachment, inline, and in a message spilled to the spool file,
-- is rejected with 554 5.7.1 and logged with the signature; a clean
-- message passes with the scanner on. Needs the inspection library and
-- libclamav; "sigs" comes from test/signatures/make-testdb.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database " ..
    "(test/signatures/make-testdb failed)")
T.start("memory_buffer = 64K\n[antivirus]\nenabled = yes\ndatabase = " ..
    sigs .. "\n")
T.wait_log("event=signatures result=loaded")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "EC0" })
T.delivered(r, stage, "clean message with the scanner on")

r, stage = T.postfix_message(conn, { qid = "EC1",
    headers = T.mime_headers("eicar attached"),
    body = T.mime_with_attachment("eicar.txt", T.eicar()) })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "attachment: reject")
T.line_has(T.wait_log("EC1:"), { "action=reject", "reason=virus",
    "sig=Test.EICAR" })

r, stage = T.postfix_message(conn, { qid = "EC2",
    headers = { { "Subject", "inline" } }, body = T.eicar() .. "\r\n" })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "inline: reject")
T.line_has(T.wait_log("EC2:"), { "action=reject", "reason=virus" })

local pad = string.rep(string.rep("p", 70) .. "\r\n", 2000)	-- 144000
r, stage = T.postfix_message(conn, { qid = "EC3",
    headers = T.mime_headers("big, eicar at the end"),
    body = "--b1\r\nContent-Type: text/plain\r\n\r\n" .. pad ..
    "--b1\r\nContent-Type: application/octet-stream; name=\"e.bin\"\r\n" ..
    "Content-Transfer-Encoding: base64\r\n\r\n" .. T.base64(T.eicar()) ..
    "\r\n--b1--\r\n" })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "spilled: reject")
T.line_has(T.wait_log("EC3:"), { "action=reject", "reason=virus",
    "spooled=yes" })
mt.disconnect(conn)
