"""End-to-end SPF tests: swaks -> private Postfix -> rdns-milter (-> OpenDMARC) -> DNS fixture.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_spf.py [-k PATTERN]
(meson: `meson test -C build --suite e2e spf`). Exit 77 (skip) when a required program is
missing; the OpenDMARC interop class alone is skipped when only opendmarc (Debian package
`opendmarc`) or mount namespaces are missing.

The SPF and DMARC records are added to the DNS fixture at run time (SPF_RECORDS, DMARC_RECORDS below); the
clients come in through XCLIENT from addresses with passing iprev (tests/fixture/README.md):
SPF is not checked for 127.0.0.1 (trusted-networks) and libspf2 passes any 127/8 client.
"""

from __future__ import annotations

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import opendmarc_harness as oh  # noqa: E402
import postfix_harness as ph  # noqa: E402

GOOD = "192.0.2.7"        # PTR good.test, good.test A 192.0.2.7 (iprev pass)
GOOD_B = "192.0.2.8"      # PTR ... multi-good.test A 192.0.2.8 (iprev pass)
GOOD6 = "2001:db8::7"     # PTR good6.test, AAAA 2001:db8::7 (iprev pass)

EXPLANATION = "%{d} does not let %{i} send as %{s}; see https://spf-fail.test/why"

# (zone, record) added to the fixture before the tests.
SPF_RECORDS = [
    ("test.", 'spf-pass 300 TXT "v=spf1 ip4:192.0.2.7 -all"'),
    ("test.", 'spf-fail 300 TXT "v=spf1 ip4:192.0.2.200 -all exp=why.spf-fail.test"'),
    ("test.", f'why.spf-fail 300 TXT "{EXPLANATION}"'),
    ("test.", 'spf-soft 300 TXT "v=spf1 ip4:192.0.2.200 ~all"'),
    ("test.", 'spf-tempinc 300 TXT "v=spf1 include:spf.servfail.test -all"'),
    ("test.", 'spf-v6 300 TXT "v=spf1 ip4:192.0.2.200 ip6:2001:db8::/64 -all"'),
    # exp= edge cases (RFC 7208 §6.2: a failing exp lookup changes nothing but the text).
    ("test.", 'exp-missing 300 TXT "v=spf1 -all exp=nothere.spf-fail.test"'),
    ("test.", 'exp-servfail 300 TXT "v=spf1 -all exp=why.servfail.test"'),
    ("test.", 'exp-evil 300 TXT "v=spf1 -all exp=evil.spf-fail.test"'),
    # "%%" expands to "%"; CR LF inside the text must not split the SMTP reply.
    ("test.", 'evil.spf-fail 300 TXT "100%% sure\\013\\010250 2.0.0 injected"'),
    ("test.", 'exp-pct 300 TXT "v=spf1 -all exp=pct.spf-fail.test"'),
    ("test.", 'pct.spf-fail 300 TXT "100%% sure about %{d}"'),
    ("test.", 'exp-long 300 TXT "v=spf1 -all exp=long.spf-fail.test"'),
    ("test.", "long.spf-fail 300 TXT " + " ".join(['"' + "x" * 250 + '"'] * 5)),
    # HELO identities (zz.: the HELO check treats *.test as a private TLD).
    ("zz.", 'mail 300 TXT "v=spf1 a -all"'),        # mail.zz A 192.0.2.7: pass from GOOD
    ("zz.", 'other 300 TXT "v=spf1 a -all"'),       # other.zz A 192.0.2.200: fail from GOOD
]

DMARC_DOMAIN = "dmarc-ok.test"
DMARC_RECORDS = [
    ("test.", 'dmarc-ok 300 TXT "v=spf1 ip4:192.0.2.7 -all"'),
    ("test.", '_dmarc.dmarc-ok 300 TXT "v=DMARC1; p=reject"'),
]



# ----- header parsing ------------------------------------------------------------------------

ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = rf"{ATEXT}+(?:\.{ATEXT}+)*"
QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'


def parse_received_spf(value: str) -> tuple[str, str, dict[str, str]]:
    """(result, comment, {key: value unquoted}) of an unfolded Received-SPF value, checked
    against RFC 7208 §9.1: result FWS [comment FWS] [key-value-list]; each value a dot-atom
    or a quoted-string. Raises ValueError naming the first violation."""
    m = re.match(r"(pass|fail|softfail|neutral|none|temperror|permerror)(?:\s+|$)", value)
    if not m:
        raise ValueError(f"no result keyword at the start: {value!r}")
    result, rest = m.group(1), value[m.end():]
    comment = ""
    if rest.startswith("("):
        depth, i = 0, 0
        while i < len(rest):
            c = rest[i]
            if c == "\\":
                i += 2
                continue
            depth += {"(": 1, ")": -1}.get(c, 0)
            i += 1
            if depth == 0:
                break
        if depth:
            raise ValueError(f"unbalanced comment: {value!r}")
        comment, rest = rest[:i], rest[i:].lstrip()
    pairs: dict[str, str] = {}
    pair = re.compile(rf"([A-Za-z][A-Za-z0-9_-]*)\s*=\s*({DOT_ATOM}|{QUOTED})\s*(;\s*|$)")
    pos = 0
    while pos < len(rest):
        m = pair.match(rest, pos)
        if not m:
            raise ValueError(f"not a key-value-pair (dot-atom or quoted-string value) at "
                             f"{rest[pos:]!r} in {value!r}")
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        pairs[m.group(1).lower()] = raw
        pos = m.end()
    return result, comment, pairs


def headers_named(eml: str, name: str) -> list[str]:
    return [ph.unfold(v) for n, v in ph.message_headers(eml) if n.lower() == name.lower()]


def ar_resinfos(eml: str, authserv_id: str = "mx.test") -> list[list[str]]:
    """The resinfos of each Authentication-Results with this authserv-id, top to bottom."""
    out = []
    for value in headers_named(eml, "Authentication-Results"):
        parts = ph.split_ar(value)
        if parts[0].split()[0].lower() == authserv_id:
            out.append(parts[1:])
    return out


def spf_resinfos(eml: str) -> list[str]:
    return [r for ar in ar_resinfos(eml) for r in ar if r.startswith("spf=")]


class Base(ph.HarnessAsserts, unittest.TestCase):
    """Helpers shared by both classes; `h` is the class's Harness."""

    h: ph.Harness
    overrides: dict[str, str] = {}

    def milter(self) -> ph.Milter:
        return self.h.ensure_milter(self.overrides)

    def send(self, **kwargs) -> tuple[ph.SmtpResult, int]:
        self.milter()
        if "helo" not in kwargs and kwargs.get("xclient_addr"):
            kwargs["helo"] = ph.helo_literal(kwargs["xclient_addr"])
        offset = self.h.milter.log_size()
        return self.h.swaks(**kwargs), offset

    def assert_refused(self, result: ph.SmtpResult, reply_prefix: str,
                       since: int | None = None) -> str:
        """The transaction is refused with reply_prefix at MAIL FROM or RCPT TO (whichever the
        decision stage is), nothing queued. Returns the full refusing reply line."""
        ctx = self.context(result, since)
        mail = result.reply_to("MAIL FROM") or ""
        rcpt = result.reply_to("RCPT TO") or ""
        refusal = mail if not mail.startswith("250") else rcpt
        self.assertTrue(refusal.startswith(reply_prefix),
                        f"MAIL FROM answered {mail!r}, RCPT TO {rcpt!r}; expected "
                        f"{reply_prefix!r}" + ctx)
        self.assertIsNone(result.queue_id, "message was queued" + ctx)
        return refusal


    def received_spf(self, eml: str, ctx: str = "") -> tuple[str, str, dict[str, str]]:
        """Exactly one Received-SPF, syntactically valid; parsed."""
        values = headers_named(eml, "Received-SPF")
        self.assertEqual(len(values), 1, f"expected one Received-SPF:\n{eml}{ctx}")
        try:
            return parse_received_spf(values[0])
        except ValueError as e:
            self.fail(f"Received-SPF violates RFC 7208 §9.1: {e}{ctx}")


def add_records(h: ph.Harness, records: list[tuple[str, str]]) -> None:
    for zone, rr in records:
        h.dns.add_record(zone, rr)


# ----- SPF through Postfix -------------------------------------------------------------------

class SpfE2E(Base):
    """One DNS fixture, Postfix and rdns-milter (default SPF policy) for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.h = ph.Harness(prefix="rdns-spf-e2e.")
        try:
            cls.h.start_dns()
            add_records(cls.h, SPF_RECORDS)
            cls.h.start_postfix()
            cls.h.ensure_milter(cls.overrides)
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def test_01_pass_delivered_with_both_headers(self):
        r, since = self.send(xclient_addr=GOOD, sender="alice@spf-pass.test")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        result, comment, kv = self.received_spf(eml, ctx)
        self.assertEqual(result, "pass", ctx)
        self.assertIn("spf-pass.test", comment)
        self.assertEqual(kv.get("client-ip"), GOOD, kv)
        self.assertEqual(kv.get("envelope-from"), "alice@spf-pass.test", kv)
        self.assertEqual(kv.get("identity"), "mailfrom", kv)
        self.assertEqual(kv.get("mechanism"), "ip4:192.0.2.7", kv)
        self.assertEqual(kv.get("helo"), "[192.0.2.7]", kv)
        self.assertIn("receiver", kv)
        self.assertIn("spf=pass smtp.mailfrom=spf-pass.test", spf_resinfos(eml), eml + ctx)
        # The iprev result is still there, in the same (single) header of ours.
        ours = ar_resinfos(eml)
        self.assertEqual(len(ours), 1, eml)
        self.assertTrue(ours[0][0].startswith("iprev=pass"), ours)
        # Both trace headers are prepended above the original message's headers.
        names = [n.lower() for n, _ in ph.message_headers(eml)]
        self.assertLess(names.index("received-spf"), names.index("date"), eml)
        self.assertLess(names.index("authentication-results"), names.index("date"), eml)
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "spf=pass")

    def test_02_fail_rejected_with_explanation(self):
        before = self.h.postfix.messages()
        r, since = self.send(xclient_addr=GOOD, sender="mallory@spf-fail.test")
        reply = self.assert_refused(r, "550 5.7.23", since)
        # The exp= TXT, macro-expanded (RFC 7208 §6.2: %{d} domain, %{i} IP, %{s} sender).
        expected = ("spf-fail.test does not let 192.0.2.7 send as mallory@spf-fail.test;"
                    " see https://spf-fail.test/why")
        self.assertIn(expected, " ".join(r.replies()), self.context(r, since))
        self.assertIn("spf-fail.test", reply)
        self.assert_log_has(since, "client=unknown[192.0.2.7]", "spf=fail", "action=reject")
        self.assertEqual(self.h.postfix.messages(), before)

    def test_02b_fail_holds_with_a_long_local_part(self):
        # Regression (issue 10.1): a MAIL FROM cut to 1,024 bytes before its <> were removed
        # gave spf=none (delivered) or cut the domain (tempfail).
        for length in (1009, 1010, 1023):
            with self.subTest(length=length):
                before = self.h.postfix.messages()
                r, since = self.send(xclient_addr=GOOD, sender="L" * length + "@spf-fail.test")
                self.assert_refused(r, "550 5.7.23", since)
                self.assert_log_has(since, "client=unknown[192.0.2.7]", "spf=fail", "action=reject")
                self.assertEqual(self.h.postfix.messages(), before)

    def test_03_softfail_tagged(self):
        r, since = self.send(xclient_addr=GOOD, sender="bob@spf-soft.test")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        result, _, kv = self.received_spf(eml, ctx)
        self.assertEqual(result, "softfail", eml + ctx)
        self.assertEqual(kv.get("mechanism"), "~all", kv)
        self.assertIn("spf=softfail smtp.mailfrom=spf-soft.test", spf_resinfos(eml), eml)

    def test_04_temperror_tempfailed(self):
        cases = {
            # Record lookup SERVFAIL (zone without zone file).
            "carol@host.servfail.test": "host.servfail.test",
            # SERVFAIL inside an include: (RFC 7208 §5.2: temperror propagates).
            "carol@spf-tempinc.test": "spf-tempinc.test",
            # The blackhole: no answer at all.
            "carol@host.timeout.test": "host.timeout.test",
        }
        for sender, domain in cases.items():
            with self.subTest(sender=sender):
                t0 = time.monotonic()
                r, since = self.send(xclient_addr=GOOD, sender=sender)
                elapsed = time.monotonic() - t0
                reply = self.assert_refused(r, "451 4.7.24", since)
                self.assertIn(domain, reply)
                self.assert_log_has(since, "client=unknown[192.0.2.7]", "spf=temperror")
                self.assertLess(elapsed, 8, f"{elapsed:.1f} s for a temperror")

    def test_05_null_sender_judged_on_helo(self):
        r, since = self.send(xclient_addr=GOOD, sender="<>", helo="mail.zz")
        ctx = self.context(r, since)
        self.assertIn("MAIL FROM:<>", r.transcript, ctx)
        eml = self.assert_delivered(r, since)
        result, _, kv = self.received_spf(eml, ctx)
        self.assertEqual(result, "pass", eml + ctx)
        # RFC 7208 §2.4: the MAIL FROM identity of <> is postmaster@<HELO>.
        self.assertEqual(kv.get("envelope-from"), "postmaster@mail.zz", kv)
        self.assertEqual(kv.get("helo"), "mail.zz", kv)
        spf = spf_resinfos(eml)
        self.assertIn("spf=pass smtp.helo=mail.zz", spf, eml + ctx)
        self.assertFalse([s for s in spf if not s.startswith("spf=pass")], spf)
        # Judged, not waved through: the same null sender with a HELO whose SPF record does
        # not list the client is an SPF fail (other.zz: "v=spf1 a -all", A 192.0.2.200).
        r, since = self.send(xclient_addr=GOOD, sender="<>", helo="other.zz")
        reply = self.assert_refused(r, "550 5.7.23", since)
        self.assertIn("other.zz", reply)

    def test_06_ipv6_pass_ip6_mechanism(self):
        r, since = self.send(xclient_addr="IPV6:" + GOOD6, sender="dave@spf-v6.test")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        result, _, kv = self.received_spf(eml, ctx)
        self.assertEqual(result, "pass", eml + ctx)
        self.assertEqual(kv.get("client-ip"), GOOD6, kv)
        self.assertEqual(kv.get("mechanism"), "ip6:2001:db8::/64", kv)
        self.assertIn("spf=pass smtp.mailfrom=spf-v6.test", spf_resinfos(eml), eml)

    def test_09_explanation_edge_cases(self):
        cases = ["exp-missing.test", "exp-servfail.test", "exp-evil.test", "exp-pct.test",
                 "exp-long.test"]
        for domain in cases:
            with self.subTest(domain=domain):
                r, since = self.send(xclient_addr=GOOD, sender=f"eve@{domain}")
                ctx = self.context(r, since)
                # Still a fail (never a temperror because of the explanation), one reply line.
                reply = self.assert_refused(r, "550 5.7.23", since)
                self.assertFalse([x for x in r.replies() if "injected" in x and x[:3] == "250"],
                                 "a TXT record injected an SMTP reply line" + ctx)
                self.assertNotRegex(reply, r"[\x00-\x1f\x7f]", ctx)
                self.assertLessEqual(len(reply), 512, "RFC 5321 §4.5.3.1.5 reply line" + ctx)
                if domain == "exp-evil.test" and "sure" in reply:
                    self.assertIn("100% sure", reply, ctx)
                if domain == "exp-pct.test":
                    # RFC 7208 §7.1: "%%" is a literal "%" (Postfix shows the milter's text
                    # as is; libmilter documents "%%" for sendmail, which Postfix leaves).
                    self.assertIn("100% sure about exp-pct.test", reply, ctx)
                self.assert_log_has(since, "spf=fail", "action=reject")

    def test_07_trusted_network_not_checked(self):
        # 127.0.0.1 is in trusted-networks: an SPF-failing sender is not checked at all.
        r, since = self.send(sender="mallory@spf-fail.test", helo="[127.0.0.1]")
        eml = self.assert_delivered(r, since)
        self.assertEqual(headers_named(eml, "Received-SPF"), [], eml)
        self.assertEqual(spf_resinfos(eml), [], eml)

    def test_08_authenticated_not_checked(self):
        r, since = self.send(xclient_addr=GOOD, sender="mallory@spf-fail.test",
                             extra=["--xclient-login", "bob"])
        eml = self.assert_delivered(r, since)
        self.assertEqual(headers_named(eml, "Received-SPF"), [], eml)
        self.assertEqual(spf_resinfos(eml), [], eml)


# ----- OpenDMARC behind rdns-milter ----------------------------------------------------------

class DmarcHarness(ph.Harness):
    """A Harness whose Postfix runs rdns-milter, then OpenDMARC."""

    def __init__(self, second_milter_port: int):
        super().__init__(prefix="rdns-dmarc-e2e.")
        self.second_milter_port = second_milter_port

    def start_postfix(self, with_milter: bool = True) -> ph.Postfix:
        self.postfix = oh.DualMilterPostfix(os.path.join(self.root, "postfix"),
                                            self.second_milter_port)
        self.postfix.start(self.milter_port if with_milter else None)
        return self.postfix


class DmarcInterop(Base):
    """OpenDMARC trusts our Authentication-Results (authserv-id mx.test) for SPF and does no
    SPF itself; our spf-fail = tag lets failing mail reach it."""

    overrides = {"spf-fail": "tag"}
    forwarder: oh.DnsForwarder | None = None
    opendmarc: oh.OpenDmarc | None = None

    @classmethod
    def setUpClass(cls):
        why = oh.missing()
        if why:
            raise unittest.SkipTest(f"OpenDMARC interop: {why}")
        cls.forwarder = None
        cls.opendmarc = None
        opendmarc_port = ph.free_port()
        cls.h = DmarcHarness(opendmarc_port)
        try:
            cls.h.start_dns()
            add_records(cls.h, DMARC_RECORDS)
            cls.forwarder = oh.DnsForwarder(cls.h.dns.port)
            nameserver = cls.forwarder.start()
            cls.opendmarc = oh.OpenDmarc(os.path.join(cls.h.root, "opendmarc"), nameserver,
                                         port=opendmarc_port)
            cls.opendmarc.start()
            cls.h.start_postfix()
            cls.h.ensure_milter(cls.overrides)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.opendmarc is not None:
            cls.opendmarc.stop()
        if cls.forwarder is not None:
            cls.forwarder.stop()
        cls.h.close()

    def context(self, result=None, since=None) -> str:
        return (super().context(result, since) + "\n--- opendmarc log ---\n"
                + self.opendmarc.log() + "--- DNS seen by the forwarder ---\n"
                + "\n".join(self.forwarder.log[-20:]))

    def dmarc_results(self, eml: str) -> list[str]:
        return [r for ar in ar_resinfos(eml) for r in ar if r.startswith("dmarc=")]

    def test_70_opendmarc_resolves_through_the_fixture(self):
        # What OpenDMARC's own mount namespace sees, with the system (libc) resolver.
        p = self.opendmarc.in_namespace("dig", "+short", "+time=1", "+tries=2",
                                        f"_dmarc.{DMARC_DOMAIN}", "TXT")
        self.assertEqual(p.stdout.strip(), '"v=DMARC1; p=reject"',
                         f"{p.stdout}{p.stderr}" + self.context())
        # And only there: the host's resolv.conf does not name the forwarder.
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            self.assertNotIn(self.forwarder.address, f.read())

    def test_71_spf_pass_aligned_gives_dmarc_pass(self):
        r, since = self.send(xclient_addr=GOOD, sender=f"alice@{DMARC_DOMAIN}")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        self.assertIn(f"From: alice@{DMARC_DOMAIN}", eml)
        self.assertIn(f"spf=pass smtp.mailfrom={DMARC_DOMAIN}", spf_resinfos(eml), eml + ctx)
        dmarc = self.dmarc_results(eml)
        self.assertEqual(len(dmarc), 1, eml + ctx)
        self.assertRegex(dmarc[0], rf"^dmarc=pass \(p=reject\b.*\) header\.from={DMARC_DOMAIN}$",
                         eml + ctx)
        # The pass can only come from our header (SPFSelfValidate false), and OpenDMARC
        # fetched the policy through the fixture.
        self.assertIn(f"_dmarc.{DMARC_DOMAIN}. type16", self.forwarder.log, ctx)

    def test_72_spf_fail_gives_dmarc_fail(self):
        r, since = self.send(xclient_addr=GOOD_B, sender=f"mallory@{DMARC_DOMAIN}")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        self.assertIn(f"spf=fail smtp.mailfrom={DMARC_DOMAIN}", spf_resinfos(eml), eml + ctx)
        dmarc = self.dmarc_results(eml)
        self.assertEqual(len(dmarc), 1, eml + ctx)
        self.assertRegex(dmarc[0], rf"^dmarc=fail \(p=reject\b.*\) header\.from={DMARC_DOMAIN}$",
                         eml + ctx)

    def test_73_helo_result_beside_mailfrom_still_passes(self):
        # With a HELO name our header carries two spf resinfos: smtp.mailfrom (pass) and
        # smtp.helo (none: mail.zz publishes no SPF here). DMARC uses the MAIL FROM one.
        r, since = self.send(xclient_addr=GOOD, sender=f"alice@{DMARC_DOMAIN}", helo="mail.zz")
        eml = self.assert_delivered(r, since)
        ctx = self.context(r, since)
        spf = spf_resinfos(eml)
        self.assertIn(f"spf=pass smtp.mailfrom={DMARC_DOMAIN}", spf, eml + ctx)
        self.assertIn("spf=none smtp.helo=mail.zz", spf, eml + ctx)
        dmarc = self.dmarc_results(eml)
        self.assertEqual(len(dmarc), 1, eml + ctx)
        self.assertTrue(dmarc[0].startswith("dmarc=pass"), eml + ctx)


def main() -> int:
    return ph.run_tests("spf", __name__,
                        (ph.POSTFIX, ph.SWAKS, "knotd", "knotc", "kdig", "keymgr", "script"))


if __name__ == "__main__":
    sys.exit(main())
