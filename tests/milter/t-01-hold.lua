-- t-01-hold.lua - a message for one dial-up domain is tagged and quarantined
-- t-milter.sh checks the Redis record against the RESULT lines.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4AbCdEfGh1"
local HEX32 = string.rep("[0-9a-f]", 32)

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.1"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<s@example.org>",
	    "RET=HDRS", "ENVID=t01env"), C)
	expect(conn, "rcptto", mt.rcptto(conn, "<u@dialup.test>",
	    "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;u@dialup.test"), C)
	expect(conn, "header From",
	    mt.header(conn, "From", "s@example.org"), C)
	expect(conn, "header Subject",
	    mt.header(conn, "Subject", "t-01 hold"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "body", mt.bodystring(conn, "held body\r\n"), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)

	check(mt.eom_check(conn, MT_HDRADD, "X-ETRN-Hold"),
	    "no X-ETRN-Hold added")
	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	check(v ~= nil, "no X-ETRN-Hold value")
	check(mt.getheader(conn, "X-ETRN-Hold", 1) == nil,
	    "two X-ETRN-Hold headers added")
	local prefix = "dialup.test; host=mx.test; token="
	check(v:sub(1, #prefix) == prefix, "X-ETRN-Hold value \"" .. v ..
	    "\" does not start with \"" .. prefix .. "\"")
	local token, arrived, expires, size, mac = v:match("^dialup%.test; " ..
	    "host=mx%.test; token=(" .. HEX32 .. ");\n\t" ..
	    "arrived=(%d+); expires=(%d+); size=(%d+);\n\tmac=(%x+)$")
	check(token ~= nil, "X-ETRN-Hold value \"" .. v .. "\" is malformed")
	check(#mac == 64 and mac:lower() == mac,
	    "X-ETRN-Hold mac \"" .. mac .. "\" is not 64 hex digits")
	check(tonumber(size) > 0, "X-ETRN-Hold size is 0")
	check(tonumber(expires) > tonumber(arrived),
	    "expires is not after arrived")
	check(math.abs(tonumber(arrived) - os.time()) < 300,
	    "arrived is not now")
	check(mt.eom_check(conn, MT_QUARANTINE), "message not quarantined")
	check(mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by dialup.test"), "unexpected quarantine reason")
	check(not mt.eom_check(conn, MT_HDRDELETE), "a header was deleted")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<u@dialup.test>"),
	    "the recipient was deleted")
	mt.disconnect(conn)

	print("RESULT qid=" .. QID)
	print("RESULT token=" .. token)
	print("RESULT arrived=" .. arrived)
	print("RESULT expires=" .. expires)
end

run(main)
