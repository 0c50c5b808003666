-- t-02-pass.lua - a message for no dial-up domain passes untouched
local sock = os.getenv("MILTER_SOCKET") or error("MILTER_SOCKET is not set")
local QID = "4PassMsg02"
-- Not dial-up: the parent of the ".sub.test" entry and a subdomain of the
-- exact entry "dialup.test".
local RCPTS = { "<u@example.com>", "<u@sub.test>", "<u@x.dialup.test>" }

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

-- miltertest exits 1 on a script error without printing it: print it here
local ok, err = xpcall(main, debug.traceback)
if not ok then
	io.stderr:write("FAILED: " .. tostring(err) .. "\n")
	error(err, 0)
end
