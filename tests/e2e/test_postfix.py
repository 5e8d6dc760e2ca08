"""End-to-end tests: swaks -> private Postfix -> rdns-milter -> DNS fixture.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_postfix.py [-k PATTERN]
(meson: `meson test -C build --suite e2e`). Client addresses come in through XCLIENT; the
milter then sees the XCLIENT address (Postfix closes the milter session of the real 127.0.0.1
client and opens a new one). See tests/fixture/README.md for what each address resolves to.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import milter_client as mc  # noqa: E402
import postfix_harness as ph  # noqa: E402

GOOD = "192.0.2.7"          # PTR good.test, good.test A 192.0.2.7
GOOD6 = "2001:db8::7"       # PTR good6.test, AAAA 2001:db8::7
NO_PTR = "192.0.2.12"       # NXDOMAIN
NO_MATCH = "192.0.2.10"     # PTR elsewhere.test, A 192.0.2.200
SERVFAIL = "198.51.100.7"   # reverse zone without zone file: SERVFAIL

# HELO names (tests/fixture/README.md, zone zz.): *.test names are a private TLD to the milter.
HELO_GOOD = "mail.zz"       # A 192.0.2.7 (GOOD)
HELO_GOOD6 = "v6.zz"        # AAAA 2001:db8::7 (GOOD6)

DEFAULT: dict[str, str] = {}


def ar_headers(eml: str) -> list[str]:
    """Unfolded values of every Authentication-Results header, top to bottom."""
    return [ph.unfold(v) for n, v in ph.message_headers(eml)
            if n.lower() == "authentication-results"]



class PostfixE2E(ph.HarnessAsserts, unittest.TestCase):
    """One Postfix and one DNS fixture for the class; the milter restarts only when a test
    needs another configuration."""

    h: ph.Harness

    @classmethod
    def setUpClass(cls):
        cls.h = ph.Harness()
        try:
            t0 = time.monotonic()
            cls.h.start_dns()
            cls.h.start_postfix()
            cls.setup_seconds = time.monotonic() - t0
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    # ----- helpers ---------------------------------------------------------------------------

    def milter(self, overrides: dict[str, str] | None = None) -> ph.Milter:
        return self.h.ensure_milter(overrides or DEFAULT)

    def send(self, **kwargs) -> tuple[ph.SmtpResult, int]:
        if "helo" not in kwargs and kwargs.get("xclient_addr"):
            kwargs["helo"] = ph.helo_literal(kwargs["xclient_addr"])
        offset = self.h.milter.log_size() if self.h.milter else 0
        return self.h.swaks(**kwargs), offset

    def assert_refused_at_rcpt(self, result: ph.SmtpResult, reply_prefix: str,
                               since: int | None = None) -> None:
        ctx = self.context(result, since)
        mail = result.reply_to("MAIL FROM") or ""
        self.assertTrue(mail.startswith("250"), f"MAIL FROM answered {mail!r}" + ctx)
        rcpt = result.reply_to("RCPT TO") or ""
        self.assertTrue(rcpt.startswith(reply_prefix),
                        f"RCPT TO answered {rcpt!r}, expected {reply_prefix!r}" + ctx)
        self.assertEqual(result.exit_code, 24, "swaks: expected 'no RCPTs accepted'" + ctx)
        self.assertIsNone(result.queue_id, "message was queued" + ctx)

    def assert_our_ar(self, eml: str, iprev: str, context: str = "") -> str:
        """Exactly one Authentication-Results header, ours (authserv-id mx.test), with exactly
        one iprev result: the unfolded resinfo must equal `iprev` (a regex if it starts with
        ^). Returns the unfolded header."""
        ars = ar_headers(eml)
        self.assertEqual(len(ars), 1, f"expected one Authentication-Results:\n{eml}{context}")
        parts = ph.split_ar(ars[0])
        self.assertEqual(parts[0], "mx.test", ars[0])
        iprevs = [p for p in parts[1:] if p.startswith("iprev=")]
        self.assertEqual(len(iprevs), 1, f"iprev results in {ars[0]!r}")
        if iprev.startswith("^"):
            self.assertRegex(iprevs[0], iprev, ars[0])
        else:
            self.assertEqual(iprevs[0], iprev, ars[0])
        return ars[0]

    def assert_refused_at_mail(self, result: ph.SmtpResult, reply_prefix: str,
                               since: int | None = None) -> None:
        """EHLO (after XCLIENT) accepted, MAIL FROM refused: Postfix's answer to a milter that
        rejects at HELO."""
        ctx = self.context(result, since)
        ehlos = result.replies_to("EHLO")
        self.assertTrue(ehlos and all(e.startswith("250") for e in ehlos),
                        f"EHLO answered {ehlos!r}" + ctx)
        mail = result.reply_to("MAIL FROM") or ""
        self.assertTrue(mail.startswith(reply_prefix),
                        f"MAIL FROM answered {mail!r}, expected {reply_prefix!r}" + ctx)
        self.assertIsNone(result.reply_to("RCPT TO"), "RCPT TO was sent" + ctx)
        self.assertEqual(result.exit_code, 23, "swaks: expected 'MAIL FROM not accepted'" + ctx)
        self.assertIsNone(result.queue_id, "message was queued" + ctx)

    def assert_our_helo(self, eml: str, helo: str, context: str = "") -> str:
        """Our Authentication-Results has exactly one x-helo resinfo, equal to `helo` (a regex
        if it starts with ^), right after the iprev one. Returns the unfolded header."""
        ars = [a for a in ar_headers(eml) if ph.split_ar(a)[0] == "mx.test"]
        self.assertEqual(len(ars), 1, f"expected one Authentication-Results of ours:\n{eml}"
                         + context)
        parts = ph.split_ar(ars[0])
        helos = [p for p in parts[1:] if p.startswith("x-helo=")]
        self.assertEqual(len(helos), 1, f"x-helo results in {ars[0]!r}" + context)
        if helo.startswith("^"):
            self.assertRegex(helos[0], helo, ars[0])
        else:
            self.assertEqual(helos[0], helo, ars[0])
        self.assertTrue(parts[1].startswith("iprev="), ars[0])
        self.assertEqual(parts.index(helos[0]), 2, f"x-helo should follow iprev: {ars[0]!r}")
        return ars[0]


    def test_01_good_fcrdns_delivered_with_header(self):
        self.milter()
        r, since = self.send(xclient_addr=GOOD)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, "iprev=pass smtp.remote-ip=192.0.2.7 (good.test)",
                           self.context(r, since))
        # Inserted at the top: before every header of the original message.
        names = [n.lower() for n, _ in ph.message_headers(eml)]
        self.assertLess(names.index("authentication-results"), names.index("date"), eml)
        # Folded, if at all, only with CRLF/LF + WSP.
        raw = next(v for n, v in ph.message_headers(eml)
                   if n.lower() == "authentication-results")
        self.assertNotRegex(raw, r"\r(?!\n)|\n(?![ \t])", repr(raw))
        # The sender's domain publishes no SPF record: spf=none is tagged by default.
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "iprev=pass", "spf=none",
                            "action=tag")

    def test_02_good_fcrdns_ipv6(self):
        self.milter()
        r, since = self.send(xclient_addr="IPV6:" + GOOD6)
        eml = self.assert_delivered(r, since)
        # RFC 8601 pvalue: an IPv6 address has ':' (a tspecial), so it must be quoted.
        self.assert_our_ar(eml, 'iprev=pass smtp.remote-ip="2001:db8::7" (good6.test)',
                           self.context(r, since))

    def test_03_no_ptr_rejected_at_rcpt(self):
        self.milter()
        before = self.h.postfix.messages()
        r, since = self.send(xclient_addr=NO_PTR)
        self.assert_refused_at_rcpt(r, "550 5.7.25", since)
        self.assertIn("192.0.2.12", r.reply_to("RCPT TO"), "reply should name the address")
        self.assert_log_has(since, "client=unknown[192.0.2.12]", "no-ptr", "action=reject")
        self.assertEqual(self.h.postfix.messages(), before)

    def test_04_no_forward_match_tagged(self):
        # Default iprev-no-forward-match = tag: delivered with iprev=fail.
        self.milter()
        r, since = self.send(xclient_addr=NO_MATCH)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.10\b")

    def test_05_servfail_tempfailed_at_rcpt(self):
        self.milter()
        r, since = self.send(xclient_addr=SERVFAIL)
        self.assert_refused_at_rcpt(r, "450 4.7.25", since)
        self.assert_log_has(since, "client=unknown[198.51.100.7]", "iprev=temperror")

    def test_06_postmaster_exempt(self):
        self.milter()
        r, since = self.send(xclient_addr=NO_PTR, to="postmaster@example.net")
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")

    def test_07_exemption_is_per_recipient(self):
        # postmaster accepted, the ordinary recipient refused, in the same transaction.
        self.milter()
        r, since = self.send(xclient_addr=NO_PTR,
                             to="user@example.net,postmaster@example.net")
        ctx = self.context(r, since)
        rcpt_replies = r.replies_to("RCPT TO")
        self.assertEqual(len(rcpt_replies), 2, ctx)
        self.assertTrue(rcpt_replies[0].startswith("550 5.7.25"), ctx)
        self.assertTrue(rcpt_replies[1].startswith("250"), ctx)
        self.assertIsNotNone(r.queue_id, ctx)
        eml = self.h.wait_for_message(r.queue_id)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")

    def test_08_forged_ar_removed_foreign_kept(self):
        self.milter()
        path = os.path.join(self.h.root, "forged.eml")
        with open(path, "w", encoding="ascii") as f:
            f.write("Authentication-Results: mx.test; iprev=pass smtp.remote-ip=192.0.2.7"
                    " (forged-one)\n"
                    "Authentication-Results: other.example; spf=pass"
                    " smtp.mailfrom=sender@example.org\n"
                    "Authentication-Results: mx.test;\n\tiprev=pass (forged-two)\n"
                    "From: sender@example.org\nTo: user@example.net\nSubject: spoof\n"
                    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n.\n")
        r, since = self.send(xclient_addr=GOOD, data=path)
        eml = self.assert_delivered(r, since)
        ars = ar_headers(eml)
        self.assertNotIn("forged", eml, eml)
        self.assertEqual(len(ars), 2, eml)
        self.assertIn("other.example; spf=pass smtp.mailfrom=sender@example.org", ars, eml)
        ours = [a for a in ars if ph.split_ar(a)[0] == "mx.test"]
        self.assertEqual(len(ours), 1, eml)
        self.assertIn("iprev=pass smtp.remote-ip=192.0.2.7 (good.test)", ph.split_ar(ours[0]))
        self.assertIn("Subject: spoof", eml)

    def test_09_forged_ar_authserv_id_case_insensitive(self):
        # RFC 8601 §5: a header with our authserv-id must be removed; the id is a domain name,
        # compared without regard to case.
        self.milter()
        path = os.path.join(self.h.root, "forged-case.eml")
        with open(path, "w", encoding="ascii") as f:
            f.write("Authentication-Results: MX.Test; iprev=pass (forged-case)\n"
                    "Authentication-Results: mx.test.example; iprev=pass (other-id)\n"
                    "From: sender@example.org\nTo: user@example.net\nSubject: case\n\n"
                    "body\n.\n")
        r, since = self.send(xclient_addr=GOOD, data=path)
        eml = self.assert_delivered(r, since)
        self.assertNotIn("forged-case", eml, eml)
        # Only an exact id match is ours: mx.test.example is someone else's.
        self.assertIn("(other-id)", eml, eml)

    def test_10_hostile_helo_cannot_forge_a_result(self):
        # The HELO text may appear in our header (smtp.helo): quoting must keep it one value.
        # Sent to postmaster@ (exempt) so the message is delivered whatever the HELO verdict.
        self.milter()
        helo = 'x"; iprev=pass smtp.remote-ip=192.0.2.12 (forged) ; x="'
        r, since = self.send(xclient_addr=NO_PTR, to="postmaster@example.net", helo=helo)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b",
                           self.context(r, since))

    # ----- other configurations --------------------------------------------------------------

    def test_20_dry_run_delivers_with_header(self):
        self.milter({"dry-run": "yes"})
        r, since = self.send(xclient_addr=NO_PTR)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")
        r, since = self.send(xclient_addr=SERVFAIL)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=temperror smtp\.remote-ip=198\.51\.100\.7\b")

    def test_21_trusted_network_exempt(self):
        self.milter({"trusted-networks": "127.0.0.1/32, 192.0.2.12/32"})
        r, since = self.send(xclient_addr=NO_PTR)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")
        # Only that address: its neighbour without PTR is still refused.
        r, since = self.send(xclient_addr="192.0.2.17")
        self.assert_refused_at_rcpt(r, "550 5.7.25", since)

    def test_22_sasl_authenticated_exempt_via_postfix(self):
        # XCLIENT LOGIN sets the SASL login name, which Postfix passes as {auth_authen}.
        self.milter()
        r, since = self.send(xclient_addr=NO_PTR, extra=["--xclient-login", "bob"])
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")

    # ----- HELO/EHLO checks (issue 4) ---------------------------------------------------------

    def test_40_helo_private_tld_rejected_at_rcpt(self):
        # Good FCrDNS, but "exchange.local" is never a public name: helo-bad-tld = reject, and
        # with the default decision-stage (rcpt) the 5.5.2 comes at RCPT TO.
        self.milter()
        before = self.h.postfix.messages()
        r, since = self.send(xclient_addr=GOOD, helo="exchange.local")
        self.assert_refused_at_rcpt(r, "550 5.5.2", since)
        self.assertIn('"exchange.local"', r.reply_to("RCPT TO"), "reply should name the HELO")
        self.assertIn("public top-level domain", r.reply_to("RCPT TO"))
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "iprev=pass",
                            "helo=fail(bad-tld)", "stage=rcpt", "action=reject")
        self.assertEqual(self.h.postfix.messages(), before)

    def test_41_helo_stage_rejects_at_mail_from(self):
        # decision-stage = helo: the milter rejects the EHLO; Postfix answers 250 to EHLO and
        # gives the 5xx at MAIL FROM.
        self.milter({"decision-stage": "helo"})
        r, since = self.send(xclient_addr=GOOD, helo="exchange.local")
        self.assert_refused_at_mail(r, "550 5.5.2", since)
        self.assertIn('"exchange.local"', r.reply_to("MAIL FROM"))
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "helo=fail(bad-tld)",
                            "stage=helo", "action=reject")
        # The same stage lets a good HELO through, with the header.
        r, since = self.send(xclient_addr=GOOD, helo=HELO_GOOD)
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, "x-helo=pass smtp.helo=mail.zz", self.context(r, since))
        self.assert_log_has(since, "helo=pass(ok)", "stage=helo", "action=accept")

    def test_42_helo_matching_name_delivered_with_x_helo(self):
        self.milter()
        r, since = self.send(xclient_addr=GOOD, helo=HELO_GOOD)
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        self.assert_our_ar(eml, "iprev=pass smtp.remote-ip=192.0.2.7 (good.test)", ctx)
        self.assert_our_helo(eml, "x-helo=pass smtp.helo=mail.zz", ctx)
        # The resinfo is folded after the iprev one with ";" CRLF/LF TAB.
        raw = next(v for n, v in ph.message_headers(eml)
                   if n.lower() == "authentication-results")
        self.assertRegex(raw, r"\(good\.test\);\r?\n\tx-helo=pass smtp\.helo=mail\.zz(;|\s*$)",
                         repr(raw))
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "iprev=pass", "helo=pass(ok)",
                            "spf=none", "action=tag")

    def test_43_helo_ipv6_name_delivered(self):
        self.milter()
        r, since = self.send(xclient_addr="IPV6:" + GOOD6, helo=HELO_GOOD6)
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, "x-helo=pass smtp.helo=v6.zz", self.context(r, since))

    def test_44_helo_address_literal_passes(self):
        # [192.0.2.7] from 192.0.2.7 passes; ']' and '[' are tspecials: the value is quoted.
        self.milter()
        r, since = self.send(xclient_addr=GOOD, helo="[192.0.2.7]")
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, 'x-helo=pass smtp.helo="[192.0.2.7]"', self.context(r, since))
        r, since = self.send(xclient_addr="IPV6:" + GOOD6, helo="[IPv6:2001:db8::7]")
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, 'x-helo=pass smtp.helo="[IPv6:2001:db8::7]"',
                             self.context(r, since))

    def test_45_helo_forged_local_rejected(self):
        # "mx.test" is Postfix's myhostname (the j macro). forged-local is checked before the
        # TLD, so the reply is 5.7.1 "you are not us", not 5.5.2 bad-tld.
        self.milter()
        r, since = self.send(xclient_addr=GOOD, helo="mx.test")
        self.assert_refused_at_rcpt(r, "550 5.7.1", since)
        self.assertIn("mx.test", r.reply_to("RCPT TO"))
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "helo=fail(forged-local)",
                            "action=reject")
        r, since = self.send(xclient_addr=GOOD, helo="MX.TEST.")
        self.assert_refused_at_rcpt(r, "550 5.7.1", since)

    def test_46_helo_own_name_from_trusted_client_is_not_forged(self):
        # 127.0.0.1 is in trusted-networks: it may call itself mx.test. The name is still in a
        # private TLD (bad-tld), but a trusted client is exempt: tagged, delivered.
        self.milter()
        r, since = self.send(helo="mx.test")
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, "x-helo=fail smtp.helo=mx.test (bad-tld)",
                             self.context(r, since))
        self.assert_log_has(since, "client=unknown[127.0.0.1]", "helo=fail(bad-tld)",
                            "exempt=trusted-network", "would=reject")

    def test_47_helo_results_that_are_only_tagged(self):
        # RFC 5321 §4.1.4: mismatch alone must not refuse mail; no-address and temperror are
        # tagged by default too. An MX-only name counts as resolving (mismatch).
        self.milter()
        cases = {
            "other.zz": "x-helo=fail smtp.helo=other.zz (mismatch)",
            "mxonly.zz": "x-helo=fail smtp.helo=mxonly.zz (mismatch)",
            "noaddr.zz": "x-helo=fail smtp.helo=noaddr.zz (no-address)",
            "mail.broken.zz": "x-helo=temperror smtp.helo=mail.broken.zz (dns-error)",
        }
        for helo, expected in cases.items():
            with self.subTest(helo=helo):
                r, since = self.send(xclient_addr=GOOD, helo=helo)
                eml = self.assert_delivered(r, since)
                self.assert_our_helo(eml, expected, self.context(r, since))

    def test_48_helo_nonexistent_tld_rejected(self):
        # The TLD check asks SOA nosuchtld.: NXDOMAIN from the (test) root.
        self.milter()
        r, since = self.send(xclient_addr=GOOD, helo="mail.nosuchtld")
        self.assert_refused_at_rcpt(r, "550 5.5.2", since)
        self.assert_log_has(since, "helo=fail(bad-tld)", "action=reject")

    def test_49_helo_syntax_and_not_fqdn_rejected(self):
        self.milter()
        for helo, detail in (("bad_name.zz", "underscore"), ("192.0.2.7", "[192.0.2.7]")):
            with self.subTest(helo=helo):
                r, since = self.send(xclient_addr=GOOD, helo=helo)
                self.assert_refused_at_rcpt(r, "550 5.5.2", since)
                self.assertIn(detail, r.reply_to("RCPT TO"))
                self.assert_log_has(since, "helo=fail(syntax)", "action=reject")
        r, since = self.send(xclient_addr=GOOD, helo="mailhost")
        self.assert_refused_at_rcpt(r, "550 5.5.2", since)
        self.assertIn("fully qualified", r.reply_to("RCPT TO"))
        self.assert_log_has(since, "helo=fail(not-fqdn)", "action=reject")

    def test_50_xclient_helo_attribute_is_overridden_by_ehlo(self):
        # swaks sends EHLO again after XCLIENT; Postfix hands that EHLO to the milter, so an
        # XCLIENT HELO= attribute is not what the milter judges (the later EHLO is).
        self.milter()
        r, since = self.send(xclient_addr=GOOD, helo=HELO_GOOD,
                             extra=["--xclient-helo", "exchange.local"])
        ctx = self.context(r, since)
        self.assertIn("HELO=exchange.local", r.transcript, ctx)
        eml = self.assert_delivered(r, since)
        self.assert_our_helo(eml, "x-helo=pass smtp.helo=mail.zz", ctx)
        r, since = self.send(xclient_addr=GOOD, helo="exchange.local",
                             extra=["--xclient-helo", HELO_GOOD])
        self.assert_refused_at_rcpt(r, "550 5.5.2", since)

    # ----- process control -------------------------------------------------------------------

    def test_30_milter_down_postfix_tempfails(self):
        self.milter()
        self.h.stop_milter()
        r = self.h.swaks(xclient_addr=GOOD)
        ctx = self.context(r)
        self.assertNotEqual(r.exit_code, 0, ctx)
        self.assertTrue(any(x.startswith("451 4.7.1") for x in r.replies()), ctx)
        self.assertIsNone(r.queue_id, ctx)

    def test_31_sighup_changes_policy(self):
        m = self.milter()
        pid = m.proc.pid
        r, since = self.send(xclient_addr=NO_PTR)
        self.assert_refused_at_rcpt(r, "550 5.7.25", since)
        m.write_config({"iprev-no-ptr": "tag"})
        offset = m.log_size()
        m.signal(signal.SIGHUP)
        ph.wait_for(lambda: m.log_size() > offset, 2, 0.05)
        deadline = time.monotonic() + 3
        while True:
            r, since = self.send(xclient_addr=NO_PTR)
            if r.exit_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        eml = self.assert_delivered(r, since)
        self.assert_our_ar(eml, r"^iprev=fail smtp\.remote-ip=192\.0\.2\.12\b")
        self.assertTrue(m.alive())
        self.assertEqual(m.proc.pid, pid)
        m.options = None  # the running config differs from what ensure_milter() recorded

    def test_32_sighup_bad_config_keeps_old(self):
        m = self.milter()
        offset = m.log_size()
        m.write_config({"iprev-no-ptr": "banana"})
        m.signal(signal.SIGHUP)
        self.assert_log_has(offset, "banana", timeout=3)
        time.sleep(0.2)
        self.assertTrue(m.alive(), "milter died on a bad config reload" + self.context())
        r, since = self.send(xclient_addr=NO_PTR)
        self.assert_refused_at_rcpt(r, "550 5.7.25", since)
        r, since = self.send(xclient_addr=GOOD)
        self.assert_delivered(r, since)
        m.options = None

    def test_33_sigterm_exits_quickly(self):
        # With a milter session open mid-message (libmilter alone waits ~5 s for it).
        m = self.milter()
        client = mc.MilterClient(self.h.milter_port)
        self.addCleanup(client.close, False)
        client.negotiate()
        self.assertEqual(client.connect(b"[192.0.2.7]", GOOD).code, mc.CONTINUE)
        client.helo(b"[192.0.2.7]")
        client.macro(b"M", {b"i": b"QTERM"})
        self.assertEqual(client.mail(b"<sender@example.org>").code, mc.CONTINUE)
        elapsed = m.terminate(timeout=5)
        self.assertIsNotNone(elapsed, "rdns-milter still running 5 s after SIGTERM"
                             + self.context())
        self.assertLessEqual(elapsed, 1.5, f"SIGTERM took {elapsed:.2f} s")
        code = m.proc.returncode
        m.stop()
        self.assertEqual(code, 0, "exit status after SIGTERM" + self.context())


def main() -> int:
    return ph.run_tests("postfix", __name__,
                        (ph.POSTFIX, ph.SWAKS, "knotd", "kdig", "keymgr", "script"))


if __name__ == "__main__":
    sys.exit(main())
