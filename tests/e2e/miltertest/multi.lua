-- Several messages on one connection: each gets exactly one header, and per-message state
-- (exempt recipient, authentication, headers seen) does not leak into the next message.
dofile(lib)

T.run("good client, three messages, one header each", function()
  local conn = T.open(GOOD_IP)
  for n = 1, 3 do
    T.message(conn, { queue_id = "QMULTI" .. n })
    T.expect_one_ar(conn, PASS_AR, "message " .. n)
  end
  mt.disconnect(conn)
end)

T.run("no PTR: postmaster message, then an ordinary one is refused", function()
  local conn = T.open(NO_PTR_IP)
  T.message(conn, { rcpts = { "<postmaster@example.net>" }, queue_id = "QM1" })
  T.expect_one_ar(conn, FAIL_AR, "postmaster message")
  mt.macro(conn, SMFIC_MAIL, "i", "QM2")
  T.expect(conn, "MAIL FROM 2", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO 2", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  mt.disconnect(conn)
end)

T.run("no PTR: authenticated message, then an unauthenticated one is refused", function()
  local conn = T.open(NO_PTR_IP)
  T.message(conn, { macros = { ["{auth_authen}"] = "bob" }, queue_id = "QA1" })
  T.expect_one_ar(conn, FAIL_AR, "authenticated message")
  mt.macro(conn, SMFIC_MAIL, "i", "QA2")
  T.expect(conn, "MAIL FROM 2", mt.mailfrom(conn, "<sender@example.org>"), SMFIR_CONTINUE)
  T.expect(conn, "RCPT TO 2", mt.rcptto(conn, "<user@example.net>"), SMFIR_REPLYCODE)
  mt.disconnect(conn)
end)

T.run("forged header removed in message 1 only", function()
  local conn = T.open(GOOD_IP)
  T.message(conn, { queue_id = "QF1", headers = {
    { "From", "sender@example.org" },
    { "Authentication-Results", "mx.test; iprev=pass smtp.remote-ip=192.0.2.7 (forged)" },
    { "Subject", "one" } } })
  T.check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results")
          or mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results"),
          "message 1: forged Authentication-Results not removed")
  T.expect_one_ar(conn, PASS_AR, "message 1")
  T.message(conn, { queue_id = "QF2", headers = {
    { "From", "sender@example.org" },
    { "Authentication-Results", "other.example; spf=pass smtp.mailfrom=example.org" },
    { "Subject", "two" } } })
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "message 2: a header was deleted")
  T.check(not mt.eom_check(conn, MT_HDRCHANGE), "message 2: a header was changed")
  T.expect_one_ar(conn, PASS_AR, "message 2")
  mt.disconnect(conn)
end)

T.finish()
