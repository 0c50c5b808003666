-- t-12-abort.lua - a message aborted after its body, then a second one on
-- the same connection: the second is decided as a fresh message.  The
-- first had another sender, RET/ENVID, recipients in a dial-up subdomain
-- and elsewhere (a split, so a spool copy), a forged X-ETRN-Hold header
-- and its own queue ID; any of these leaking would show as a split, a
-- header deleted, another domain in the reason, or fields in the second's
-- record, which t-milter.sh reads (and finds no record of the first).
dofile(os.getenv("MILTER_TESTLIB") or error("MILTER_TESTLIB is not set"))
local QID1 = "4AbortOne01"
local QID2 = "4AbortTwo02"

-- main - the scenario
local function main()
	local C = SMFIR_CONTINUE
	local conn = mt.connect(sock, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. sock .. ") failed")
	expect(conn, "conninfo",
	    mt.conninfo(conn, "client.test", "192.0.2.12"), C)

	mt.macro(conn, SMFIC_MAIL, "i", QID1)
	expect(conn, "mailfrom 1", mt.mailfrom(conn, "<first@example.org>",
	    "RET=FULL", "ENVID=first"), C)
	expect(conn, "rcptto 1a", mt.rcptto(conn, "<u@a.sub.test>",
	    "NOTIFY=NEVER"), C)
	expect(conn, "rcptto 1b", mt.rcptto(conn, "<x@example.net>"), C)
	expect(conn, "header 1 tag", mt.header(conn, "X-ETRN-Hold",
	    "a.sub.test; host=mx.test; token=forged"), C)
	expect(conn, "header 1", mt.header(conn, "Subject", "first message"), C)
	expect(conn, "eoh 1", mt.eoh(conn), C)
	expect(conn, "body 1", mt.bodystring(conn, "first body\r\n"), C)
	check(mt.abort(conn) == nil, "abort failed")

	mt.macro(conn, SMFIC_MAIL, "i", QID2)
	expect(conn, "mailfrom 2", mt.mailfrom(conn, "<second@example.org>"), C)
	expect(conn, "rcptto 2", mt.rcptto(conn, "<v@dialup.test>"), C)
	expect(conn, "header 2", mt.header(conn, "Subject", "second message"), C)
	expect(conn, "eoh 2", mt.eoh(conn), C)
	expect(conn, "body 2", mt.bodystring(conn, "second body\r\n"), C)
	expect(conn, "eom 2", mt.eom(conn), C, SMFIR_ACCEPT)
	check(mt.eom_check(conn, MT_QUARANTINE,
	    "held for ETRN by dialup.test"), "second message: reason")
	check(not mt.eom_check(conn, MT_HDRDELETE),
	    "second message: a header was deleted (the first's tag count)")
	check(not mt.eom_check(conn, MT_RCPTDELETE, "<v@dialup.test>"),
	    "second message: its recipient was deleted (the first's split)")
	local v = mt.getheader(conn, "X-ETRN-Hold", 0)
	local prefix = "dialup.test; host=mx.test; token="
	check(v ~= nil and v:sub(1, #prefix) == prefix,
	    "second message: tag " .. tostring(v))
	check(mt.getheader(conn, "X-ETRN-Hold", 1) == nil, "two tags added")
	mt.disconnect(conn)
	print("RESULT qid=" .. QID2)
	print("RESULT aborted=" .. QID1)
	print("RESULT token=" .. v:match("token=([0-9a-f]+);"))
end

run(main)
