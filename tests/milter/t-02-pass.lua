-- t-02-pass.lua - a message for no dial-up domain passes untouched
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4PassMsg02"
-- Not dial-up: the parent of the ".sub.test" entry and a subdomain of the
-- exact entry "dialup.test".
local RCPTS = { "<u@example.com>", "<u@sub.test>", "<u@x.dialup.test>" }

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.2"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<s@example.org>"), C)
	for _, r in ipairs(RCPTS) do
		expect(conn, "rcptto " .. r, mt.rcptto(conn, r), C)
	end
	expect(conn, "header", mt.header(conn, "Subject", "t-02 pass"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "body", mt.bodystring(conn, "passing body\r\n"), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)

	check(not mt.eom_check(conn, MT_HDRADD), "a header was added")
	check(not mt.eom_check(conn, MT_HDRCHANGE), "a header was changed")
	check(not mt.eom_check(conn, MT_QUARANTINE), "message quarantined")
	for _, r in ipairs(RCPTS) do
		check(not mt.eom_check(conn, MT_RCPTDELETE, r),
		    r .. " was deleted")
	end
	mt.disconnect(conn)

	print("RESULT qid=" .. QID)
end

run(main)
