-- t-05-badparam.lua - bad MAIL/RCPT parameters are refused (501 5.5.4)
-- miltertest shows only that a reply code was set before end of message,
-- not the code itself; t-milter.sh checks the milter's log for the reasons.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))

-- connect - a new connection, connection info sent
local function connect()
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.5"), SMFIR_CONTINUE)
	return conn
end

-- main - the scenario
local function main()
	local R = SMFIR_REPLYCODE
	local conn = connect()
	expect(conn, "mailfrom", mt.mailfrom(conn, "<s@example.org>"),
	    SMFIR_CONTINUE)
	expect(conn, "ORCPT without a type",
	    mt.rcptto(conn, "<u@dialup.test>", "ORCPT=notype"), R)
	expect(conn, "NOTIFY with a control character",
	    mt.rcptto(conn, "<u@dialup.test>", "NOTIFY=SUCCESS\1"), R)
	-- The transaction goes on: good parameters are accepted.
	expect(conn, "good NOTIFY and ORCPT",
	    mt.rcptto(conn, "<u@dialup.test>", "NOTIFY=NEVER",
	    "ORCPT=rfc822;u@dialup.test"), SMFIR_CONTINUE)
	mt.abort(conn)
	mt.disconnect(conn)

	conn = connect()
	expect(conn, "RET=BOGUS",
	    mt.mailfrom(conn, "<s@example.org>", "RET=BOGUS"), R)
	mt.disconnect(conn)
end

run(main)
