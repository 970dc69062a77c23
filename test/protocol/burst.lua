-- A burst against one scanning worker: 40 sessions at once (separate
-- miltertest processes, test/protocol/lib/burst-client.lua), 5 messages
-- of 256 KiB each, 200 in all, while the worker takes one at a time. No
-- message may be tempfailed: every one waits its turn (well inside
-- scan_time) and is delivered. The defect this guards against: a waiting
-- message's descriptors sat in a socket ("in flight"), and once the
-- daemon's user had more in flight than the worker's RLIMIT_NOFILE (64)
-- the kernel refused the worker's answer (ETOOMANYREFS): bursts of
-- "451 4.7.1 Virus scanner not ready" with no worker restarted.
dofile(top .. "/test/protocol/lib/common.lua")
dofile(top .. "/test/protocol/lib/burst.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")
local CLIENTS, EACH, KIB = 40, 5, 256
T.start("workers = 1\n[limits]\nscan_time = 60s\n" ..
    "[antivirus]\nenabled = yes\ndatabase = " .. sigs .. "\n")
T.wait_log("event=signatures result=loaded", 60)
local pid = T.pid()

local b = B.start("B", CLIENTS, EACH, KIB)
B.wait(b)
local ok, bad, why = B.count(b)
T.check(ok == CLIENTS * EACH and bad == 0, "burst: got " .. ok ..
    " delivered and " .. bad .. " not, want " .. CLIENTS * EACH ..
    " delivered: " .. why)
T.check(T.count_log("action=tempfail") == 0, "burst: got " ..
    T.count_log("action=tempfail") .. " action=tempfail lines, want 0")
T.check(T.count_log("died") == 0, "burst: a worker died")
T.check(T.pid() == pid, "milter process unchanged")
