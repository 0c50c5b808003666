-- t-10-noaddr.lua - a connection with no host address: Postfix passes
-- "unknown" and an unknown protocol family (no sockaddr reaches
-- xxfi_connect).  The message is held like any other; t-milter.sh checks
-- that the record names the client "unknown[unknown]".
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4NoAddr0001"

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo", mt.conninfo(conn, "unknown", "unspec"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<noaddr@example.org>"), C)
	expect(conn, "rcptto", mt.rcptto(conn, "<u@dialup.test>"), C)
	expect(conn, "header", mt.header(conn, "Subject", "t-10 noaddr"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "body", mt.bodystring(conn, "x\r\n"), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)
	check(mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by dialup.test"), "not quarantined")
	check(mt.getheader(conn, "X-ETRN-Hold", 0) ~= nil, "no X-ETRN-Hold")
	mt.disconnect(conn)
	print("RESULT qid=" .. QID)
end

run(main)
