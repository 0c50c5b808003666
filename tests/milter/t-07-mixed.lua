-- t-07-mixed.lua - a mixed-recipient message whose copy cannot be
-- re-injected (reinject_server refuses connections) is tempfailed whole;
-- t-milter.sh checks that nothing was recorded
local sock = os.getenv("MILTER_SOCKET") or error("MILTER_SOCKET is not set")
local QID = "4Mixed0701"
local TEXT = "Temporary failure queueing a copy for a dial-up domain, " ..
    "try again later"

-- expect - fail unless the call returned nil and the reply is one of ...
local function expect(conn, what, err, ...)
	if err ~= nil then
		error(what .. ": " .. tostring(err), 2)
	end
	local got = mt.getreply(conn)
	for _, want in ipairs({...}) do
		if got == want then
			return
		end
	end
	error(string.format("%s: unexpected milter reply '%s'", what,
	    string.char(got)), 2)
end

-- check - fail with msg unless cond holds
local function check(cond, msg)
	if not cond then
		error(msg, 2)
	end
end

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

-- miltertest exits 1 on a script error without printing it: print it here
local ok, err = xpcall(main, debug.traceback)
if not ok then
	io.stderr:write("FAILED: " .. tostring(err) .. "\n")
	error(err, 0)
end
