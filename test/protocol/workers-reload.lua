-- The scanning workers across reloads: SIGUSR2 compiles a new engine
-- while the old workers serve (a message open across the reload is
-- scanned and delivered), then new workers replace the old ones; a policy
-- reload with another [daemon] workers changes their number; a worker
-- killed while idle is replaced. The milter process never changes.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")
local function policy(n)
	return "workers = " .. n .. "\n[antivirus]\nenabled = yes\n" ..
	    "database = " .. sigs .. "\n"
end
T.start(policy(2))
T.wait_log("event=signatures result=loaded", 60)
local pid = T.pid()
local function keeper()
	return T.sh("pgrep -P " .. pid .. " -f 'portcullis keeper'"):match("%d+")
end
local function workers()
	local k = keeper()
	local set, n = {}, 0
	if k == nil then
		return set, 0
	end
	for w in T.sh("pgrep -x portcullis-wkr -P " .. k):gmatch("%d+") do
		set[w] = true
		n = n + 1
	end
	return set, n
end
-- waits (bounded) until the workers are n, none of them in old
local function wait_workers(n, old, what)
	for _ = 1, 200 do
		local set, k = workers()
		local fresh = true
		for w in pairs(set) do
			if old ~= nil and old[w] then
				fresh = false
			end
		end
		if k == n and fresh then
			return set
		end
		mt.sleep(0.05)
	end
	T.fail(what .. ": the workers did not become " .. n .. " new ones")
end
local before = wait_workers(2, nil, "start")

local conn = T.postfix_conn()
-- a message open across the signature reload
mt.macro(conn, SMFIC_MAIL, "i", "")
T.check(mt.mailfrom(conn, "<s@example.net>") == nil, "mailfrom")
T.reply(conn, SMFIR_CONTINUE, "mail")
T.check(mt.rcptto(conn, "<r@example.com>") == nil, "rcptto")
T.check(mt.header(conn, "Subject", "across the reload") == nil, "header")
T.check(mt.eoh(conn) == nil, "eoh")
T.signal_and_wait(12, "event=signatures result=loaded", 2)	-- SIGUSR2
T.check(mt.bodystring(conn, "body\r\n") == nil, "body")
mt.macro(conn, string.byte("E"), "i", "WR1")
T.check(mt.eom(conn) == nil, "eom")
local r = mt.getreply(conn)
T.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, "delivered across the " ..
    "signature reload")
local after = wait_workers(2, before, "after SIGUSR2")
local r2, stage = T.postfix_message(conn, { qid = "WR2" })
T.delivered(r2, stage, "after the signature reload")

-- policy reload: one worker
T.write_policy(policy(1))
T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok")
local one = wait_workers(1, after, "workers = 1")
r2, stage = T.postfix_message(conn, { qid = "WR3" })
T.delivered(r2, stage, "with one worker")

-- an idle worker killed: replaced
for w in pairs(one) do
	os.execute("kill -KILL " .. w)
end
wait_workers(1, one, "after kill -9 of the idle worker")
r2, stage = T.postfix_message(conn, { qid = "WR4" })
T.delivered(r2, stage, "after the idle worker was replaced")
T.check(T.count_log("action=tempfail") == 0, "nothing tempfailed")
T.check(T.pid() == pid, "milter process unchanged")
mt.disconnect(conn)
