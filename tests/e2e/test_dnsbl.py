"""Issue 9 end to end: swaks -> private Postfix -> rdns-milter -> DNS fixture with rbldnsd.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_dnsbl.py [-k PATTERN]
(meson: `meson test -C build dnsbl-postfix`). Client addresses come in through XCLIENT; the
lists and clients are in tests/fixture/README.md ("DNS lists").
"""

from __future__ import annotations

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import postfix_harness as ph  # noqa: E402
from dnsfixture import FLAKY_BROKEN, FLAKY_HEALED  # noqa: E402  (path set by postfix_harness)

LISTED = "192.0.2.44"       # bl.rbl.test 127.0.0.4 with TXT; PTR bl-listed.test (iprev pass)
LISTED_TXT = "listed: see http://bl.rbl.test/lookup?ip=192.0.2.44"
ALLOWED = "192.0.2.45"      # wl.rbl.test 127.0.10.1 with TXT; no PTR
ALLOWED_TXT = "allow-listed: see http://wl.rbl.test/lookup?ip=192.0.2.45"
GOOD = "192.0.2.7"          # PTR good.test; on no real list
PUBLIC = "d9a0c3f1e7b24a65b8c2.dqs.rbl.test"   # answers 127.255.255.254 to every query
KEY = "8f3e2d1c0b9a87654321"
KEYED = f"{KEY}.zen.dqs.rbl.test"   # bl.rbl.test's data under a DQS-style key

BLOCK = {"dnsbl-sites": "bl.rbl.test=127.0.0.[2..11]*3", "dnsbl-threshold": "3"}
ALLOW = {"dnsbl-sites": "wl.rbl.test=127.0.10.1*-5", "dnsbl-allowlist-threshold": "-5"}


def our_ar(eml: str) -> list[str]:
    """Unfolded values of our Authentication-Results headers (authserv-id mx.test)."""
    values = [ph.unfold(v) for n, v in ph.message_headers(eml)
              if n.lower() == "authentication-results"]
    return [v for v in values if ph.split_ar(v)[0] == "mx.test"]


class DnsblPostfix(ph.HarnessAsserts, unittest.TestCase):
    h: ph.Harness

    @classmethod
    def setUpClass(cls):
        cls.h = ph.Harness(prefix="rdns-e2e-dnsbl.")
        try:
            cls.h.start_dns()
            cls.h.start_postfix()
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def send(self, addr: str, **kwargs) -> tuple[ph.SmtpResult, int]:
        offset = self.h.milter.log_size() if self.h.milter else 0
        kwargs.setdefault("helo", ph.helo_literal(addr))
        return self.h.swaks(xclient_addr=addr, **kwargs), offset

    def assert_rejected_by(self, r: ph.SmtpResult, since: int, zone: str) -> None:
        ctx = self.context(r, since)
        self.assertIsNone(r.queue_id, "queued" + ctx)
        rejects = [x for x in r.replies() if x.startswith("5")]
        self.assertTrue(rejects and rejects[0].startswith("554 5.7.1"), ctx)
        self.assertIn(zone, r.transcript[r.transcript.index(rejects[0]):], ctx)

    def test_listed_client_rejected_naming_the_list(self):
        self.h.ensure_milter(BLOCK)
        before = self.h.postfix.messages()
        r, since = self.send(LISTED)
        ctx = self.context(r, since)
        self.assertIsNone(r.queue_id, "a listed client's message was queued" + ctx)
        rejects = [x for x in r.replies() if x.startswith("5")]
        self.assertTrue(rejects, "no 5xx reply" + ctx)
        self.assertTrue(rejects[0].startswith("554 5.7.1"), rejects[0] + ctx)
        # The whole reply (continuation lines too) names the list and quotes its TXT.
        self.assertIn("bl.rbl.test", r.transcript[r.transcript.index(rejects[0]):], ctx)
        self.assertIn(LISTED_TXT, r.transcript, ctx)
        self.assertEqual(self.h.postfix.messages(), before)
        line = self.assert_log_has(since, "client=unknown[192.0.2.44]",
                                   "dnsbl=3(bl.rbl.test:127.0.0.4)", "action=reject")
        self.assertIn("iprev=pass", line)  # the list alone rejects it

    def test_hostile_txt_stays_inside_the_reply(self):
        # hostile-list.test's TXT holds CR LF + "250 2.0.0 Ok", quotes and "%s" (libmilter
        # formats the reply text: '%' must arrive as it was).
        self.h.ensure_milter({"dnsbl-sites": "hostile-list.test*3"})
        r, since = self.send(LISTED)
        self.assert_rejected_by(r, since, "hostile-list.test")
        ctx = self.context(r, since)
        self.assertFalse([x for x in r.replies() if x.startswith("250 2.0.0 Ok")], ctx)
        self.assertIn("%s second string", r.transcript, ctx)

    def test_reply_map_keeps_the_dqs_key_from_the_sender(self):
        self.h.ensure_milter({"dnsbl-sites": f"{KEYED}*3",
                              "dnsbl-reply-map": f"{KEYED}=zen.rbl.test"})
        r, since = self.send(LISTED)
        self.assert_rejected_by(r, since, "zen.rbl.test")
        self.assertNotIn(KEY, r.transcript, self.context(r, since))

    def test_sighup_with_a_bad_entry_keeps_the_lists(self):
        m = self.h.ensure_milter(BLOCK)
        offset = m.log_size()
        bad = "bl.rbl.test=127.0.0.[2..x]*3"
        m.write_config({"dnsbl-sites": bad})
        m.signal(signal.SIGHUP)
        line = self.assert_log_has(offset, "dnsbl-sites", bad, timeout=3)
        self.assertIn(f"{m.conf_path}:", line)
        time.sleep(0.2)
        self.assertTrue(m.alive(), "milter died on a bad reload" + self.context())
        r, since = self.send(LISTED)  # still the old lists: rejected
        self.assert_rejected_by(r, since, "bl.rbl.test")
        m.options = None  # the file on disk no longer matches the running configuration

    def test_broken_list_unused_until_the_health_check_sees_it_recover(self):
        # flaky.rbl.test lists 127.0.0.1 (and 192.0.2.44): broken, so 192.0.2.44 is delivered.
        # cache-max-ttl 1: the periodic check must see the list's new data, not a cached one.
        m = self.h.ensure_milter({"dnsbl-sites": "flaky.rbl.test*3", "dnsbl-threshold": "3",
                                  "dnsbl-health-interval": "1", "cache-max-ttl": "1"})
        try:
            r, since = self.send(LISTED)
            self.assert_delivered(r, since)
            broken = [ln for ln in m.log().splitlines()
                      if ln.startswith("rdns-milter[") and "flaky.rbl.test" in ln]
            self.assertTrue(broken and "127.0.0.1" in broken[0], "\n".join(broken))
            offset = m.log_size()
            self.h.dns.set_rbl_records("flaky.rbl.test", FLAKY_HEALED)
            # Logged with its reason at each check while broken; then a line without it.
            def recovered() -> bool:
                return any(ln.startswith("rdns-milter[") and "flaky.rbl.test" in ln
                           and "client=" not in ln and "127.0.0.1" not in ln
                           for ln in m.log_since(offset).splitlines())
            self.assertTrue(ph.wait_for(recovered, 8, 0.1),
                            "no recovery logged" + self.context(since=offset))
            r, since = self.send(LISTED)
            self.assert_rejected_by(r, since, "flaky.rbl.test")
        finally:
            self.h.dns.set_rbl_records("flaky.rbl.test", FLAKY_BROKEN)
            self.h.stop_milter()  # its registry now says "healthy"

    def test_rhsbl_helo_and_mail_from_rejected_naming_the_list(self):
        self.h.ensure_milter({"rhsbl-sites": "dbl.rbl.test=127.0.1.[2..99]*2"})
        # listed.zz A 192.0.2.7: a HELO that passes the HELO check, but is on the list.
        r, since = self.send(GOOD, helo="listed.zz")
        self.assert_rejected_by(r, since, "dbl.rbl.test")
        r, since = self.send(GOOD, sender="bob@listed.example.org")
        self.assert_rejected_by(r, since, "dbl.rbl.test")
        self.assertIsNotNone(r.reply_to("MAIL FROM"), self.context(r, since))
        # Neither listed: delivered.
        r, since = self.send(GOOD, helo="mail.zz")
        self.assert_delivered(r, since)

    def test_unlisted_client_delivered_beside_the_list(self):
        self.h.ensure_milter(BLOCK)
        r, since = self.send(GOOD)
        eml = self.assert_delivered(r, since)
        ars = our_ar(eml)
        self.assertEqual(len(ars), 1, eml)
        self.assertNotIn("x-dnsbl", ars[0])
        self.assertNotIn("dnswl", ars[0])

    def test_public_resolver_list_no_reject_and_one_warning(self):
        # A fresh milter, so the log holds its start-up health check as well.
        self.h.stop_milter()
        start = self.h.milter.log_size() if self.h.milter else 0
        self.h.start_milter({"dnsbl-sites": f"{PUBLIC}*5"})
        for _ in range(3):
            r, since = self.send(GOOD)
            eml = self.assert_delivered(r, since)
            ars = our_ar(eml)
            self.assertEqual(len(ars), 1, eml)
            self.assertNotIn("127.255.255.254", ars[0])  # an error is not a hit
            self.assertNotIn("x-dnsbl", ars[0])
        time.sleep(0.3)  # anything logged late counts too
        # The daemon's lines (not the harness's "=====" marks), per-connection summaries aside:
        # the zone is named exactly once, in the warning with the fix.
        lines = [ln for ln in self.h.milter.log_since(start).splitlines()
                 if ln.startswith("rdns-milter[") and "client=" not in ln]
        about_zone = [ln for ln in lines if PUBLIC in ln]
        self.assertEqual(len(about_zone), 1, "\n".join(about_zone) + self.context(since=start))
        self.assertRegex(about_zone[0], r"(?i)public", about_zone[0])
        self.assertIn("127.255.255.254", about_zone[0])

    def test_allowlisted_client_without_ptr_accepted_with_dnswl_header(self):
        self.h.ensure_milter(ALLOW)
        r, since = self.send(ALLOWED)
        eml = self.assert_delivered(r, since)
        ars = our_ar(eml)
        self.assertEqual(len(ars), 1, eml)
        parts = ph.split_ar(ars[0])
        self.assertTrue(any(p.startswith("iprev=fail") for p in parts), ars[0])
        dnswl = [p for p in parts if p.startswith("dnswl=")]
        self.assertEqual(dnswl, [f'dnswl=pass dns.zone=wl.rbl.test policy.ip=127.0.10.1 '
                                 f'policy.txt="{ALLOWED_TXT}"'], ars[0])
        line = self.assert_log_has(since, "client=unknown[192.0.2.45]", "iprev=fail(no-ptr)",
                                   "dnsbl=-5(wl.rbl.test:127.0.10.1)")
        self.assertRegex(line, r" action=(accept|tag)\b", line)

    def test_allowlisted_client_without_ptr_rejected_without_the_threshold(self):
        # dnsbl-allowlist-threshold 0 (the default, off): the no-PTR reject stands.
        self.h.ensure_milter({"dnsbl-sites": ALLOW["dnsbl-sites"]})
        r, since = self.send(ALLOWED)
        ctx = self.context(r, since)
        self.assertIsNone(r.queue_id, ctx)
        self.assertTrue((r.reply_to("RCPT TO") or "").startswith("550 5.7.25"), ctx)


def main() -> int:
    return ph.run_tests("dnsbl", __name__,
                        (ph.POSTFIX, ph.SWAKS, "knotd", "kdig", "keymgr", "script", "rbldnsd"))


if __name__ == "__main__":
    sys.exit(main())
