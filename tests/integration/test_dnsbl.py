#!/usr/bin/env python3
"""Issue 9 against a real rbldnsd: `rdns-milter --check IP [--helo N] [--mail-from A] [--json]`
with a config file whose resolver is the DNS fixture (tests/fixture/, lists under rbl.test.:
see its README). One fixture for the whole file; every check is a fresh rdns-milter process.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/integration/test_dnsbl.py [-k PATTERN]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixture"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

from dnsfixture import DnsFixture  # noqa: E402  (path set up above)
from postfix_harness import split_ar, unfold  # noqa: E402  (RFC 8601 header splitting)

MILTER = os.environ.get("RDNS_MILTER") or os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                      "build", "src", "rdns-milter")

# Clients and lists (tests/fixture/README.md, "DNS lists").
LISTED = "192.0.2.44"       # bl.rbl.test 127.0.0.4 with TXT; PTR bl-listed.test (iprev pass)
LISTED_TXT = "listed: see http://bl.rbl.test/lookup?ip=192.0.2.44"
LISTED6 = "2001:db8::44"    # bl6.rbl.test 127.0.0.4; PTR bl-listed.test (iprev pass)
LISTED6_QUERY = "4.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl6.rbl.test"
ALLOWED = "192.0.2.45"      # wl.rbl.test 127.0.10.1 with TXT; no PTR (iprev fail)
ALLOWED_TXT = "allow-listed: see http://wl.rbl.test/lookup?ip=192.0.2.45"
PTR_LISTED = "192.0.2.46"   # PTR listed-ptr.zz (iprev pass), listed-ptr.zz on dbl.rbl.test
GOOD = "192.0.2.7"          # on no list (except the everything-lists); PTR good.test
GOOD6 = "2001:db8::7"
PUBLIC = "d9a0c3f1e7b24a65b8c2.dqs.rbl.test"   # answers 127.255.255.254 to everything
DEAD = "dead.rbl.test"      # lists everything, 127.0.0.1 included
KEY = "8f3e2d1c0b9a87654321"
KEYED = f"{KEY}.zen.dqs.rbl.test"   # a DQS zone with a key in its name: bl.rbl.test's data


def bare(name: str) -> str:
    """A DNS name without its trailing dot, lower case (the report may write either)."""
    return name.rstrip(".").lower()


class DnsblCheck(unittest.TestCase):
    fx: DnsFixture
    tmp: tempfile.TemporaryDirectory

    @classmethod
    def setUpClass(cls):
        if not os.access(MILTER, os.X_OK):
            raise RuntimeError(f"rdns-milter not found: {MILTER} (set RDNS_MILTER)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="rdns-dnsbl-it-")
        cls.fx = DnsFixture(os.path.join(cls.tmp.name, "dns"))
        try:
            cls.fx.start(watch_pid=os.getpid())
        except BaseException:
            cls.fx.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.fx.stop()
        cls.tmp.cleanup()

    # ----- helpers ---------------------------------------------------------------------------

    def config(self, lines: list[str]) -> str:
        """Writes a config file (the fixture's resolver first, then `lines`); returns its path."""
        fd, path = tempfile.mkstemp(suffix=".conf", dir=self.tmp.name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"unbound-config = {self.fx.unbound_conf}\n")
            f.write("query-timeout = 2\n")
            for line in lines:
                f.write(line + "\n")
        return path

    def run_milter(self, conf: str, *args: str) -> subprocess.CompletedProcess:
        start = time.monotonic()
        proc = subprocess.run([MILTER, "--config", conf, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace", timeout=60)
        # Note: every list answers from loopback; a slow run means a query went unanswered.
        self.assertLess(time.monotonic() - start, 15, f"{args} took too long\n{proc.stderr}")
        return proc

    def check(self, lines: list[str], ip: str, *extra: str) -> dict:
        """`--check ip --json` with a config of `lines`; the parsed report (exit 0 required)."""
        proc = self.run_milter(self.config(lines), "--check", ip, *extra, "--json")
        self.assertEqual(proc.returncode, 0, f"exit {proc.returncode}\n{proc.stdout}\n"
                                             f"{proc.stderr}")
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            self.fail(f"not JSON ({e}):\n{proc.stdout}\n{proc.stderr}")
        report["_stderr"] = proc.stderr
        return report

    def dnsbl(self, report: dict, key: str = "dnsbl") -> dict:
        checks = report.get("checks", {})
        self.assertIn(key, checks, self.dump(report))
        return checks[key]

    @staticmethod
    def dump(report: dict) -> str:
        return "\n" + json.dumps(report, indent=2)

    def assert_hit(self, hit: dict, zone: str, query: str, answer: list[str], weight: int,
                   txt: str | None, report: dict) -> None:
        ctx = self.dump(report)
        self.assertEqual(bare(hit.get("zone", "")), zone, ctx)
        self.assertEqual(bare(hit.get("query", "")), query, ctx)
        self.assertEqual(hit.get("answer"), answer, ctx)
        self.assertEqual(hit.get("weight"), weight, ctx)
        if txt is not None:
            self.assertEqual(hit.get("txt"), txt, ctx)

    def errors_for(self, block: dict, zone: str) -> list[dict]:
        return [e for e in block.get("errors", []) if bare(e.get("zone", "")) == zone]

    def headers(self, report: dict) -> str:
        return "\n".join(report.get("headers") or [])

    # ----- IPv4 and IPv6 block lists ---------------------------------------------------------

    def test_ipv4_listing_with_txt_weight_and_threshold(self):
        sites = ["dnsbl-sites = bl.rbl.test=127.0.0.[2..11]*3", "dnsbl-threshold = 3"]
        report = self.check(sites, LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("score"), 3, ctx)
        self.assertEqual(bl.get("threshold"), 3, ctx)
        self.assertEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(len(bl.get("hits", [])), 1, ctx)
        self.assert_hit(bl["hits"][0], "bl.rbl.test", "44.2.0.192.bl.rbl.test", ["127.0.0.4"], 3,
                        LISTED_TXT, report)
        self.assertEqual(bl.get("errors"), [], ctx)
        # The default action: reject 554 5.7.1, the reply names the list and quotes its TXT.
        self.assertEqual(report.get("action"), "reject", ctx)
        reply = report.get("reply") or ""
        self.assertTrue(reply.startswith("554 5.7.1"), ctx)
        self.assertIn("bl.rbl.test", reply)
        self.assertIn(LISTED_TXT, reply)
        # The iprev result of this client is a pass: the list alone rejects it.
        self.assertEqual(report["checks"]["iprev"]["result"], "pass", ctx)
        # Authentication-Results: the block-list hit as x-dnsbl with the zone and the answer.
        header = self.headers(report)
        self.assertRegex(header, r"x-dnsbl=\S+", ctx)
        self.assertIn("bl.rbl.test", header)
        self.assertIn("127.0.0.4", header)
        self.assertNotIn("dnswl=", header)

    def test_ipv4_mapped_client_is_asked_as_ipv4(self):
        report = self.check(["dnsbl-sites = bl.rbl.test*3"], "::ffff:" + LISTED)
        bl = self.dnsbl(report)
        self.assertEqual(len(bl.get("hits", [])), 1, self.dump(report))
        self.assert_hit(bl["hits"][0], "bl.rbl.test", "44.2.0.192.bl.rbl.test", ["127.0.0.4"], 3,
                        LISTED_TXT, report)

    def test_ipv4_score_below_threshold_is_not_listed(self):
        report = self.check(["dnsbl-sites = bl.rbl.test*2", "dnsbl-threshold = 3"], LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("score"), 2, ctx)
        self.assertEqual(bl.get("threshold"), 3, ctx)
        self.assertNotEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(len(bl.get("hits", [])), 1, ctx)  # still shown, with its weight
        self.assertEqual(bl["hits"][0].get("weight"), 2, ctx)
        self.assertEqual(report.get("action"), "accept", ctx)

    def test_filter_that_does_not_match_the_answer_is_no_hit(self):
        # bl.rbl.test answers 127.0.0.4; the filter wants 127.0.0.5-11.
        report = self.check(["dnsbl-sites = bl.rbl.test=127.0.0.[5..11]"], LISTED)
        bl = self.dnsbl(report)
        self.assertEqual(bl.get("hits"), [], self.dump(report))
        self.assertEqual(bl.get("score"), 0, self.dump(report))
        self.assertEqual(bl.get("result"), "clean", self.dump(report))
        self.assertEqual(report.get("action"), "accept", self.dump(report))

    def test_unlisted_client_is_clean(self):
        report = self.check(["dnsbl-sites = bl.rbl.test*3, bl6.rbl.test*3"], GOOD)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("score"), 0, ctx)
        self.assertEqual(bl.get("threshold"), 1, ctx)  # the default, postscreen's
        self.assertEqual(bl.get("result"), "clean", ctx)
        self.assertEqual(bl.get("hits"), [], ctx)
        self.assertEqual(bl.get("errors"), [], ctx)
        self.assertEqual(report.get("action"), "accept", ctx)
        self.assertNotIn("x-dnsbl", self.headers(report))

    def test_text_report_shows_list_query_answer_txt_weight_and_threshold(self):
        conf = self.config(["dnsbl-sites = bl.rbl.test*3", "dnsbl-threshold = 2"])
        proc = self.run_milter(conf, "--check", LISTED)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        out = proc.stdout
        for needle in ("bl.rbl.test", "44.2.0.192.bl.rbl.test", "127.0.0.4", LISTED_TXT):
            self.assertIn(needle, out)
        self.assertRegex(out, r"(?i)threshold\D{0,20}2", out)
        self.assertRegex(out, r"(?i)(score|total)\D{0,20}3", out)

    def test_ipv6_listing(self):
        report = self.check(["dnsbl-sites = bl.rbl.test*3, bl6.rbl.test*2"], LISTED6)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(bl.get("score"), 2, ctx)
        hits = bl.get("hits", [])
        self.assertEqual(len(hits), 1, ctx)  # bl.rbl.test (IPv4 only) does not list it
        self.assert_hit(hits[0], "bl6.rbl.test", LISTED6_QUERY, ["127.0.0.4"], 2,
                        "listed (IPv6): see http://bl6.rbl.test/lookup?ip=2001:db8::44", report)
        self.assertEqual(report["checks"]["iprev"]["result"], "pass", ctx)
        self.assertEqual(report.get("action"), "reject", ctx)
        self.assertIn("bl6.rbl.test", report.get("reply") or "")
        # Another IPv6 client of the same /64 region is not listed.
        clean = self.dnsbl(self.check(["dnsbl-sites = bl6.rbl.test*2"], GOOD6))
        self.assertEqual(clean.get("hits"), [], self.dump(clean))
        self.assertEqual(clean.get("result"), "clean", self.dump(clean))

    def test_reply_map_hides_the_dqs_key(self):
        report = self.check([f"dnsbl-sites = {KEYED}*3",
                             f"dnsbl-reply-map = {KEYED}=zen.rbl.test"], LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(len(bl.get("hits", [])), 1, ctx)
        self.assertEqual(bare(bl["hits"][0].get("zone", "")), "zen.rbl.test", ctx)
        self.assertEqual(bl["hits"][0].get("answer"), ["127.0.0.4"], ctx)
        reply = report.get("reply") or ""
        self.assertIn("zen.rbl.test", reply, ctx)
        self.assertNotIn(KEY, reply, ctx)
        header = self.headers(report)
        self.assertIn("zen.rbl.test", header, ctx)
        self.assertNotIn(KEY, header, ctx)

    def test_list_without_test_entry_is_still_used(self):
        # RFC 5782 §5: a missing 127.0.0.2 entry earns a warning, not a broken mark.
        report = self.check(["dnsbl-sites = notest.rbl.test*2"], LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(len(bl.get("hits", [])), 1, ctx)
        self.assert_hit(bl["hits"][0], "notest.rbl.test", "44.2.0.192.notest.rbl.test",
                        ["127.0.0.3"], 2, "listed (a list without test entry): 192.0.2.44",
                        report)
        self.assertEqual(report.get("action"), "reject", ctx)

    def test_hostile_txt_cannot_inject_a_reply_line_or_a_result(self):
        # hostile-list.test's TXT: CR LF, a fake "250 2.0.0 Ok", quotes, ';', '(' and '%s'.
        report = self.check(["dnsbl-sites = hostile-list.test*3"], LISTED)
        ctx = self.dump(report)
        reply = report.get("reply") or ""
        self.assertTrue(reply.startswith("554 5.7.1"), ctx)
        self.assertIn("hostile-list.test", reply, ctx)
        self.assertNotRegex(reply, r"[\x00-\x1f\x7f]", ctx)
        for header in report.get("headers") or []:
            self.assertNotRegex(header, r"[\x00-\x08\x0b-\x1f\x7f]|\r|\n(?![ \t])", ctx)
        ars = [h.split(":", 1)[1] for h in report.get("headers") or []
               if h.lower().startswith("authentication-results:")]
        self.assertEqual(len(ars), 1, ctx)
        methods = [p.split("=", 1)[0] for p in split_ar(unfold(ars[0]))[1:]]
        self.assertEqual(methods, ["iprev", "x-dnsbl"], ctx)

    # ----- allow-list ------------------------------------------------------------------------

    def test_allowlist_with_threshold_overrides_the_iprev_reject(self):
        sites = ["dnsbl-sites = wl.rbl.test=127.0.10.1*-5", "dnsbl-allowlist-threshold = -5"]
        report = self.check(sites, ALLOWED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("result"), "allowlisted", ctx)
        self.assertEqual(bl.get("score"), -5, ctx)
        self.assertEqual(len(bl.get("hits", [])), 1, ctx)
        self.assert_hit(bl["hits"][0], "wl.rbl.test", "45.2.0.192.wl.rbl.test", ["127.0.10.1"],
                        -5, ALLOWED_TXT, report)
        # iprev still fails (no PTR) and is recorded, but does not reject: the message is
        # delivered (accept, or tag: with the header).
        self.assertEqual(report["checks"]["iprev"]["result"], "fail", ctx)
        self.assertIn(report.get("action"), ("accept", "tag"), ctx)
        header = self.headers(report)
        self.assertIn("iprev=fail", header)
        # RFC 8904.
        self.assertIn(f'dnswl=pass dns.zone=wl.rbl.test policy.ip=127.0.10.1 '
                      f'policy.txt="{ALLOWED_TXT}"', header)
        self.assertNotIn("x-dnsbl", header)

    def test_allowlist_without_threshold_does_not_override(self):
        # dnsbl-allowlist-threshold defaults to 0 (off): the no-PTR reject stands.
        report = self.check(["dnsbl-sites = wl.rbl.test=127.0.10.1*-5"], ALLOWED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("score"), -5, ctx)
        self.assertNotEqual(bl.get("result"), "listed", ctx)
        self.assertEqual(report["checks"]["iprev"]["result"], "fail", ctx)
        self.assertEqual(report.get("action"), "reject", ctx)
        self.assertTrue((report.get("reply") or "").startswith("550 5.7.25"), ctx)

    # ----- error answers and broken lists ----------------------------------------------------

    def test_public_resolver_answer_is_an_error_not_a_listing(self):
        report = self.check([f"dnsbl-sites = {PUBLIC}*5, bl.rbl.test*3"], GOOD)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("hits"), [], ctx)
        self.assertEqual(bl.get("score"), 0, ctx)
        self.assertNotEqual(bl.get("result"), "listed", ctx)
        errors = self.errors_for(bl, PUBLIC)
        self.assertEqual(len(errors), 1, ctx)
        error = errors[0]
        # The error answer shows, as "answer" (asked now) or in the reason of a list the health
        # check paused ("outcome"); either way with the public-resolver explanation.
        self.assertTrue(error.get("answer") or error.get("outcome"), ctx)
        self.assertIn("127.255.255.254", json.dumps(error), ctx)
        self.assertRegex(error.get("reason", ""), r"(?i)public", ctx)
        self.assertEqual(report.get("action"), "accept", ctx)  # DNS trouble never rejects
        self.assertNotIn("127.255.255.254", self.headers(report))  # errors are not hits

    def test_public_resolver_list_beside_a_real_listing(self):
        # The error list has no influence; the working list still lists the client.
        report = self.check([f"dnsbl-sites = {PUBLIC}*5, bl.rbl.test*3",
                             "dnsbl-threshold = 3"], LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("score"), 3, ctx)
        self.assertEqual(bl.get("result"), "listed", ctx)
        self.assertEqual([bare(h.get("zone", "")) for h in bl.get("hits", [])], ["bl.rbl.test"],
                         ctx)
        self.assertEqual(len(self.errors_for(bl, PUBLIC)), 1, ctx)
        self.assertNotIn(PUBLIC, report.get("reply") or "")

    def test_configured_error_code_is_not_a_listing(self):
        # notest.rbl.test answers 127.0.0.3 for 192.0.2.44: a hit, unless dnsbl-error-codes
        # says that answer is the list's error code.
        sites = ["dnsbl-sites = notest.rbl.test*3, bl.rbl.test*3", "dnsbl-threshold = 3"]
        report = self.check(sites + ["dnsbl-error-codes = 127.0.0.3"], LISTED)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual([bare(h.get("zone", "")) for h in bl.get("hits", [])], ["bl.rbl.test"],
                         ctx)
        self.assertEqual(bl.get("score"), 3, ctx)
        errors = self.errors_for(bl, "notest.rbl.test")
        self.assertEqual(len(errors), 1, ctx)
        self.assertIn("127.0.0.3", json.dumps(errors[0]), ctx)
        self.assertNotIn("notest.rbl.test", report.get("reply") or "", ctx)
        self.assertNotIn("127.0.0.3", self.headers(report), ctx)

    def test_public_resolver_answer_to_a_domain_query_is_an_error(self):
        report = self.check([f"rhsbl-sites = {PUBLIC}*5"], GOOD, "--helo", "mail.zz")
        rhsbl = self.dnsbl(report, "rhsbl")
        ctx = self.dump(report)
        self.assertEqual(rhsbl.get("hits"), [], ctx)
        self.assertNotEqual(rhsbl.get("result"), "listed", ctx)
        errors = self.errors_for(rhsbl, PUBLIC)
        self.assertTrue(errors, ctx)
        self.assertIn("127.255.255.254", json.dumps(errors), ctx)
        self.assertIn(report.get("action"), ("accept", "tag"), ctx)

    def test_list_that_lists_127_0_0_1_is_broken_and_not_used(self):
        for client in (GOOD, GOOD6):
            report = self.check([f"dnsbl-sites = {DEAD}*5"], client)
            bl = self.dnsbl(report)
            ctx = self.dump(report)
            self.assertEqual(bl.get("hits"), [], ctx)
            self.assertEqual(bl.get("score"), 0, ctx)
            self.assertNotEqual(bl.get("result"), "listed", ctx)
            self.assertEqual(report.get("action"), "accept", ctx)
            # Reported as broken, with the reason: it lists the RFC 5782 must-not entry.
            errors = self.errors_for(bl, DEAD)
            self.assertEqual(len(errors), 1, ctx)
            self.assertRegex(errors[0].get("reason", ""), r"127\.0\.0\.1|::ffff:127\.0\.0\.1|"
                                                          r"(?i:broken|wildcard)", ctx)
            self.assertNotIn(DEAD, self.headers(report))

    def test_servfail_list_is_skipped_or_tempfails_when_told(self):
        # servfail.test: a knot zone without zone file, SERVFAIL at once (never a 5xx).
        sites = ["dnsbl-sites = bl.servfail.test*5, bl.rbl.test*3", "dnsbl-threshold = 3"]
        report = self.check(sites, GOOD)
        bl = self.dnsbl(report)
        ctx = self.dump(report)
        self.assertEqual(bl.get("hits"), [], ctx)
        errors = self.errors_for(bl, "bl.servfail.test")
        self.assertEqual(len(errors), 1, ctx)
        self.assertIn("servfail", json.dumps(errors[0]).lower(), ctx)
        self.assertIn(report.get("action"), ("accept", "tag"), ctx)
        # A listing elsewhere still counts beside the failed list.
        listed = self.check(sites, LISTED)
        self.assertEqual(listed.get("action"), "reject", self.dump(listed))
        # dnsbl-tempfail-on-error = yes: a tempfail (4xx), never a reject.
        told = self.check(sites + ["dnsbl-tempfail-on-error = yes"], GOOD)
        self.assertEqual(told.get("action"), "tempfail", self.dump(told))
        self.assertTrue((told.get("reply") or "").startswith("4"), self.dump(told))

    # ----- domain lists ----------------------------------------------------------------------

    RHSBL = ["rhsbl-sites = dbl.rbl.test=127.0.1.[2..99]*2"]

    def rhsbl_hits(self, report: dict) -> list[dict]:
        return self.dnsbl(report, "rhsbl").get("hits", [])

    def test_rhsbl_helo_name(self):
        report = self.check(self.RHSBL, GOOD, "--helo", "listed.zz")
        hits = self.rhsbl_hits(report)
        ctx = self.dump(report)
        self.assertEqual(len(hits), 1, ctx)
        self.assert_hit(hits[0], "dbl.rbl.test", "listed.zz.dbl.rbl.test", ["127.0.1.2"], 2,
                        "listed domain: see http://dbl.rbl.test/lookup?d=listed.zz", report)
        self.assertEqual(bare(hits[0].get("domain", "")), "listed.zz", ctx)
        self.assertEqual(hits[0].get("source"), "helo", ctx)
        # listed.zz A 192.0.2.7: the HELO check passes, so the list alone rejects.
        self.assertEqual(report["checks"]["helo"]["result"], "pass", ctx)
        self.assertEqual(self.dnsbl(report, "rhsbl").get("result"), "listed", ctx)
        self.assertEqual(report.get("action"), "reject", ctx)
        self.assertIn("dbl.rbl.test", report.get("reply") or "")

    def test_rhsbl_mail_from_domain(self):
        report = self.check(self.RHSBL, GOOD, "--helo", "mail.zz", "--mail-from",
                            "bob@listed.example.org")
        hits = self.rhsbl_hits(report)
        ctx = self.dump(report)
        self.assertEqual(len(hits), 1, ctx)  # mail.zz is not listed
        self.assert_hit(hits[0], "dbl.rbl.test", "listed.example.org.dbl.rbl.test",
                        ["127.0.1.2"], 2, None, report)
        self.assertEqual(bare(hits[0].get("domain", "")), "listed.example.org", ctx)
        self.assertEqual(hits[0].get("source"), "mailfrom", ctx)

    def test_rhsbl_verified_ptr_name(self):
        report = self.check(self.RHSBL, PTR_LISTED)
        ctx = self.dump(report)
        self.assertEqual(report["checks"]["iprev"]["result"], "pass", ctx)
        hits = self.rhsbl_hits(report)
        self.assertEqual(len(hits), 1, ctx)
        self.assert_hit(hits[0], "dbl.rbl.test", "listed-ptr.zz.dbl.rbl.test", ["127.0.1.2"], 2,
                        None, report)
        self.assertEqual(bare(hits[0].get("domain", "")), "listed-ptr.zz", ctx)
        self.assertEqual(hits[0].get("source"), "ptr", ctx)

    def test_rhsbl_clean_names(self):
        report = self.check(self.RHSBL, GOOD, "--helo", "mail.zz", "--mail-from",
                            "bob@example.org")
        ctx = self.dump(report)
        self.assertEqual(self.rhsbl_hits(report), [], ctx)
        self.assertEqual(self.dnsbl(report, "rhsbl").get("errors"), [], ctx)
        self.assertEqual(self.dnsbl(report, "rhsbl").get("result"), "clean", ctx)
        self.assertIn(report.get("action"), ("accept", "tag"), ctx)  # tag: spf=none

    # ----- configuration errors --------------------------------------------------------------

    def assert_config_error(self, option: str, entry: str) -> None:
        # The same option with only its good entry is accepted (the option exists) ...
        good = self.run_milter(self.config([f"{option} = bl.rbl.test*2"]), "--config-test")
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        # ... and the bad entry beside it stops start-up, naming file:line, option and entry.
        conf = self.config(["# a comment", f"{option} = bl.rbl.test*2, {entry}"])
        line = 4  # unbound-config, query-timeout, the comment, then this one
        for args in (["--check", GOOD, "--json"], ["--config-test"]):
            proc = self.run_milter(conf, *args)
            self.assertEqual(proc.returncode, 2, f"{args}: {proc.stdout}{proc.stderr}")
            self.assertIn(f"{conf}:{line}", proc.stderr)
            self.assertIn(option, proc.stderr)
            self.assertIn(entry, proc.stderr)
            self.assertNotIn("unknown option", proc.stderr)
            if args[0] == "--check":
                self.assertEqual(proc.stdout, "", "a report despite the refused configuration")

    def test_bad_dnsbl_sites_entry_refuses_to_start(self):
        for entry in ("bl.rbl.test=127.0.0.[2..x]", "bl.rbl.test*heavy", "bl.rbl.test=127.0.0",
                      "bl.rbl.test=127.0.0.[9..2]", "bl.rbl.test=127.0.0.256"):
            with self.subTest(entry=entry):
                self.assert_config_error("dnsbl-sites", entry)

    def test_bad_rhsbl_sites_entry_refuses_to_start(self):
        self.assert_config_error("rhsbl-sites", "dbl.rbl.test=127.0.1.[2..99*2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
