-- A signature reload on a machine short of memory (fault-injection build:
-- the keeper reads MemAvailable from PORTCULLIS_FAULT_MEMINFO, a file the
-- test writes, instead of /proc/meminfo). With plenty the new engine is
-- compiled beside the old one; with too little the keeper says so, waits
-- for its workers to be idle, releases the old engine and its workers,
-- compiles the new one and starts new workers. Messages are judged before
-- it, and while one message holds a worker for 10 s 8 sessions send 200
-- more: none is tempfailed, the ones that arrive meanwhile wait in the
-- keeper's queue. "fault" names the fault-injection binary.
dofile(top .. "/test/protocol/lib/common.lua")
dofile(top .. "/test/protocol/lib/burst.lua")
T.check(fault ~= nil and fault ~= "", "no fault-injection build")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")
local meminfo = tmp .. "/meminfo"
local function set_available(kb)
	local f = assert(io.open(meminfo .. ".new", "w"))
	f:write("MemTotal:       33554432 kB\nMemFree:        " .. kb ..
	    " kB\nMemAvailable:   " .. kb .. " kB\n")
	f:close()
	assert(os.rename(meminfo .. ".new", meminfo))
end
set_available(32 * 1024 * 1024)		-- 32 GiB: room for two engines

T.write_policy("workers = 2\nlog_level = diagnostic\n" ..
    "[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n")
mt.startfilter("/usr/bin/env", "PORTCULLIS_FAULT_MEMINFO=" .. meminfo, fault,
    "daemon", "--foreground", "--policy", T.policy_file, "--socket",
    "unix:" .. T.sock, "-o", "daemon.user=" ..
    (os.getenv("PORTCULLIS_TEST_USER") or ""))
T.wait_log("event=start ")
T.wait_log("event=signatures result=loaded", 60)
local pid = T.pid()
local function workers()
	local k = T.sh("pgrep -P " .. pid .. " -f 'portcullis keeper'"):
	    match("%d+")
	local set, n = {}, 0
	for w in T.sh("pgrep -x portcullis-wkr -P " .. (k or "0")):gmatch("%d+") do
		set[w] = true
		n = n + 1
	end
	return set, n
end

-- with plenty of memory: the reload beside the engine in force
T.signal_and_wait(12, "event=signatures result=loaded", 2)		-- SIGUSR2
T.wait_log("event=reload what=signatures result=overlap")
T.check(T.count_log("result=deferred") == 0,
    "plenty of memory: got a reload without the overlap, want beside")

-- messages before the reload
local pre = B.start("P", 4, 10, 16)
B.wait(pre)
local ok, bad, why = B.count(pre)
T.check(ok == 40, "before the reload: got " .. ok .. " delivered, want " ..
    "40: " .. why)
-- one message keeps a worker busy for 10 s (the fault "slow"): the
-- quiet moment has to wait for it, and the messages sent meanwhile wait
local slow = B.start("S", 1, 1, 1, "slow 10000")
T.wait_log("S1X1: event=worker state=assigned")
local old = workers()
set_available(64 * 1024)			-- 64 MiB: under the margin
mt.signal(12)					-- SIGUSR2
T.line_has(T.wait_log("what=signatures result=deferred"),
    { "available_mib=64" })
local CLIENTS, EACH = 8, 25
local b = B.start("M", CLIENTS, EACH, 16)
local rel = T.wait_log("result=released overlap=no")
T.line_has(rel, { "busy_workers=0" })
local waiting = tonumber(rel:match("waiting=(%d+)"))
T.check(waiting ~= nil and waiting >= 1, "got " .. tostring(waiting) ..
    " messages waiting for the new engine, want some: " .. rel)
T.wait_log("event=signatures result=loaded", nil, 3)
local done = T.wait_log("result=done overlap=no")
B.wait(slow)
B.wait(b)

-- the log's order: released before the new engine was compiled
local log = T.log()
local at_rel = log:find("result=released overlap=no", 1, true)
local at_new = select(2, log:find(".*event=signatures result=loaded"))
T.check(at_rel ~= nil and at_new ~= nil and at_rel < at_new,
    "the old engine released before the new one was compiled")
-- the slow message was still being scanned when the reload came (so
-- the keeper had a busy worker to wait for: "released after" says how
-- long it waited)
local at_slow = log:find("S1X1: event=verdict client=", 1, true)
local at_low = log:find("result=deferred", 1, true)
T.check(at_slow ~= nil and at_low ~= nil and at_low < at_slow,
    "the slow message was judged before the reload: the test proves nothing")
-- every worker is new
local new, n = workers()
for w in pairs(new) do
	T.check(not old[w], "worker " .. w .. " of the old engine still there")
end
T.check(n == 2, "got " .. n .. " workers after the reload, want 2")

ok, bad, why = B.count(slow)
T.check(ok == 1, "the slow message: got " .. ok .. " delivered, want 1: " ..
    why)
ok, bad, why = B.count(b)
T.check(ok == CLIENTS * EACH and bad == 0, "across the reload: got " ..
    ok .. " delivered and " .. bad .. " not, want " .. CLIENTS * EACH ..
    ": " .. why)
local after = 0
for _ in log:sub(at_rel):gmatch("action=accept") do
	after = after + 1
end
T.check(after > 0, "no message was judged after the old engine went")
T.check(T.count_log("action=tempfail") == 0, "got " ..
    T.count_log("action=tempfail") .. " tempfail, want 0")
T.check(T.pid() == pid, "milter process unchanged")
io.stderr:write("figures: " .. rel .. "\n" .. done .. "\n")
