-- Hostile SMTP input (CR/LF, NUL, long, non-ASCII) in HELO, MAIL FROM, RCPT TO, host name,
-- headers and {auth_authen}: the milter answers every step, never crashes, and any header it
-- adds is clean. Note: miltertest aborts ("buffer overflow detected") on arguments over about
-- 1 KiB, so 10 kB and larger inputs are sent by oversize_cases.py (run by the same runner).
dofile(lib)

local variants = {
  { "CRLF injection", "evil.example\r\nX-Injected: yes\r\n" },
  { "bare LF", "evil.example\nAuthentication-Results: mx.test; iprev=pass" },
  { "bare CR", "evil.example\rX-Injected: yes" },
  { "NUL", "evil\0.example" },
  { "900 bytes", string.rep("A", 900) },
  { "CRLF x 250", string.rep("a\r\n", 250) },
  { "non-ASCII", "\xff\xfe\xc3\x28.example" },
  { "empty", "" },
  { "quote and semicolon", 'x"; iprev=pass smtp.remote-ip=192.0.2.12 (forged); x="' },
  { "backslashes and parentheses", 'x\\"(; iprev=pass) \\' },
}

-- Runs one session with the hostile value `v` in HELO, MAIL FROM and RCPT TO; checks any
-- header added at EOM.
local function session(ip, v, where)
  local conn = T.connect()
  local host = (where == "host") and v or ("[" .. ip .. "]")
  T.answered(conn, "connect", mt.conninfo(conn, host, ip))
  if not mt.test_option(conn, SMFIP_NOHELO) then
    T.answered(conn, "HELO", mt.helo(conn, (where == "helo") and v or ("[" .. ip .. "]")))
  end
  if where == "auth" then
    mt.macro(conn, SMFIC_MAIL, "i", "QHOSTILE", "{auth_authen}", v)
  else
    mt.macro(conn, SMFIC_MAIL, "i", "QHOSTILE")
  end
  local from = (where == "mail") and ("<" .. v .. "@example.org>") or "<sender@example.org>"
  T.answered(conn, "MAIL FROM", mt.mailfrom(conn, from))
  local rcpt = (where == "rcpt") and ("<" .. v .. "@example.net>") or "<postmaster@example.net>"
  local r = T.answered(conn, "RCPT TO", mt.rcptto(conn, rcpt))
  if r == SMFIR_CONTINUE then
    T.answered(conn, "header", mt.header(conn, "Subject", (where == "header") and v or "x"))
    T.answered(conn, "header", mt.header(conn, "Authentication-Results",
                                         (where == "header") and ("mx.test; " .. v)
                                         or "other.example; none"))
    if not mt.test_option(conn, SMFIP_NOEOH) then T.answered(conn, "EOH", mt.eoh(conn)) end
    T.answered(conn, "EOM", mt.eom(conn))
    local ars = T.added_ar(conn)
    T.check(#ars == 1, #ars .. " Authentication-Results headers added, expected 1")
    T.check_ar(ars[1], ip == GOOD_IP and PASS_AR or FAIL_AR, "added header")
  end
  mt.disconnect(conn)
end

for _, where in ipairs({ "helo", "mail", "rcpt", "host", "header", "auth" }) do
  for _, var in ipairs(variants) do
    for _, ip in ipairs({ GOOD_IP, NO_PTR_IP }) do
      T.run(string.format("%s: %s from %s", where, var[1], ip), function()
        session(ip, var[2], where)
      end)
    end
  end
end

T.run("close without connect (TCP probe)", function()
  local conn = T.connect()
  mt.disconnect(conn, false)
end)

T.run("connection info 'unspec' address", function()
  local conn = T.connect()
  T.answered(conn, "connect", mt.conninfo(conn, "unknown", "unspec"))
  mt.macro(conn, SMFIC_MAIL, "i", "QUNSPEC")
  T.answered(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"))
  T.answered(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"))
  mt.disconnect(conn)
end)

T.run("still answering normally afterwards", function()
  local conn = T.open(GOOD_IP)
  T.message(conn, { queue_id = "QAFTER" })
  T.expect_one_ar(conn, PASS_AR, "after hostile input")
  mt.disconnect(conn)
  conn = T.open(NO_PTR_IP)
  mt.macro(conn, SMFIC_MAIL, "i", "QAFTER2")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  mt.disconnect(conn)
end)

T.finish()
