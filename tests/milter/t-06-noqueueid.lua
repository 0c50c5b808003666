-- t-06-noqueueid.lua - a dial-up message without a valid {i} macro is
-- tempfailed at end of message; other mail does not need one
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local TEXT = "Temporary failure: no queue ID from the mail system"

-- send - one message to rcpt, {i} = qid unless nil, up to end of message;
-- the connection and mt.eom()'s result
local function send(label, rcpt, qid)
	local C = SMFIR_CONTINUE
	local m = label .. ": "
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, m .. "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.6"), C)
	if qid ~= nil then
		mt.macro(conn, SMFIC_MAIL, "i", qid)
	end
	expect(conn, m .. "mailfrom", mt.mailfrom(conn, "<s@example.org>"), C)
	expect(conn, m .. "rcptto", mt.rcptto(conn, rcpt), C)
	expect(conn, m .. "header",
	    mt.header(conn, "Subject", "t-06 " .. label), C)
	expect(conn, m .. "eoh", mt.eoh(conn), C)
	expect(conn, m .. "body", mt.bodystring(conn, "body\r\n"), C)
	return conn, mt.eom(conn)
end

-- tempfailed - a dial-up message with {i} = qid gets 451 4.3.0, no change
local function tempfailed(label, qid)
	local conn, err = send(label, "<u@dialup.test>", qid)
	expect(conn, label .. ": eom", err, SMFIR_REPLYCODE, SMFIR_TEMPFAIL)
	if mt.getreply(conn) == SMFIR_REPLYCODE then
		check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0", TEXT),
		    label .. ": not 451 4.3.0 " .. TEXT)
	end
	check(not mt.eom_check(conn, MT_HDRADD), label .. ": header added")
	check(not mt.eom_check(conn, MT_QUARANTINE), label .. ": quarantined")
	mt.disconnect(conn)
end

-- main - the scenario
local function main()
	tempfailed("no {i}", nil)
	tempfailed("bad {i}", "../x")
	tempfailed("short {i}", "AB12")

	local label = "pass without {i}"
	local conn, err = send(label, "<u@example.com>", nil)
	expect(conn, label .. ": eom", err, SMFIR_CONTINUE, SMFIR_ACCEPT)
	check(not mt.eom_check(conn, MT_HDRADD), label .. ": header added")
	mt.disconnect(conn)
end

run(main)
