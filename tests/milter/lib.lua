-- lib.lua - helpers shared by the miltertest scripts (loaded with dofile)
sock = os.getenv("MILTER_SOCKET") or error("MILTER_SOCKET is not set")

-- expect - fail unless the call returned nil and the reply is one of ...
function expect(conn, what, err, ...)
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
function check(cond, msg)
	if not cond then
		error(msg, 2)
	end
end

-- run - call main; miltertest exits 1 on a script error without printing
-- it, so print it here
function run(main)
	local ok, err = xpcall(main, debug.traceback)
	if not ok then
		io.stderr:write("FAILED: " .. tostring(err) .. "\n")
		error(err, 0)
	end
end
