"""End-to-end tests: swaks -> a real, private Sendmail -> rdns-milter -> DNS fixture.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_sendmail.py
(meson: `meson test -C build sendmail`). Sendmail comes from Debian's sendmail-bin/sendmail-cf
packages, downloaded and unpacked (never installed: they conflict with postfix) by
contrib/sendmail/fetch-sendmail.sh; the milter line is the one in contrib/sendmail/rdns-milter.mc.
Sendmail has no XCLIENT, so clients are real loopback source addresses, with reverse data in the
fixture's 127.in-addr.arpa zones (tests/fixture/README.md). Exit 77 (skip) only when sendmail
cannot be obtained or run here.
"""

from __future__ import annotations

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import postfix_harness as ph  # noqa: E402
import sendmail_harness as sh  # noqa: E402

GOOD = "127.0.0.2"       # PTR lo-good.test, lo-good.test A 127.0.0.2
NO_PTR = "127.0.0.3"     # NXDOMAIN
SERVFAIL = "127.0.5.7"   # 5.0.127.in-addr.arpa has no zone file: SERVFAIL

# 127.0.0.1 (the base options' trusted-networks) is never used as a client here, so every
# client above is checked.
DEFAULT: dict[str, str] = {}


class SendmailE2E(ph.HarnessAsserts, unittest.TestCase):
    h: sh.SendmailHarness
    sendmail_root: str

    @classmethod
    def setUpClass(cls):
        cls.h = sh.SendmailHarness(cls.sendmail_root)
        try:
            t0 = time.monotonic()
            cls.h.start_dns()
            cls.h.start_sendmail()
            cls.setup_seconds = time.monotonic() - t0
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def milter(self, overrides: dict[str, str] | None = None) -> ph.Milter:
        return self.h.ensure_milter(overrides or DEFAULT)

    def send(self, client: str, **kwargs) -> tuple[ph.SmtpResult, int]:
        kwargs.setdefault("helo", f"[{client}]")
        offset = self.h.milter.log_size() if self.h.milter else 0
        return self.h.swaks(local_interface=client, **kwargs), offset

    def assert_nothing_queued(self, before: list[str], ctx: str) -> None:
        self.assertEqual(self.h.sendmail.queued(), before, "a message was queued" + ctx)

    def assert_refused_at_rcpt(self, r: ph.SmtpResult, prefix: str, since: int) -> None:
        ctx = self.context(r, since)
        self.assertTrue((r.reply_to("EHLO") or "").startswith("250"), "EHLO refused" + ctx)
        self.assertTrue((r.reply_to("MAIL FROM") or "").startswith("250"),
                        "MAIL FROM refused" + ctx)
        rcpt = r.reply_to("RCPT TO") or ""
        self.assertTrue(rcpt.startswith(prefix), f"RCPT TO answered {rcpt!r}, expected "
                        f"{prefix!r}" + ctx)
        self.assertEqual(r.exit_code, 24, "swaks: expected 'no RCPTs accepted'" + ctx)
        self.assertIsNone(sh.queue_id(r), "message was queued" + ctx)

    # ----- the four verdicts, as Sendmail's SMTP client sees them ------------------------------

    def test_01_no_ptr_refused(self):
        self.milter()
        before = self.h.sendmail.queued()
        r, since = self.send(NO_PTR)
        self.assert_refused_at_rcpt(r, "550 5.7.25", since)
        self.assertIn(NO_PTR, r.reply_to("RCPT TO"), "reply should name the address")
        self.assert_log_has(since, f"[{NO_PTR}]", "no-ptr", "action=reject")
        self.assert_nothing_queued(before, self.context(r, since))

    def test_02_good_client_queued_with_header(self):
        self.milter()
        r, since = self.send(GOOD)
        ctx = self.context(r, since)
        self.assertEqual(r.exit_code, 0, "swaks failed" + ctx)
        qid = sh.queue_id(r)
        self.assertIsNotNone(qid, "no 'Message accepted' in the transcript" + ctx)
        self.assertIn(qid, self.h.sendmail.queued(), ctx)
        headers = self.h.sendmail.queued_headers(qid)
        ars = [ph.unfold(v) for n, v in headers if n.lower() == "authentication-results"]
        self.assertEqual(len(ars), 1, f"expected one Authentication-Results in qf: {headers}"
                         + ctx)
        parts = ph.split_ar(ars[0])
        self.assertEqual(parts[0], "mx.test", ars[0])
        self.assertIn(f"iprev=pass smtp.remote-ip={GOOD} (lo-good.test)", parts[1:], ars[0])
        # Inserted at the top, above Sendmail's own Received.
        names = [n.lower() for n, _ in headers]
        self.assertLess(names.index("authentication-results"), names.index("received"),
                        f"{headers}" + ctx)
        self.assert_log_has(since, f"[{GOOD}]", "iprev=pass", "action=")

    def test_03_helo_reject_default_stage_at_rcpt(self):
        # The default decision-stage (rcpt): the HELO verdict comes at RCPT TO, as in Postfix.
        self.milter()
        before = self.h.sendmail.queued()
        r, since = self.send(GOOD, helo="exchange.local")
        self.assert_refused_at_rcpt(r, "550 5.5.2", since)
        self.assertIn('"exchange.local"', r.reply_to("RCPT TO"), "reply should name the HELO")
        self.assert_log_has(since, f"[{GOOD}]", "helo=fail(bad-tld)", "stage=rcpt",
                            "action=reject")
        self.assert_nothing_queued(before, self.context(r, since))

    def test_04_helo_reject_helo_stage(self):
        # decision-stage = helo: the milter rejects the EHLO. Sendmail 8.17 then answers the
        # EHLO with 250 but no extensions beyond ENHANCEDSTATUSCODES, and refuses every later
        # command with the milter's reply (its "nullserver" mode): the 5xx comes at MAIL FROM,
        # as in Postfix, and the milter hears nothing more of the session.
        self.milter({"decision-stage": "helo"})
        before = self.h.sendmail.queued()
        r, since = self.send(GOOD, helo="exchange.local")
        ctx = self.context(r, since)
        ehlo = [line for line in r.replies() if line.startswith("250")][:8]
        self.assertTrue(ehlo and ehlo[0].startswith("250-mx.test Hello"), ctx)
        self.assertIn("250 ENHANCEDSTATUSCODES", r.transcript, ctx)
        self.assertNotIn("PIPELINING", r.transcript, "EHLO kept its extensions" + ctx)
        mail = r.reply_to("MAIL FROM") or ""
        self.assertTrue(mail.startswith("550 5.5.2"), f"MAIL FROM answered {mail!r}" + ctx)
        self.assertIn('"exchange.local"', mail, "reply should name the HELO" + ctx)
        self.assertIsNone(r.reply_to("RCPT TO"), "RCPT TO was sent" + ctx)
        self.assertEqual(r.exit_code, 23, "swaks: expected 'MAIL FROM not accepted'" + ctx)
        self.assert_log_has(since, f"[{GOOD}]", "helo=fail(bad-tld)", "stage=helo",
                            "action=reject")
        self.assert_nothing_queued(before, ctx)

    def test_05_temperror_tempfailed(self):
        self.milter()
        before = self.h.sendmail.queued()
        r, since = self.send(SERVFAIL)
        self.assert_refused_at_rcpt(r, "450 4.7.25", since)
        self.assert_log_has(since, f"[{SERVFAIL}]", "iprev=temperror")
        self.assert_nothing_queued(before, self.context(r, since))

    def test_06_milter_down_tempfails(self):
        # F=T in contrib/sendmail/rdns-milter.mc: no milter, no mail (4xx), not mail unchecked.
        self.h.stop_milter()
        before = self.h.sendmail.queued()
        r = self.h.swaks(local_interface=GOOD, helo=f"[{GOOD}]")
        ctx = self.context(r)
        replies = r.replies()
        self.assertTrue(any(x.startswith("451 4.3.2") for x in replies),
                        "expected a 451 4.3.2 tempfail" + ctx)
        self.assertTrue(all(not x.startswith("5") for x in replies), ctx)
        self.assertIsNone(sh.queue_id(r), "message was queued without the milter" + ctx)
        self.assert_nothing_queued(before, ctx)


def main() -> int:
    missing = ph.missing_prerequisites(ph.SWAKS, "knotd", "kdig", "keymgr")
    if missing:
        print(f"SKIP e2e/sendmail: {missing}")
        return ph.SKIP
    root, why = sh.obtain_sendmail()
    if root is None:
        print(f"SKIP e2e/sendmail: sendmail cannot be obtained: {why}")
        return ph.SKIP
    SendmailE2E.sendmail_root = root
    t0 = time.monotonic()
    suite = unittest.TestLoader().loadTestsFromTestCase(SendmailE2E)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    print(f"\nSUMMARY e2e/sendmail: {result.testsRun} run, {len(result.failures)} failed, "
          f"{len(result.errors)} errors in {time.monotonic() - t0:.1f} s")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
