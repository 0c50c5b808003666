-- t-13-many.lua - 100 messages on one connection, after 20 to warm up:
-- each is decided on its own.  Every third passes (a recipient elsewhere:
-- no tag, no quarantine); the others are held, for dialup.test or for
-- their own subdomain m<i>.sub.test (the reason and the tag must name
-- that one), some with a forged tag to delete.  Each carries four 896-octet
-- headers, kept in its record, so that a leak per message shows in the
-- milter's VmRSS, read from /proc before and after the 100 (the bound is
-- checked by t-milter.sh).  RESULT lines: held=QID DOMAIN for each held
-- message, rss_before/rss_after in kB.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local PAD = string.rep("0123456789abcdef", 56)

-- rss - the milter's VmRSS in kB (MILTER_PID)
local function rss()
	local pid = os.getenv("MILTER_PID") or error("MILTER_PID is not set")
	local f = io.open("/proc/" .. pid .. "/status", "r")
	check(f ~= nil, "cannot read /proc/" .. pid .. "/status")
	local kb
	for line in f:lines() do
		kb = kb or line:match("^VmRSS:%s+(%d+) kB")
	end
	f:close()
	check(kb ~= nil, "no VmRSS for " .. pid)
	return tonumber(kb)
end

-- message - message i on conn; prints its RESULT line when held
local function message(conn, i, quiet)
	local C = SMFIR_CONTINUE
	local qid = string.format("4Many%06d", i)
	local kind = i % 3
	local domain, rcpt
	if kind == 0 then
		rcpt = "<p" .. i .. "@example.net>"
	elseif kind == 1 then
		domain = "dialup.test"
		rcpt = "<d" .. i .. "@dialup.test>"
	else
		domain = "m" .. i .. ".sub.test"
		rcpt = "<s" .. i .. "@" .. domain .. ">"
	end
	local what = "message " .. i .. ": "
	mt.macro(conn, SMFIC_MAIL, "i", qid)
	expect(conn, what .. "mailfrom",
	    mt.mailfrom(conn, "<s" .. i .. "@example.org>"), C)
	expect(conn, what .. "rcptto", mt.rcptto(conn, rcpt), C)
	local forged = i % 5 == 0
	if forged then
		expect(conn, what .. "forged tag", mt.header(conn, "X-ETRN-Hold",
		    "dialup.test; host=mx.test; token=forged"), C)
	end
	expect(conn, what .. "header", mt.header(conn, "Subject", "many " .. i), C)
	for h = 1, 4 do
		expect(conn, what .. "pad", mt.header(conn, "X-Pad" .. h, PAD), C)
	end
	expect(conn, what .. "eoh", mt.eoh(conn), C)
	expect(conn, what .. "body", mt.bodystring(conn, PAD .. "\r\n"), C)
	expect(conn, what .. "eom", mt.eom(conn), C, SMFIR_ACCEPT)
	check(mt.eom_check(conn, MT_HDRDELETE) == forged,
	    what .. "forged tag deleted: want " .. tostring(forged))
	check(not mt.eom_check(conn, MT_RCPTDELETE, rcpt), what .. "rcpt deleted")
	if domain == nil then
		check(not mt.eom_check(conn, MT_QUARANTINE), what .. "quarantined")
		check(not mt.eom_check(conn, MT_HDRADD), what .. "header added")
		return
	end
	check(mt.eom_check(conn, MT_QUARANTINE, "held for ETRN by " .. domain),
	    what .. "not quarantined for " .. domain)
	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	local prefix = domain .. "; host=mx.test; token="
	check(v ~= nil and v:sub(1, #prefix) == prefix,
	    what .. "tag " .. tostring(v))
	check(mt.getheader(conn, "X-ETRN-Hold", 1) == nil, what .. "two tags")
	if not quiet then
		print("RESULT held=" .. qid .. " " .. domain)
	end
end

-- main - the scenario
local function main()
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.13"), SMFIR_CONTINUE)
	for i = 1001, 1020 do
		message(conn, i, true)
	end
	local before = rss()
	for i = 1, 100 do
		message(conn, i, false)
	end
	local after = rss()
	mt.disconnect(conn)
	print("RESULT rss_before=" .. before)
	print("RESULT rss_after=" .. after)
end

run(main)
