-- test/protocol/lib/burst.lua - many sessions at once against the daemon
-- a test started: each is a separate miltertest process running
-- test/protocol/lib/burst-client.lua (miltertest itself waits for each
-- reply, so one script cannot keep several messages in flight).
-- Loaded after common.lua:
--   dofile(top .. "/test/protocol/lib/burst.lua")
--   local b = B.start("X", clients, each, kib[, fault])  -- at once
--   B.wait(b)                                   -- all clients ended
--   local ok, bad, lines = B.count(b)           -- "ok" lines, others
-- Each client is bounded (timeout T.WAIT + 60 s), and so is the wait.

B = {}

-- A word for sh: the ring's directories have spaces and parentheses.
local function q(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function out_file(b, c)
	return tmp .. "/burst-" .. b.prefix .. c .. ".out"
end

function B.start(prefix, clients, each, kib, fault)
	local b = { prefix = prefix, clients = clients, each = each }
	for c = 1, clients do
		local cmd = "timeout " .. (T.WAIT + 60) .. " miltertest -s " ..
		    q(top .. "/test/protocol/lib/burst-client.lua") ..
		    " -D " .. q("top=" .. top) .. " -D " .. q("tmp=" .. tmp) ..
		    " -D id=" .. prefix .. c .. " -D n=" .. each ..
		    " -D kib=" .. (kib or 1) ..
		    (fault and " -D " .. q("fault=" .. fault) or "") ..
		    " -D " .. q("out=" .. out_file(b, c)) ..
		    " >" .. q(out_file(b, c) .. ".err") .. " 2>&1 &"
		T.check(os.execute(cmd), "cannot start burst client " .. c)
	end
	return b
end

function B.wait(b)
	T.wait_for("the " .. b.clients .. " burst clients to finish", function()
		for c = 1, b.clients do
			if T.read_file(out_file(b, c)) == nil then
				return false
			end
		end
		return true
	end)
end

-- Delivered, not delivered, and the first ten of the latter (with the
-- lines of the daemon's log that say why).
function B.count(b)
	local ok, bad, lines, failed = 0, 0, {}, {}
	for c = 1, b.clients do
		local f = T.read_file(out_file(b, c))
		if f == nil or f:find("\ndone\n$") == nil then
			T.fail("burst client " .. c .. " did not end; its " ..
			    "stderr: " .. (T.read_file(out_file(b, c) .. ".err")
			    or "none"))
		end
		for qid, what in f:gmatch("(%S+) ([^\n]+)\n") do
			if what == "ok" then
				ok = ok + 1
			else
				bad = bad + 1
				failed[#failed + 1] = qid
				if #lines < 10 then
					lines[#lines + 1] = qid .. " " .. what
				end
			end
		end
	end
	if bad > 0 then
		-- the daemon's lines about the failed messages (their errors
		-- and verdicts; not the explain steps), its scan errors and
		-- its reload and keeper lines
		local n = 0
		for line in T.log():gmatch("[^\n]+") do
			local hit = (line:find("event=error", 1, true) ~= nil and
			    line:find("stage=scan", 1, true) ~= nil) or
			    line:find("event=reload", 1, true) ~= nil or
			    line:find("event=keeper", 1, true) ~= nil
			for i = 1, math.min(#failed, 10) do
				if line:find(failed[i] .. ": ", 1, true) and
				    not line:find("event=explain", 1, true) then
					hit = true
				end
			end
			if n < 20 and hit then
				lines[#lines + 1] = "log: " .. line
				n = n + 1
			end
		end
	end
	return ok, bad, table.concat(lines, "; ")
end
