-- t-03-forged.lua - X-ETRN-Hold headers a message arrives with are deleted
-- Two non-dial-up messages on one connection: the first has two forged
-- headers (names in any case), the second one; each is deleted by index
-- with smfi_chgheader and no value, which eom_check calls MT_HDRDELETE.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QIDS = { "4Forged031", "4Forged032" }
local FORGED = "dialup.test; host=mx.test; " ..
    "token=0123456789abcdef0123456789abcdef;\n\tarrived=1; expires=2"
local TAG = "X-ETRN-Hold"

-- send - message n with headers {name, value, ...} up to end of message
local function send(conn, n, headers)
	local C = SMFIR_CONTINUE
	local m = "message " .. n .. ": "
	mt.macro(conn, SMFIC_MAIL, "i", QIDS[n])
	expect(conn, m .. "mailfrom", mt.mailfrom(conn, "<s@example.org>"), C)
	expect(conn, m .. "rcptto", mt.rcptto(conn, "<u@example.com>"), C)
	for i = 1, #headers, 2 do
		expect(conn, m .. "header " .. headers[i],
		    mt.header(conn, headers[i], headers[i + 1]), C)
	end
	expect(conn, m .. "eoh", mt.eoh(conn), C)
	expect(conn, m .. "body", mt.bodystring(conn, "body\r\n"), C)
	expect(conn, m .. "eom", mt.eom(conn), C, SMFIR_ACCEPT)
	check(not mt.eom_check(conn, MT_HDRADD), m .. "a header was added")
	check(not mt.eom_check(conn, MT_QUARANTINE), m .. "quarantined")
	check(not mt.eom_check(conn, MT_HDRDELETE, "Subject"),
	    m .. "Subject deleted")
end

-- main - the scenario
local function main()
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.3"), SMFIR_CONTINUE)

	send(conn, 1, { TAG, FORGED, "Subject", "t-03 forged 1",
	    "x-etrn-hold", FORGED })
	check(mt.eom_check(conn, MT_HDRDELETE, TAG, 1),
	    "message 1: X-ETRN-Hold #1 not deleted")
	check(mt.eom_check(conn, MT_HDRDELETE, TAG, 2),
	    "message 1: X-ETRN-Hold #2 not deleted")
	check(not mt.eom_check(conn, MT_HDRDELETE, TAG, 3),
	    "message 1: X-ETRN-Hold #3 deleted")

	-- The same connection: the count of forged headers starts again.
	send(conn, 2, { "Subject", "t-03 forged 2", TAG, FORGED })
	check(mt.eom_check(conn, MT_HDRDELETE, TAG, 1),
	    "message 2: X-ETRN-Hold #1 not deleted")
	check(mt.eom_check(conn, MT_HDRCHANGE, TAG, ""),
	    "message 2: X-ETRN-Hold not changed to an empty value")
	check(not mt.eom_check(conn, MT_HDRDELETE, TAG, 2),
	    "message 2: X-ETRN-Hold #2 deleted (count not reset?)")
	mt.disconnect(conn)

	print("RESULT qid=" .. QIDS[1])
	print("RESULT qid=" .. QIDS[2])
end

run(main)
