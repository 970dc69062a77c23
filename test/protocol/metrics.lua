-- [daemon] metrics_file and metrics_listen: the Prometheus text counts
-- messages by direction and disposition, findings by direction and rule,
-- quarantined messages by area and notifications by result; the file is
-- mode 0644 even under the shipped unit's umask (0007; here a stricter
-- 0077) so that node_exporter, another user, can read it, and is
-- rewritten on SIGUSR1. The same text is served over HTTP at /metrics
-- (other paths 404, other methods 405), and both pass promtool's parser
-- and linter (names, _total, units). The server is bounded: connections
-- per address, and an idle one is closed.
dofile(top .. "/test/protocol/lib/common.lua")

local function q(path)		-- quoted for sh (the ASan run's dir has a space)
	return "'" .. path .. "'"
end
-- a directory the daemon's user (nobody, when run as root) may write
os.execute("mkdir -p " .. q(tmp .. "/m") .. " && chmod 777 " ..
    q(tmp .. "/m"))
os.execute("mkdir -p " .. q(tmp .. "/quarantine") .. " && chmod 777 " ..
    q(tmp .. "/quarantine"))
local file = tmp .. "/m/portcullis.prom"
-- notifications go to a sink: a program that reads the message, exits 0
local sink = tmp .. "/sendmail-sink"
local f = assert(io.open(sink, "w"))
f:write("#!/bin/sh\ncat > /dev/null\n")
f:close()
os.execute("chmod 755 " .. q(sink))

local function policy(sendmail)
	return "metrics_file = " .. file .. "\n" ..
	    "metrics_listen = 127.0.0.1:0\n" ..
	    "[antivirus]\nenabled = no\n" ..
	    "[quarantine]\ndirectory = " .. tmp .. "/quarantine\n" ..
	    "[notify]\nadmin = postmaster@example.com\nsendmail = " ..
	    sendmail .. "\n" ..
	    "[rules]\nblocked_extension = keep\n" ..
	    "[action:keep]\ndisposition = reject\nquarantine = attachment\n" ..
	    "notify = admin\n"
end

-- Started as T.start does, but under umask 0077 (exec keeps the pid).
T.write_policy(policy(sink))
mt.startfilter("/bin/sh", "-c", 'umask 0077 && exec "$0" "$@"', bin,
    "daemon", "--foreground", "--policy", T.policy_file, "--socket",
    "unix:" .. T.sock, "-o", "daemon.user=" ..
    (os.getenv("PORTCULLIS_TEST_USER") or ""))
T.wait_log("event=start ")
local port = T.wait_log("event=metrics state=serving url=http://127.0.0.1:"):match(
    "http://127%.0%.0%.1:(%d+)/metrics")
T.check(port ~= nil and tonumber(port) > 0, "a port in the log line")
local base = "http://127.0.0.1:" .. port

-- GET url: status, body (python3's client, 10 s bound per request).
local function http(url, method)
	local out = tmp .. "/http.out"
	local st = T.sh("python3 -c '\n" ..
	    "import sys, urllib.request, urllib.error\n" ..
	    "req = urllib.request.Request(sys.argv[1], method=sys.argv[2])\n" ..
	    "try:\n" ..
	    "    r = urllib.request.urlopen(req, timeout=10)\n" ..
	    "    st, body = r.status, r.read()\n" ..
	    "except urllib.error.HTTPError as e:\n" ..
	    "    st, body = e.code, e.read()\n" ..
	    "open(sys.argv[3], \"wb\").write(body)\n" ..
	    "print(st)\n' " .. q(url) .. " " .. (method or "GET") .. " " ..
	    q(out) .. " 2>&1")
	return tonumber(st:match("^(%d+)")), T.read_file(out) or st
end

-- promtool check metrics: its verdict on a text ("" when clean).
local function promtool(path)
	local out = T.sh("promtool check metrics < " .. q(path) ..
	    " 2>&1; echo rc=$?")
	return out
end

local function has(text, line, what)
	T.check(text:find(line, 1, true) ~= nil, what .. ": want '" .. line ..
	    "' in:\n" .. text)
end

local conn = T.postfix_conn()
local r, stage = T.postfix_message(conn, { qid = "ME1" })
T.delivered(r, stage, "clean message")
r, stage = T.postfix_message(conn, { qid = "ME2",
    headers = T.mime_headers("exe"),
    body = T.mime_with_attachment("run.exe", "MZ") })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "blocked: rejected")
T.wait_log("ME2:")
-- outbound: an authenticated sender
r, stage = T.postfix_message(conn, { qid = "ME3", auth = "alice" })
T.delivered(r, stage, "outbound message")
T.wait_log("ME3:")

-- HTTP counts live; the notification is sent by its own thread.
local st, text = http(base .. "/metrics")
T.check(st == 200, "GET /metrics: got " .. tostring(st) .. ", want 200")
text = T.wait_for("the notification counted over HTTP", function()
	local s, t = http(base .. "/metrics")
	return s == 200 and t:find(
	    'portcullis_notifications_total{result="sent"} 1', 1, true) and t
end)
has(text, 'portcullis_messages_total{direction="inbound",action="accept"} 1',
    "inbound accept")
has(text, 'portcullis_messages_total{direction="inbound",action="reject"} 1',
    "inbound reject")
has(text,
    'portcullis_messages_total{direction="outbound",action="accept"} 1',
    "outbound accept")
has(text,
    'portcullis_messages_total{direction="outbound",action="reject"} 0',
    "outbound reject")
has(text, 'portcullis_findings_total{direction="inbound",' ..
    'rule="blocked_extension"} 1', "finding")
has(text, 'portcullis_quarantined_messages_total{area="attachment"} 1',
    "quarantined by area")
has(text, 'portcullis_notifications_total{result="failed"} 0',
    "no failed notification")
has(text, "portcullis_scan_duration_seconds_count 3", "histogram count")
T.check(text:match('portcullis_message_bytes_total{direction="inbound"} ' ..
    '(%d+)') ~= "0", "inbound bytes counted:\n" .. text)

-- The file: rewritten on SIGUSR1, in one step (rename).
T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok", 1)
local ftext = T.wait_for(file .. " counting the notification", function()
	local t = T.read_file(file)
	return t ~= nil and
	    t:find('portcullis_notifications_total{result="sent"} 1', 1,
	    true) and t
end)
local mode = T.sh("stat -c %a " .. q(file)):gsub("%s+$", "")
T.check(mode == "644", "metrics_file mode: got " .. mode ..
    ", want 644 (umask 0077)")
T.check(T.read_file(file .. ".tmp") == nil, "no temporary file left")
-- nothing counts now: the file and a scrape are the same text
st, text = http(base .. "/metrics")
T.check(text == ftext, "HTTP and file differ:\n--- http\n" .. text ..
    "\n--- file\n" .. ftext)
local v = promtool(file)
T.check(v == "rc=0\n", "promtool check metrics on the file: got '" .. v ..
    "', want nothing, rc=0")
local hfile = tmp .. "/http.out"
v = promtool(hfile)
T.check(v == "rc=0\n", "promtool check metrics on /metrics: got '" .. v ..
    "', want nothing, rc=0")
-- HEAD: the headers only
st = http(base .. "/metrics", "HEAD")
T.check(st == 200, "HEAD /metrics: got " .. tostring(st) .. ", want 200")
st = http(base .. "/")
T.check(st == 404, "GET /: got " .. tostring(st) .. ", want 404")
st = http(base .. "/metrics/x")
T.check(st == 404, "GET /metrics/x: got " .. tostring(st) .. ", want 404")
st = http(base .. "/metrics", "DELETE")
T.check(st == 405, "DELETE /metrics: got " .. tostring(st) .. ", want 405")

-- A failing sendmail: the notification is counted as failed.
T.write_policy(policy("/bin/false"))
T.signal_and_wait(T.SIGUSR1, "event=reload what=policy result=ok", 2)
r, stage = T.postfix_message(conn, { qid = "ME4",
    headers = T.mime_headers("exe"),
    body = T.mime_with_attachment("run.exe", "MZ") })
T.check(stage == "eom" and r == SMFIR_REPLYCODE, "blocked again: rejected")
mt.disconnect(conn)
text = T.wait_for("the failed notification counted over HTTP", function()
	local s, t = http(base .. "/metrics")
	return s == 200 and t:find(
	    'portcullis_notifications_total{result="failed"} 1', 1, true) and t
end)
has(text, 'portcullis_quarantined_messages_total{area="attachment"} 2',
    "quarantined twice")
has(text, 'portcullis_notifications_total{result="sent"} 1', "sent still 1")

-- Bounded: 8 connections from one address (a 9th is closed at once), and
-- a connection that says nothing is closed after 10 s.
local lim = T.sh("python3 -c '\n" ..
    "import socket, sys, time\n" ..
    "def closed(s):\n" ..
    "    try:\n" ..
    "        return s.recv(1) == b\"\"\n" ..
    "    except ConnectionResetError:\n" ..
    "        return True\n" ..
    "    except socket.timeout:\n" ..
    "        return False\n" ..
    "a = (\"127.0.0.1\", int(sys.argv[1]))\n" ..
    "held = [socket.create_connection(a, timeout=5) for i in range(8)]\n" ..
    "ninth = socket.create_connection(a, timeout=5)\n" ..
    "print(\"ninth\", \"closed\" if closed(ninth) else \"open\")\n" ..
    "t0 = time.time()\n" ..
    "held[0].settimeout(60)\n" ..
    "print(\"idle\", \"closed\" if closed(held[0]) else \"open\", " ..
    "int(time.time() - t0))\n' " .. port .. " 2>&1")
T.check(lim:find("ninth closed", 1, true) ~= nil,
    "a 9th connection from one address: got '" .. lim .. "', want closed")
local idle = tonumber(lim:match("idle closed (%d+)"))
T.check(idle ~= nil and idle >= 5 and idle <= 30, "an idle connection: " ..
    "got '" .. lim .. "', want closed after about 10 s")
