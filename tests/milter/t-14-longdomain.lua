-- t-14-longdomain.lua - a held message for a 253-octet dial-up domain
-- (below .sub.test): the quarantine reason fits the 100 octets Postfix
-- keeps: "held for ETRN by " and the domain's first 80 octets and "...".
-- The tag and the record (checked by t-milter.sh) name the whole domain.
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID = "4LongDom001"
local DOMAIN = string.rep("a", 63) .. "." .. string.rep("b", 63) .. "." ..
    string.rep("c", 63) .. "." .. string.rep("d", 52) .. ".sub.test"

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	check(#DOMAIN == 253, "the domain has " .. #DOMAIN .. " octets")
	local reason = "held for ETRN by " .. DOMAIN:sub(1, 80) .. "..."
	check(#reason == 100, "the expected reason has " .. #reason .. " octets")
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.14"), C)
	mt.macro(conn, SMFIC_MAIL, "i", QID)
	expect(conn, "mailfrom", mt.mailfrom(conn, "<long@example.org>"), C)
	expect(conn, "rcptto", mt.rcptto(conn, "<u@" .. DOMAIN .. ">"), C)
	expect(conn, "eoh", mt.eoh(conn), C)
	expect(conn, "eom", mt.eom(conn), C, SMFIR_ACCEPT)
	check(not mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by " .. DOMAIN), "the whole 270-octet reason sent")
	check(mt.eom_check(conn, MT_QUARANTINE, reason),
	    "quarantine reason is not \"" .. reason .. "\"")
	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	check(v ~= nil and v:sub(1, #DOMAIN + 2) == DOMAIN .. "; ",
	    "tag " .. tostring(v))
	mt.disconnect(conn)
	print("RESULT qid=" .. QID)
	print("RESULT domain=" .. DOMAIN)
end

run(main)
