-- Sendmail's order and macros: the queue id "i" comes at MAIL (and is
-- not repeated later), {auth_authen} at MAIL, {msg_id} at EOM.
dofile(top .. "/test/protocol/lib/common.lua")
T.start("[antivirus]\nenabled = no\n")

local conn = T.connect()
T.check(mt.negotiate(conn, 6, nil, nil) == nil, "negotiate")
mt.macro(conn, SMFIC_CONNECT, "j", "mx.test", "_", "relay.example [198.51.100.7]",
    "{daemon_name}", "MTA", "{if_name}", "mx.test", "{if_addr}", "127.0.0.1")
T.check(mt.conninfo(conn, "relay.example", "198.51.100.7") == nil, "conninfo")
T.reply(conn, SMFIR_CONTINUE, "connect")
mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1.3")
T.check(mt.helo(conn, "relay.example") == nil, "helo")
T.reply(conn, SMFIR_CONTINUE, "helo")

for n = 1, 2 do
	local qid = "6SM" .. n
	mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_type}", "PLAIN",
	    "{auth_authen}", "alice", "{auth_ssf}", "0", "{mail_mailer}",
	    "esmtp", "{mail_host}", "example.net", "{mail_addr}",
	    "alice@example.net")
	T.check(mt.mailfrom(conn, "<alice@example.net>", "SIZE=300",
	    "BODY=8BITMIME") == nil, "mailfrom")
	T.reply(conn, SMFIR_CONTINUE, "mail")
	mt.macro(conn, SMFIC_RCPT, "{rcpt_mailer}", "esmtp", "{rcpt_host}",
	    "example.org", "{rcpt_addr}", "bob@example.org")
	T.check(mt.rcptto(conn, "<bob@example.org>") == nil, "rcptto")
	T.reply(conn, SMFIR_CONTINUE, "rcpt")
	T.check(mt.data(conn) == nil, "data")
	T.reply(conn, SMFIR_CONTINUE, "data")
	T.check(mt.header(conn, "From", "alice@example.net") == nil, "header")
	T.check(mt.header(conn, "Subject", "sendmail " .. n) == nil, "header")
	T.check(mt.eoh(conn) == nil, "eoh")
	T.reply(conn, SMFIR_CONTINUE, "eoh")
	T.check(mt.bodystring(conn, "Hi Bob.\r\n") == nil, "body")
	T.reply(conn, SMFIR_CONTINUE, "body")
	mt.macro(conn, string.byte("E"), "{msg_id}", "<" .. n .. "@example.net>")
	T.check(mt.eom(conn) == nil, "eom")
	local r = mt.getreply(conn)
	T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "delivered")
	T.check(mt.eom_check(conn, MT_HDRADD, "X-Portcullis"), "header added")
	local line = T.wait_log(qid .. ":")
	T.line_has(line, { qid .. ": event=verdict client=relay.example[198.51.100.7]",
	    "from=<alice@example.net>", "rcpts=1", "auth=alice",
	    "action=accept" })
end
mt.disconnect(conn)
