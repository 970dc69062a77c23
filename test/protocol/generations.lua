-- Engine generations: the keeper holds no engine; a generation process
-- compiles it and forks the workers. After a signature reload the old
-- generation is gone (it exits without freeing its engine) and the
-- workers are the new one's; a generation killed with kill -9 costs no
-- message: its workers keep serving until a new generation replaces it.
dofile(top .. "/test/protocol/lib/common.lua")
T.check(sigs ~= nil and sigs ~= "", "no test signature database")
T.start("workers = 2\n[antivirus]\nenabled = yes\ndatabase = " .. sigs ..
    "\n")
T.wait_log("event=signatures result=loaded", 60)
T.wait_log("event=keeper state=serving generation=1 ")
local pid = T.pid()
local keeper = T.sh("pgrep -P " .. pid .. " -f 'portcullis keeper'"):
    match("%d+")
T.check(keeper ~= nil, "keeper process found")

-- the keeper's children by name: generations and workers
local function children(name)
	local set, n = {}, 0
	for p in T.sh("pgrep -x " .. name .. " -P " .. keeper):gmatch("%d+") do
		set[p] = true
		n = n + 1
	end
	return set, n
end
-- waits (bounded) until there are g generations and w workers, the
-- generations none of old
local function wait_tree(g, w, old, what)
	local gens, ng, nw
	T.wait_for(what, function()
		gens, ng = children("portcullis-gen")
		nw = select(2, children("portcullis-wkr"))
		for p in pairs(gens) do
			if old ~= nil and old[p] then
				return false
			end
		end
		return ng == g and nw == w
	end)
	return gens
end
local gen1 = wait_tree(1, 2, nil, "one generation and its two workers")
local line = T.wait_log("event=keeper state=serving generation=1 ")
local g1pid = line:match("pid=(%d+)")
T.check(gen1[g1pid], "the serving generation (pid " .. tostring(g1pid) ..
    ") is the keeper's child named portcullis-gen")

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "GN1" })
T.delivered(r, stage, "generation 1")

-- a signature reload: generation 2 serves, generation 1 exits
T.signal_and_wait(12, "event=keeper state=serving generation=2 ")	-- SIGUSR2
local gen2 = wait_tree(1, 2, gen1, "after SIGUSR2: one new generation")
T.check(T.count_log("event=signatures result=loaded") == 2,
    "got " .. T.count_log("event=signatures result=loaded") ..
    " engines compiled, want 2")
r, stage = T.postfix_message(conn, { qid = "GN2" })
T.delivered(r, stage, "generation 2")

-- kill -9 of the serving generation: logged, replaced, no message lost
local g2pid = next(gen2)
os.execute("kill -KILL " .. g2pid)
T.line_has(T.wait_log("event=keeper state=died generation=2 "),
    { "pid=" .. g2pid, "signal=SIGKILL" })
-- while generation 3 compiles, generation 2's workers still serve
r, stage = T.postfix_message(conn, { qid = "GN3" })
T.delivered(r, stage, "after kill -9 of the generation")
T.wait_log("event=keeper state=serving generation=3 ")
wait_tree(1, 2, gen2, "after kill -9 of the generation: a new one")
r, stage = T.postfix_message(conn, { qid = "GN4" })
T.delivered(r, stage, "generation 3")

T.check(T.count_log("action=tempfail") == 0, "got " ..
    T.count_log("action=tempfail") .. " tempfailed, want 0")
T.check(T.count_log("event=worker state=died") == 0, "got " ..
    T.count_log("event=worker state=died") .. " worker deaths, want 0")
T.check(T.pid() == pid, "milter process unchanged")
mt.disconnect(conn)
