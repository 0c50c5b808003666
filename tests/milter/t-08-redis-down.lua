-- t-08-redis-down.lua - with Redis gone, a dial-up message is tempfailed at
-- end of message and other mail still passes (the domain list is kept).
-- t-milter.sh stops Redis before it runs scripts named t-*-redis-down.lua.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local TEXT = "Temporary failure recording the message for ETRN, " ..
    "try again later"

-- send - one message to rcpt with {i} = qid, up to end of message; the
-- connection and mt.eom()'s result
local function send(label, rcpt, qid)
	local C = SMFIR_CONTINUE
	local m = label .. ": "
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, m .. "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.8"), C)
	mt.macro(conn, SMFIC_MAIL, "i", qid)
	expect(conn, m .. "mailfrom", mt.mailfrom(conn, "<s@example.org>"), C)
	expect(conn, m .. "rcptto", mt.rcptto(conn, rcpt), C)
	expect(conn, m .. "header",
	    mt.header(conn, "Subject", "t-08 " .. label), C)
	expect(conn, m .. "eoh", mt.eoh(conn), C)
	expect(conn, m .. "body", mt.bodystring(conn, "body\r\n"), C)
	return conn, mt.eom(conn)
end

-- main - the scenario
local function main()
	-- Twice: the first write may find a pooled connection broken, the
	-- second must fail to connect; both must tempfail.
	for n = 1, 2 do
		local label = "dial-up " .. n
		local conn, err = send(label, "<u@dialup.test>",
		    "4RedisDn0" .. n)
		expect(conn, label .. ": eom", err, SMFIR_REPLYCODE,
		    SMFIR_TEMPFAIL)
		if mt.getreply(conn) == SMFIR_REPLYCODE then
			check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
			    TEXT), label .. ": not 451 4.3.0 " .. TEXT)
		end
		check(not mt.eom_check(conn, MT_HDRADD),
		    label .. ": header added")
		check(not mt.eom_check(conn, MT_QUARANTINE),
		    label .. ": quarantined")
		mt.disconnect(conn)
	end

	local conn, err = send("other", "<u@example.com>", "4RedisDn03")
	expect(conn, "other: eom", err, SMFIR_CONTINUE, SMFIR_ACCEPT)
	check(not mt.eom_check(conn, MT_HDRADD), "other: header added")
	check(not mt.eom_check(conn, MT_QUARANTINE), "other: quarantined")
	mt.disconnect(conn)
end

run(main)
