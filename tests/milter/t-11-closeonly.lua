-- t-11-closeonly.lua - close without connect: connections that end
-- after the option negotiation (politely and abruptly), or after an
-- abort with no message, so that libmilter calls xxfi_close (and
-- xxfi_abort) with no connection state.  The milter must live on
-- (t-milter.sh checks its process) and handle the next connection.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4CloseOnly1"

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn

	conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	mt.disconnect(conn)
	conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "second mt.connect failed")
	mt.disconnect(conn, false)
	conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "third mt.connect failed")
	check(mt.abort(conn) == nil, "abort without a connection failed")
	mt.disconnect(conn)

	-- The milter still answers, and holds.
	conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect after the empty ones failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.11"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<after@example.org>"), C)
	expect(conn, "rcptto", mt.rcptto(conn, "<u@dialup.test>"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)
	check(mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by dialup.test"), "not quarantined")
	mt.disconnect(conn)
	print("RESULT qid=" .. QID)
end

run(main)
