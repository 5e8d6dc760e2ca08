-- SASL-authenticated sessions are exempt: a client without PTR that authenticated
-- ({auth_authen} at MAIL) is accepted at RCPT and still gets the header.
dofile(lib)

T.run("control: no PTR, not authenticated -> refused at RCPT", function()
  local conn = T.open(NO_PTR_IP)
  mt.macro(conn, SMFIC_MAIL, "i", "QSASL0")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  mt.disconnect(conn)
end)

T.run("no PTR, {auth_authen} set -> continue at RCPT, iprev=fail header at EOM", function()
  local conn = T.open(NO_PTR_IP)
  T.message(conn, { macros = { ["{auth_authen}"] = "bob", ["{auth_type}"] = "PLAIN" },
                    queue_id = "QSASL1" })
  T.check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results")
          or mt.eom_check(conn, MT_HDRADD, "Authentication-Results"), "no header added")
  T.expect_one_ar(conn, FAIL_AR, "authenticated message")
  mt.disconnect(conn)
end)

T.run("empty {auth_authen} is not authentication", function()
  local conn = T.open(NO_PTR_IP)
  mt.macro(conn, SMFIC_MAIL, "i", "QSASL2", "{auth_authen}", "")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  mt.disconnect(conn)
end)

T.finish()
