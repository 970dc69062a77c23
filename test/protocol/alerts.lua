-- Alerts from real conditions: the spool's file system has less free
-- space than [alerts] disk_free = 100 (percent) asks for, the test
-- signatures are older than signature_age = 1s, and the queue command
-- (printf, standing for postqueue -j: one line per message) lists three
-- messages where queue_size = 2 allows two. Each alert is logged and
-- mailed once (through the policy's sendmail: a recording stand-in run
-- without a shell), not again in the next checks (period = 1h); after a
-- reload with passing thresholds both clear, each with a recovery notice.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")

local out = tmp .. "/mailout"
local function q(path)		-- quoted for sh (the ASan run's dir has a space)
	return "'" .. path .. "'"
end
os.execute("mkdir -p " .. q(out) .. " && chmod 777 " .. q(out))
-- The stand-in writes the message, then its arguments, each under a
-- temporary name renamed into place: once N.argv exists, N.msg is
-- complete (the test waits for that, not for a time).
local fake = assert(io.open(tmp .. "/fake-sendmail", "w"))
fake:write("#!/bin/sh\nn=\"" .. out .. "/$(date +%s%N)-$$\"\n" ..
    "cat > \"$n.msg.tmp\" && mv \"$n.msg.tmp\" \"$n.msg\" &&\n" ..
    "printf '%s\\n' \"$@\" > \"$n.argv.tmp\" && " ..
    "mv \"$n.argv.tmp\" \"$n.argv\"\n")
fake:close()
os.execute("chmod 755 " .. q(tmp .. "/fake-sendmail"))

local function policy(disk, age, queue)
	return "log_level = diagnostic\n" ..
	    "[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n" ..
	    "[notify]\nsendmail = " .. tmp .. "/fake-sendmail\n" ..
	    "server_tag = [proto]\n" ..
	    "[alerts]\nmail_to = alerts@example.com\ninterval = 1s\n" ..
	    "period = 1h\nworker_restarts = 0\nqueue_size = " .. queue ..
	    "\nqueue_command = /usr/bin/printf %s\\n {} {} {}\n" ..
	    "disk_free = " .. disk .. "\nsignature_age = " .. age .. "\n"
end

-- The mails so far whose text has needle: count, and the first one.
local function mails(needle)
	local n, first = 0, nil
	for f in T.sh("ls " .. q(out) .. " 2>/dev/null"):gmatch("[^\n]+") do
		if f:match("%.argv$") then
			local base = out .. "/" .. f:gsub("%.argv$", "")
			local msg = T.read_file(base .. ".msg") or ""
			if msg:find(needle, 1, true) then
				n = n + 1
				first = first or { msg = msg,
				    argv = T.read_file(base .. ".argv") or "" }
			end
		end
	end
	return n, first
end
local function wait_mail(needle)
	return T.wait_for("a mail with \"" .. needle .. "\" in " .. out,
	    function()
		local n, m = mails(needle)
		return n > 0 and m
	end)
end

T.start(policy("100", "1s", "2"))
T.wait_log("event=signatures result=loaded")

-- raised: logged with value and threshold, mailed
local line = T.wait_log("event=alert state=raised kind=spool_disk")
T.line_has(line, { "threshold=100.0%", "mail=yes", tmp .. "/spool" })
T.check(line:match("value=%d+%.%d%%") ~= nil, "value in " .. line)
local m = wait_mail("ALERT: spool disk nearly full")
T.check(m.msg:find("Subject: [proto] ALERT: spool disk nearly full on " ..
    "mx.test: ", 1, true) ~= nil, "subject: " .. m.msg)
T.check(m.msg:find("(threshold 100.0% free)", 1, true) ~= nil,
    "threshold in the subject: " .. m.msg)
T.check(m.msg:find("Auto-Submitted: auto-generated", 1, true) ~= nil,
    "marked automatic: " .. m.msg)
T.check(m.argv:find("alerts@example.com", 1, true) ~= nil and
    m.argv:find("MAILER-DAEMON", 1, true) ~= nil,
    "envelope from [notify] from to mail_to: " .. m.argv)

line = T.wait_log("event=alert state=raised kind=signatures")
T.line_has(line, { "threshold=1s", "mail=yes" })
m = wait_mail("ALERT: signature database too old")
T.check(m.msg:find("(threshold 1 s)", 1, true) ~= nil,
    "age threshold: " .. m.msg)

line = T.wait_log("event=alert state=raised kind=queue")
T.line_has(line, { "value=3 threshold=2 mail=yes",
    "3 messages listed by /usr/bin/printf" })
m = wait_mail("ALERT: mail queue too long")
T.check(m.msg:find("3 messages (threshold 2 messages)", 1, true) ~= nil,
    "queue: " .. m.msg)

-- three more checks: nothing mailed again within the period
local checks = T.count_log("event=alert state=checked")
T.wait_log("event=alert state=checked", nil, checks + 3)
T.check(T.count_log("event=alert state=raised") == 3, "raised once each, got " ..
    T.count_log("event=alert state=raised") .. " lines")
T.check(T.count_log("still raised") == 0, "no reminder within the period")
local n = mails("ALERT:")
T.check(n == 3, "three alert mails within the period, got " .. n)

-- passing thresholds: both clear, with a recovery notice each
T.write_policy(policy("1", "365d", "3"))	-- 3 is not over 3
T.signal_and_wait(T.SIGHUP, "event=reload what=policy result=ok signal=SIGHUP")
T.line_has(T.wait_log("event=alert state=cleared kind=spool_disk"),
    { "threshold=1.0%", "mail=yes" })
T.line_has(T.wait_log("event=alert state=cleared kind=signatures"), { "mail=yes" })
T.line_has(T.wait_log("event=alert state=cleared kind=queue"),
    { "value=3 threshold=3 mail=yes" })
m = wait_mail("RECOVERED: spool disk nearly full")
T.check(m.msg:find("has recovered", 1, true) ~= nil, "recovery: " .. m.msg)
wait_mail("RECOVERED: signature database too old")
wait_mail("RECOVERED: mail queue too long")
checks = T.count_log("event=alert state=checked")
T.wait_log("event=alert state=checked", nil, checks + 2)
n = mails("ALERT:")
local r = mails("RECOVERED:")
T.check(n == 3 and r == 3, "3 alerts and 3 recoveries, got " .. n ..
    " and " .. r)
T.check(T.count_log("event=alert state=raised") == 3, "not raised again")
