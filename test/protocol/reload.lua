-- Reload: SIGUSR1 with a bad file keeps the policy in force and logs
-- every error with its line; SIGHUP reloads too (libmilter's "SIGHUP =
-- stop" must not happen); a message in flight keeps the policy it started
-- with, the next one gets the new policy.
dofile(top .. "/test/protocol/lib/common.lua")
local av = "[antivirus]\nenabled = no\n"
T.start(av)

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "RL1" })
T.delivered(r, stage, "before the reload")
T.check(mt.getheader(conn, "X-Portcullis", 0):find("(mx.test)", 1, true),
    "first host name")

-- a bad policy: two errors
T.write_policy(av .. "[limits]\nrecipients = lots\n[no-such-section]\nx = 1\n")
T.signal_and_wait(T.SIGUSR1, "what=policy result=failed")
T.check(T.count_log("event=reload what=policy result=error") >= 2, "every error logged")
T.check(T.count_log("policy.ini:") >= 2, "errors carry file:line")
r, stage = T.postfix_message(conn, { qid = "RL2" })
T.delivered(r, stage, "after the failed reload")
T.check(mt.getheader(conn, "X-Portcullis", 0):find("(mx.test)", 1, true),
    "old policy still in force")

-- a message starts, the policy changes under it (SIGHUP), it ends
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<s@example.net>") == nil, "mailfrom")
T.reply(conn, SMFIR_CONTINUE, "mail")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.check(mt.header(conn, "Subject", "in flight") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
T.write_policy(av, "mx2.test")
T.signal_and_wait(T.SIGHUP, "event=reload what=policy result=ok signal=SIGHUP")
T.check(mt.bodystring(conn, "body\r\n") == nil, "body")
mt.macro(conn, string.byte("E"), "i", "RL3")
T.check(mt.eom(conn) == nil, "eom")
r = mt.getreply(conn)
T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "in-flight delivered")
T.check(mt.getheader(conn, "X-Portcullis", 0):find("(mx.test)", 1, true),
    "the message in flight kept its policy")

r, stage = T.postfix_message(conn, { qid = "RL4" })
T.delivered(r, stage, "after SIGHUP")
T.check(mt.getheader(conn, "X-Portcullis", 0):find("(mx2.test)", 1, true),
    "the next message has the new policy")
mt.disconnect(conn)

-- SIGUSR1 reloads as well, and the daemon still takes new connections
T.write_policy(av, "mx3.test")
T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok signal=SIGUSR1")
conn = T.postfix_conn()
r, stage = T.postfix_message(conn, { qid = "RL5" })
T.delivered(r, stage, "after SIGUSR1")
T.check(mt.getheader(conn, "X-Portcullis", 0):find("(mx3.test)", 1, true),
    "SIGUSR1 reloaded")
mt.disconnect(conn)
T.check(T.count_log("event=stop") == 0, "never stopped")
