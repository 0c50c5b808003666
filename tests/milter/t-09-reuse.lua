-- t-09-reuse.lua - Postfix reuses queue ID 4AbCdEfGh1 (held by t-01) for a
-- new dial-up message; t-milter.sh sets warn_time 0 for dialup.test first
-- and checks that the old record's index entries and counts are gone.
local sock = os.getenv("MILTER_SOCKET") or error("MILTER_SOCKET is not set")
local QID = "4AbCdEfGh1"

-- check - fail with msg unless cond holds
local function check(cond, msg)
	if not cond then
		error(msg, 2)
	end
end

-- ok - fail unless the call returned nil and the reply is continue/accept
local function ok(conn, what, err)
	check(err == nil, what .. ": " .. tostring(err))
	local got = mt.getreply(conn)
	check(got == SMFIR_CONTINUE or got == SMFIR_ACCEPT,
	    what .. ": unexpected reply '" .. string.char(got) .. "'")
end

-- main - the scenario
local function main()
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	ok(conn, "conninfo", mt.conninfo(conn, "client.test", "192.0.2.1"))
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	ok(conn, "mailfrom", mt.mailfrom(conn, "<again@example.org>"))
	ok(conn, "rcptto", mt.rcptto(conn, "<v@dialup.test>"))
	ok(conn, "header", mt.header(conn, "Subject", "t-09 reuse"))
	ok(conn, "eoh", mt.eoh(conn))
	ok(conn, "body", mt.bodystring(conn, "x\r\n"))
	ok(conn, "eom", mt.eom(conn))
	check(mt.eom_check(conn, MT_QUARANTINE), "message not quarantined")
	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	check(v ~= nil, "no X-ETRN-Hold value")
	mt.disconnect(conn)
	print("RESULT qid=" .. QID)
	print("RESULT token=" .. v:match("token=([0-9a-f]+);"))
end

-- miltertest exits 1 on a script error without printing it: print it here
local good, err = xpcall(main, debug.traceback)
if not good then
	io.stderr:write("FAILED: " .. tostring(err) .. "\n")
	error(err, 0)
end
