-- test/protocol/lib/common.lua - helpers for the protocol ring.
--
-- Loaded by every test/protocol/*.lua with
--   dofile(top .. "/test/protocol/lib/common.lua")
-- test/protocol/run defines the globals: bin (the portcullis binary),
-- tmp (a private directory: policy, socket, spool, log), top (the source
-- tree) and, when a test signature database could be built, sigs.
-- The daemon's log (PORTCULLIS_LOG_STDERR=1) is in tmp .. "/log".
--
-- Tests wait for conditions (a log line, a file, a reply), never for a
-- fixed time. Every wait is bounded by T.WAIT seconds of wall-clock time
-- (PORTCULLIS_TEST_WAIT, default 120): far above what any step takes, so
-- that a sanitizer build on a loaded machine does not fail at random; a
-- real hang still ends. mt.set_timeout bounds each reply the same way.

T = {}
T.sock = tmp .. "/portcullis.sock"
T.policy_file = tmp .. "/policy.ini"
T.SIGHUP, T.SIGUSR1, T.SIGTERM = 1, 10, 15
T.WAIT = tonumber(os.getenv("PORTCULLIS_TEST_WAIT") or "") or 120

mt.set_timeout(T.WAIT)

-- Postfix 3.7 offers these (NOTES-API 1.3).
T.PF_ACTIONS, T.PF_STEPS = 0x1ff, 0x1fffff

-- miltertest drops the message of a failed script: say it on stderr
-- (the ring shows it), with where it happened, then fail.
local function raise(msg, level)
	io.stderr:write("TEST FAILED: " ..
	    debug.traceback(msg, (level or 1) + 1) .. "\n")
	error(msg, (level or 1) + 1)
end
T.raise = raise

function T.fail(msg)
	raise(msg, 2)
end

function T.check(cond, msg)
	if not cond then
		raise("check failed: " .. msg, 2)
	end
end

local function rname(r)
	if r == nil then
		return "nil"
	end
	return "'" .. string.char(r) .. "'"
end

-- The reply to the last command must be want (an SMFIR_* value).
function T.reply(conn, want, what)
	local r = mt.getreply(conn)
	if r ~= want then
		raise(what .. ": got reply " .. rname(r) .. ", want " ..
		    rname(want), 2)
	end
end

-- Writes the policy: the test's settings after the ring's defaults.
-- Later keys of a section must not repeat a default: pass overrides
-- for the defaults through T.start's extra arguments (-o) instead.
function T.write_policy(text, host)
	local f = assert(io.open(T.policy_file .. ".new", "w"))
	f:write("[daemon]\n")
	f:write("pid_file = " .. tmp .. "/portcullis.pid\n")
	f:write("spool_dir = " .. tmp .. "/spool\n")
	f:write("hostname = " .. (host or "mx.test") .. "\n")
	f:write("shutdown_timeout = 5s\n")
	f:write(text or "")
	f:close()
	-- replaced in one step: a reload never sees half a file
	assert(os.rename(T.policy_file .. ".new", T.policy_file))
end

-- The daemon's pid (from its pid file).
function T.pid()
	local f = assert(io.open(tmp .. "/portcullis.pid", "r"))
	local pid = f:read("l")
	f:close()
	return pid
end

-- Output of a shell command (bounded use: ls of /proc and the like).
function T.sh(cmd)
	local p = assert(io.popen(cmd, "r"))
	local s = p:read("a")
	p:close()
	return s
end

-- Starts the daemon under policy text (appended to the [daemon] section
-- defaults above; start other sections with their header) and returns
-- once it answers. Extra arguments go to the command line.
function T.start(text, ...)
	T.write_policy(text)
	local user = os.getenv("PORTCULLIS_TEST_USER") or ""
	mt.startfilter(bin, "daemon", "--foreground", "--policy",
	    T.policy_file, "--socket", "unix:" .. T.sock,
	    "-o", "daemon.user=" .. user, ...)
	-- logged once the socket listens
	T.wait_log("event=start ")
end

-- Waits (at most secs, default T.WAIT, of wall-clock time) until fn()
-- returns a true value, and returns it; fails naming what otherwise.
function T.wait_for(what, fn, secs)
	local deadline = os.time() + (secs or T.WAIT)
	while true do
		local v = fn()
		if v then
			return v
		end
		if os.time() > deadline then
			raise("waited " .. (secs or T.WAIT) .. " s in vain for " ..
			    what, 2)
		end
		mt.sleep(0.05)
	end
end

-- Connects to the daemon's socket, retrying until it accepts.
function T.connect()
	local conn, why
	T.wait_for("a connection to " .. T.sock, function()
		local ok, c = pcall(mt.connect, "unix:" .. T.sock)
		if ok and c ~= nil then
			conn = c
			return true
		end
		why = c
		return false
	end)
	if conn == nil then
		raise("cannot connect to " .. T.sock .. ": " .. tostring(why), 2)
	end
	return conn
end

function T.log()
	local f = io.open(tmp .. "/log", "r")
	if f == nil then
		return ""
	end
	local s = f:read("a")
	f:close()
	return s
end

-- Number of log lines containing needle (plain text).
function T.count_log(needle)
	local n = 0
	for line in T.log():gmatch("[^\n]+") do
		if line:find(needle, 1, true) then
			n = n + 1
		end
	end
	return n
end

-- The n-th log line containing needle, or nil.
local function log_line(needle, n)
	local k = 0
	for line in T.log():gmatch("[^\n]+") do
		if line:find(needle, 1, true) then
			k = k + 1
			if k == n then
				return line
			end
		end
	end
	return nil
end

-- Waits (at most secs, default T.WAIT) for the n-th log line containing
-- needle, and returns it.
function T.wait_log(needle, secs, n)
	n = n or 1
	local deadline = os.time() + (secs or T.WAIT)
	while true do
		local line = log_line(needle, n)
		if line ~= nil then
			return line
		end
		if os.time() > deadline then
			raise("no log line #" .. n .. " with \"" .. needle ..
			    "\" in " .. (secs or T.WAIT) .. " s", 2)
		end
		mt.sleep(0.05)
	end
end

-- The contents of a file, or nil if it cannot be read.
function T.read_file(path)
	local f = io.open(path, "r")
	if f == nil then
		return nil
	end
	local s = f:read("a")
	f:close()
	return s
end

-- The line must contain every needle of the list.
function T.line_has(line, needles)
	for _, s in ipairs(needles) do
		if not line:find(s, 1, true) then
			raise("log line lacks \"" .. s .. "\": " .. line, 2)
		end
	end
end

-- A connection as Postfix opens it: negotiate, connect macros, connect,
-- EHLO. ip may be "unspec".
function T.postfix_conn(host, ip)
	local conn = T.connect()
	T.check(mt.negotiate(conn, 6, T.PF_ACTIONS, T.PF_STEPS) == nil,
	    "negotiate")
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.test", "{daemon_name}",
	    "mx.test", "{daemon_addr}", "127.0.0.1", "v", "Postfix 3.7.11",
	    "_", "client.example [" .. (ip or "192.0.2.10") .. "]")
	T.check(mt.conninfo(conn, host or "client.example",
	    ip or "192.0.2.10") == nil, "conninfo")
	T.reply(conn, SMFIR_CONTINUE, "connect")
	T.check(mt.helo(conn, host or "client.example") == nil, "helo")
	T.reply(conn, SMFIR_CONTINUE, "helo")
	return conn
end

-- One message in Postfix's order and with Postfix's default macros:
-- MAIL (i empty), RCPT, DATA/EOH/EOM with i. m = { from, rcpts, qid,
-- headers = { {name, value}, ... }, body, esmtp, auth }. Stops early and
-- returns the reply if a step does not continue; else returns the EOM
-- reply.
function T.postfix_message(conn, m)
	local hdrs = m.headers or {
		{ "From", "Sender <" .. (m.from or "sender@example.net") .. ">" },
		{ "To", "rcpt@example.com" },
		{ "Subject", "hello" },
		{ "Message-Id", "<1@example.net>" },
		{ "Date", "Mon, 2 Mar 2026 10:00:00 +0000" },
	}
	mt.macro(conn, SMFIC_MAIL, "i", "", "{auth_type}", m.auth and "PLAIN"
	    or "", "{auth_authen}", m.auth or "", "{mail_addr}",
	    m.from or "sender@example.net")
	if m.esmtp then
		T.check(mt.mailfrom(conn, "<" .. (m.from or
		    "sender@example.net") .. ">", m.esmtp) == nil, "mailfrom")
	else
		T.check(mt.mailfrom(conn, "<" .. (m.from or
		    "sender@example.net") .. ">") == nil, "mailfrom")
	end
	local r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE then
		return r, "mail"
	end
	for _, rc in ipairs(m.rcpts or { "rcpt@example.com" }) do
		mt.macro(conn, SMFIC_RCPT, "i", "", "{rcpt_addr}", rc)
		T.check(mt.rcptto(conn, "<" .. rc .. ">") == nil, "rcptto")
		r = mt.getreply(conn)
		if r ~= SMFIR_CONTINUE and not m.rcpt_may_fail then
			return r, "rcpt"
		end
	end
	if m.qid then
		mt.macro(conn, string.byte("T"), "i", m.qid)
	end
	T.check(mt.data(conn) == nil, "data")
	r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE then
		return r, "data"
	end
	for _, h in ipairs(hdrs) do
		T.check(mt.header(conn, h[1], h[2]) == nil, "header")
		r = mt.getreply(conn)
		if r ~= SMFIR_CONTINUE then
			return r, "header"
		end
	end
	if m.qid then
		mt.macro(conn, string.byte("N"), "i", m.qid)
	end
	T.check(mt.eoh(conn) == nil, "eoh")
	r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE then
		return r, "eoh"
	end
	-- body chunks are at most 65535 bytes (MILTER_CHUNK_SIZE)
	local chunks = m.chunks
	if chunks == nil then
		local body = m.body or "Hello.\r\n"
		chunks = {}
		for i = 1, #body, 65535 do
			chunks[#chunks + 1] = body:sub(i, i + 65534)
		end
	end
	for _, c in ipairs(chunks) do
		T.check(mt.bodystring(conn, c) == nil, "body")
		r = mt.getreply(conn)
		if r ~= SMFIR_CONTINUE then
			return r, "body"
		end
	end
	if m.qid then
		mt.macro(conn, string.byte("E"), "i", m.qid)
	end
	T.check(mt.eom(conn) == nil, "eom")
	return mt.getreply(conn), "eom"
end

-- The message was delivered (EOM continue or accept).
function T.delivered(r, stage, what)
	if stage ~= "eom" or (r ~= SMFIR_CONTINUE and r ~= SMFIR_ACCEPT) then
		raise(what .. ": not delivered: reply " .. rname(r) .. " at " ..
		    stage, 2)
	end
end

-- A MIME message with one attachment (base64 of data) named name.
function T.mime_with_attachment(name, data, ctype)
	local b64 = T.base64(data)
	return "--b1\r\n" ..
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n" ..
	    "See attached.\r\n\r\n" ..
	    "--b1\r\n" ..
	    "Content-Type: " .. (ctype or "application/octet-stream") ..
	    "; name=\"" .. name .. "\"\r\n" ..
	    "Content-Disposition: attachment; filename=\"" .. name .. "\"\r\n" ..
	    "Content-Transfer-Encoding: base64\r\n\r\n" ..
	    b64 .. "\r\n--b1--\r\n"
end

T.mime_headers = function(subject)
	return {
		{ "From", "sender@example.net" },
		{ "To", "rcpt@example.com" },
		{ "Subject", subject or "with attachment" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "multipart/mixed; boundary=\"b1\"" },
	}
end

local b64chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function T.base64(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = s:byte(i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for k = 3, 0, -1 do
			local v = (n >> (6 * k)) & 63
			q[#q + 1] = b64chars:sub(v + 1, v + 1)
		end
		if b == nil then
			q[3], q[4] = "=", "="
		elseif c == nil then
			q[4] = "="
		end
		out[#out + 1] = table.concat(q)
	end
	local all, lines = table.concat(out), {}
	for i = 1, #all, 76 do
		lines[#lines + 1] = all:sub(i, i + 75)
	end
	return table.concat(lines, "\r\n")
end

-- The EICAR test string, put together at run time from two halves so
-- that no file in the tree carries it.
function T.eicar()
	return "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" ..
	    "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
end

-- Sends a signal to the daemon and waits for its n-th log line with
-- needle (reloads are logged).
function T.signal_and_wait(sig, needle, n)
	mt.signal(sig)
	return T.wait_log(needle, nil, n)
end
