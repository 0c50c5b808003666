-- t-04-subdomain.lua - a subdomain of a ".sub.test" entry is held under its
-- own name; t-milter.sh checks the Redis record
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4SubDom041"
local HEX32 = string.rep("[0-9a-f]", 32)

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.4"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<>"), C)
	-- Two recipients in the subdomain, one in upper case: one group.
	expect(conn, "rcptto 1", mt.rcptto(conn, "<u@a.sub.test>"), C)
	expect(conn, "rcptto 2", mt.rcptto(conn, "<w@A.Sub.TEST>"), C)
	expect(conn, "header",
	    mt.header(conn, "Subject", "t-04 subdomain"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "body", mt.bodystring(conn, "body\r\n"), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)

	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	check(v ~= nil, "no X-ETRN-Hold added")
	local token = v:match("^a%.sub%.test; host=mx%.test; token=(" ..
	    HEX32 .. ");\n\tarrived=%d+; expires=%d+; size=%d+;\n\tmac=%x+$")
	check(token ~= nil,
	    "X-ETRN-Hold value \"" .. v .. "\" is not for a.sub.test")
	check(mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by a.sub.test"), "not quarantined for a.sub.test")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<u@a.sub.test>") and
	    not mt.eom_check(conn, MT_RCPTDELETE, "<w@A.Sub.TEST>"),
	    "a recipient was deleted (split although one domain)")
	mt.disconnect(conn)

	print("RESULT qid=" .. QID)
	print("RESULT token=" .. token)
end

run(main)
