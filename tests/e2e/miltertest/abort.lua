-- Abort (RSET) in the middle of a message, then a new message on the same connection.
dofile(lib)

T.run("good client: abort after RCPT, after headers, after body; then a full message",
      function()
  local conn = T.open(GOOD_IP)
  -- after RCPT
  mt.macro(conn, SMFIC_MAIL, "i", "QAB1")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_CONTINUE)
  T.check(mt.abort(conn) == nil, "abort 1 failed")
  -- after headers (one forged A-R)
  mt.macro(conn, SMFIC_MAIL, "i", "QAB2")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_CONTINUE)
  T.expect(conn, "header", mt.header(conn, "Authentication-Results",
                                     "mx.test; iprev=pass (forged)"), SMFIR_CONTINUE)
  T.check(mt.abort(conn) == nil, "abort 2 failed")
  -- after body
  mt.macro(conn, SMFIC_MAIL, "i", "QAB3")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_CONTINUE)
  T.expect(conn, "header", mt.header(conn, "Subject", "x"), SMFIR_CONTINUE)
  if not mt.test_option(conn, SMFIP_NOEOH) then
    T.expect(conn, "EOH", mt.eoh(conn), SMFIR_CONTINUE)
  end
  if not mt.test_option(conn, SMFIP_NOBODY) then
    T.expect(conn, "body", mt.bodystring(conn, "x\r\n"), SMFIR_CONTINUE, SMFIR_SKIP)
  end
  T.check(mt.abort(conn) == nil, "abort 3 failed")
  -- a complete message: one header, nothing deleted (the forged one belonged to message 2)
  T.message(conn, { queue_id = "QAB4" })
  T.expect_one_ar(conn, PASS_AR, "message after aborts")
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "a header was deleted")
  T.check(not mt.eom_check(conn, MT_HDRCHANGE), "a header was changed")
  mt.disconnect(conn)
end)

T.run("no PTR: authenticated message aborted, next one is not authenticated", function()
  local conn = T.open(NO_PTR_IP)
  mt.macro(conn, SMFIC_MAIL, "i", "QAB5", "{auth_authen}", "bob")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_CONTINUE)
  T.check(mt.abort(conn) == nil, "abort failed")
  mt.macro(conn, SMFIC_MAIL, "i", "QAB6")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  T.check(mt.abort(conn) == nil, "abort failed")
  T.message(conn, { rcpts = { "<abuse@example.net>" }, queue_id = "QAB7" })
  T.expect_one_ar(conn, FAIL_AR, "message to abuse@")
  mt.disconnect(conn)
end)

T.run("abrupt disconnect mid-message, then a new connection works", function()
  local conn = T.open(GOOD_IP)
  mt.macro(conn, SMFIC_MAIL, "i", "QAB8")
  T.expect(conn, "MAIL FROM", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO", mt.rcptto(conn, "<user@example.net>"), SMFIR_CONTINUE)
  mt.disconnect(conn, false)
  conn = T.open(GOOD_IP)
  T.message(conn, { queue_id = "QAB9" })
  T.expect_one_ar(conn, PASS_AR, "after abrupt disconnect")
  mt.disconnect(conn)
end)

T.finish()
