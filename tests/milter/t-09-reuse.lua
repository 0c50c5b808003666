-- t-09-reuse.lua - Postfix reuses queue ID 4AbCdEfGh1 (held by t-01) for a
-- new dial-up message; t-milter.sh sets warn_time 0 for dialup.test first
-- and checks that the old record's index entries and counts are gone.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4AbCdEfGh1"

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

run(main)
