-- t-07-mixed.lua - a mixed-recipient message whose copy cannot be
-- re-injected (reinject_server refuses connections) is tempfailed whole;
-- t-milter.sh checks that nothing was recorded
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4Mixed0701"
local TEXT = "Temporary failure queueing a copy for a dial-up domain, " ..
    "try again later"

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.7"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<s@example.org>"), C)
	expect(conn, "rcptto dial-up", mt.rcptto(conn, "<u@dialup.test>"), C)
	expect(conn, "rcptto other", mt.rcptto(conn, "<v@example.com>"), C)
	expect(conn, "header 1", mt.header(conn, "Subject", "t-07 mixed"), C)
	expect(conn, "header 2", mt.header(conn, "X-ETRN-Hold", "forged"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "body",
	    mt.bodystring(conn, "line 1\r\n.line 2\r\n"), C)
	expect(conn, "eom", mt.eom(conn), SMFIR_REPLYCODE, SMFIR_TEMPFAIL)
	if mt.getreply(conn) == SMFIR_REPLYCODE then
		check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0", TEXT),
		    "not 451 4.3.0 " .. TEXT)
	end
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<u@dialup.test>"),
	    "dial-up recipient deleted although its copy failed")
	check(not mt.eom_check(conn, MT_HDRADD), "a header was added")
	check(not mt.eom_check(conn, MT_QUARANTINE), "message quarantined")
	mt.disconnect(conn)

	print("RESULT qid=" .. QID)
end

run(main)
