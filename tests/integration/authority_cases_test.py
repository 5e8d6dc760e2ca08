#!/usr/bin/env python3
"""Issue 11: every diagnosis code of `--check --json` from REAL servers, in a network namespace.

The world (all inside `unshare -n`, port 53 on loopback addresses, nothing reaches outside):
  127.0.0.2   knotd: the root zone, signed (dnssec-signing), delegating zz. and the reverse
              zones below; a DS for 2.0.192.in-addr.arpa. that matches no key (bogus when a
              run has the root's trust anchor, unseen otherwise)
  127.0.0.3   knotd "main": zz. (hosts, SPF records) and 2.0.192.in-addr.arpa. (PTRs, an RFC
              2317 CNAME into a zone nobody delegates)
  127.0.0.4   knotd "a": 100.51.198.in-addr.arpa. (no PTR for .10) and 113.0.203.in-addr.arpa.
  127.0.0.5   knotd "b": 100.51.198.in-addr.arpa. out of sync (PTR for .10); only the zone's
              own NS set names it, the root's delegation does not
  127.0.0.6   knotd "lame": listed as a server of 113.0.203.in-addr.arpa., serves only zz-lame.
              (REFUSED for the zone)
  127.0.0.9   nothing: the only server of 12.0.198.in-addr.arpa.
  127.0.0.53  unbound, a caching forwarder recursing from the root (SERVFAIL for 12.0.198)
rdns-milter --check recurses itself from root hints at 127.0.0.2 (unbound-config root-hints).
Each case asserts the diagnosis code, its party and the record in its fix, and the action
(never a 5xx for the temporary ones). Exit 77 (skipped) without root, unshare, knot or unbound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fixture"))
from netns_world import Checker, Failures, World, log, run_in_netns  # noqa: E402

ADDRESSES = {"root": "127.0.0.2", "main": "127.0.0.3", "a": "127.0.0.4", "b": "127.0.0.5",
             "lame": "127.0.0.6"}
DEAD = "127.0.0.9"
FORWARDER = "127.0.0.53"
NODEFAULT = ["2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa."]
BAD_DS = "2.0.192.in-addr.arpa. DS 4242 13 2 " + "ab" * 32

ZONES = {
    "root": {
        ".": [
            "@ 3600 IN SOA ns.root. hostmaster.zz. 1 3600 600 86400 3600",
            "@ NS ns.root.",
            "ns.root. A 127.0.0.2",
            "zz. NS ns1.zz.",
            "ns1.zz. A 127.0.0.3",
            "2.0.192.in-addr.arpa. NS ns1.zz.",
            BAD_DS,
            "100.51.198.in-addr.arpa. NS nsa.zz.",
            "nsa.zz. A 127.0.0.4",
            "113.0.203.in-addr.arpa. NS nsa.zz.",
            "113.0.203.in-addr.arpa. NS nslame.zz.",
            "nslame.zz. A 127.0.0.6",
            "12.0.198.in-addr.arpa. NS nsdown.zz.",
            "nsdown.zz. A " + DEAD,
        ],
    },
    "main": {
        "zz.": ["@ NS ns1.zz.", "ns1 A 127.0.0.3", "nsa A 127.0.0.4", "nsb A 127.0.0.5",
                "nslame A 127.0.0.6", "nsdown A " + DEAD,
                "mail A 192.0.2.58", "other A 192.0.2.99", "host10 A 198.51.100.10",
                'spffail TXT "v=spf1 ip4:198.51.100.0/24 -all"',
                'spfbad TXT "v=spf1 foo:bar -all"'],
        "2.0.192.in-addr.arpa.": [
            "@ NS ns1.zz.",
            "56 PTR nohost.zz.",                      # ptr-no-address
            "57 PTR other.zz.",                       # ptr-mismatch (other.zz is .99)
            "58 PTR mail.zz.",                        # a pass, for the HELO and SPF cases
            "59 CNAME 59.0/26.2.0.192.in-addr.arpa.",  # rfc2317-broken: 0/26 not delegated
        ],
    },
    "a": {
        "100.51.198.in-addr.arpa.": ["@ NS nsa.zz.", "@ NS nsb.zz."],
        "113.0.203.in-addr.arpa.": ["@ NS nsa.zz.", "@ NS nslame.zz."],
    },
    "b": {
        "100.51.198.in-addr.arpa.": ["@ NS nsa.zz.", "@ NS nsb.zz.", "10 PTR host10.zz."],
    },
    "lame": {
        "zz-lame.": ["@ NS nslame.zz."],
    },
}


def action(report: dict) -> str:
    return report["action"]


def reply(report: dict) -> str:
    return report.get("reply") or ""


def diagnosis(report: dict, code: str) -> list[dict]:
    return [d for d in report.get("diagnosis", []) if d["code"] == code]


def expect_code(f: Failures, report: dict, code: str, party: str, fix_part: str,
                what: str) -> None:
    found = diagnosis(report, code)
    f.expect(bool(found), f"{what}: diagnosis {code}", report)
    if found:
        f.expect(found[0]["party"] == party, f"{what}: {code} party {party} "
                 f"({found[0]['party']})", report)
        f.expect(fix_part in found[0]["fix"], f"{what}: {code} fix names {fix_part!r}", report)


def never_5xx(f: Failures, report: dict, what: str) -> None:
    f.expect(action(report) == "tempfail" and not reply(report).startswith("5"),
             f"{what}: tempfail, never a 5xx ({action(report)} {reply(report)})", report)


def iprev_cases(f: Failures, checker: Checker) -> None:
    r = checker.check("192.0.2.55")
    f.expect((r["checks"]["iprev"]["reason"], action(r)) == ("no-ptr", "reject"),
             "genuine no-PTR: fail/no-ptr, reject", r)
    f.expect(reply(r).startswith("5"), "genuine no-PTR: a 5xx reply", r)
    expect_code(f, r, "no-ptr", "sender-isp", "55.2.0.192.in-addr.arpa. PTR", "genuine no-PTR")

    r = checker.check("192.0.2.56")
    expect_code(f, r, "ptr-no-address", "sender-domain", "nohost.zz. A 192.0.2.56",
                "ptr-no-address")
    r = checker.check("192.0.2.57")
    expect_code(f, r, "ptr-mismatch", "sender-domain", "other.zz. A 192.0.2.57", "ptr-mismatch")

    r = checker.check("192.0.2.59")
    expect_code(f, r, "rfc2317-broken", "sender-isp", "Delegate 0/26.2.0.192.in-addr.arpa",
                "broken RFC 2317 chain")
    f.expect(bool(diagnosis(r, "rfc2317-broken"))
             and "59.0/26.2.0.192.in-addr.arpa. PTR" in diagnosis(r, "rfc2317-broken")[0]["fix"],
             "broken RFC 2317 chain: the fix names the PTR at the CNAME target", r)


def authority_cases(f: Failures, checker: Checker) -> None:
    r = checker.check("198.51.100.10")
    expect_code(f, r, "servers-disagree", "sender-isp", "SOA serial", "servers disagree")
    found = diagnosis(r, "servers-disagree")
    f.expect(bool(found) and "127.0.0.4" in found[0]["summary"]
             and "127.0.0.5" in found[0]["summary"]
             and "10.100.51.198.in-addr.arpa. PTR host10.zz." in found[0]["fix"],
             "servers disagree: both servers named, the record in the fix", r)
    f.expect(not diagnosis(r, "stale-negative-cache"),
             "servers disagree: not called a stale cache", r)
    f.expect(r["checks"]["iprev"]["result"] == "pass",
             "servers disagree: the record one server has is found (pass)", r)

    r = checker.check("203.0.113.20")
    expect_code(f, r, "lame-delegation", "sender-isp", "Make nslame.zz (127.0.0.6) serve",
                "lame delegation")
    found = diagnosis(r, "lame-delegation")
    f.expect(bool(found) and "REFUSED" in found[0]["summary"], "lame delegation: REFUSED", r)
    f.expect(action(r) == "reject", "lame delegation: the good server's NXDOMAIN stands", r)


def failure_cases(f: Failures, checker: Checker, trust_anchor: str) -> None:
    r = checker.check("198.0.12.1")
    never_5xx(f, r, "authoritative server unreachable")
    expect_code(f, r, "upstream-failure", "sender-isp", "never rejected",
                "authoritative server unreachable")

    r = checker.run(["198.0.12.1"], forwarder=FORWARDER)
    never_5xx(f, r, "forwarder returns SERVFAIL")
    expect_code(f, r, "upstream-failure", "sender-isp", "12.0.198.in-addr.arpa",
                "forwarder returns SERVFAIL")

    r = checker.run(["192.0.2.58"], forwarder=DEAD, text=True)
    never_5xx(f, r, "dead forwarder")
    expect_code(f, r, "upstream-failure", "receiver", f"start forwarder {DEAD}", "dead forwarder")
    f.expect("whoever runs the name servers" not in r["checks"]["iprev"]["fix"],
             "dead forwarder: the iprev fix does not blame the sender", r)

    r = checker.run(["192.0.2.58"], trust_anchor=trust_anchor)
    never_5xx(f, r, "DNSSEC bogus")
    expect_code(f, r, "dnssec-bogus", "sender-isp", "DS records in the parent zone",
                "DNSSEC bogus")
    r = checker.run(["192.0.2.58"], text=True)
    f.expect(r["checks"]["iprev"]["result"] == "pass", "without a trust anchor: pass", r)
    f.expect("DNSSEC not validated" in r["_text"] and "DNSSEC insecure" not in r["_text"],
             "without a trust anchor: 'not validated', not 'insecure'", r)


def helo_spf_cases(f: Failures, checker: Checker) -> None:
    cases = [
        ("mailhost", "helo-not-fqdn", "mail.zz. A 192.0.2.58"),
        ("mail.nosuchtld", "helo-bad-tld", "mail.zz. A 192.0.2.58"),
        ("other.zz", "helo-mismatch", "other.zz. A 192.0.2.58"),
    ]
    for helo, code, fix in cases:
        r = checker.run(["192.0.2.58", "--helo", helo])
        expect_code(f, r, code, "sender-domain", fix, f"HELO {helo}")
    r = checker.run(["192.0.2.58", "--helo", "mail.example.com"])
    found = diagnosis(r, "helo-bad-tld")
    f.expect(bool(found) and "RFC 6761" in found[0]["summary"]
             and ".com is not" not in r["checks"]["helo"]["fix"],
             "HELO mail.example.com: a special-use name (RFC 6761), not a bad TLD", r)

    r = checker.run(["192.0.2.58", "--mail-from", "user@spffail.zz"])
    expect_code(f, r, "spf-fail", "sender-domain",
                'spffail.zz. TXT "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.58 -all"', "SPF fail")
    r = checker.run(["192.0.2.58", "--mail-from", "user@spfbad.zz"])
    expect_code(f, r, "spf-permerror", "sender-domain", 'spfbad.zz. TXT "v=spf1 ip4:192.0.2.58',
                "SPF permerror")
    r = checker.run(["192.0.2.58", "--helo", "mail.zz", "--mail-from", "user@zz"])
    f.expect(r["diagnosis"] == [] or all(d["code"].startswith("spf") for d in r["diagnosis"]),
             "a clean client: no iprev or HELO diagnosis", r)


def builtin_zone_case(f: Failures, milter: str, directory: str, hints: str) -> None:
    # Without "nodefault", libunbound answers 2.0.192.in-addr.arpa itself (RFC 6303).
    checker = Checker(milter, directory, [], server_lines=[f'root-hints: "{hints}"'],
                      name="rdns-builtin")
    r = checker.check("192.0.2.58")
    found = diagnosis(r, "no-ptr")
    f.expect(bool(found) and found[0]["party"] == "receiver"
             and "built-in local zone 2.0.192.in-addr.arpa" in found[0]["summary"],
             "built-in local zone: labelled as made up by libunbound, party receiver", r)


def trust_anchor_of(world: World, directory: str) -> str:
    conf = os.path.join(world.dir, "root", "knot.conf")
    world.wait_answer(ADDRESSES["root"], ".", "DNSKEY")
    ds = subprocess.run(["keymgr", "-c", conf, ".", "ds"], capture_output=True, text=True,
                        check=True).stdout
    path = os.path.join(directory, "root.ds")
    with open(path, "w", encoding="ascii") as out:
        out.write(ds)
    return path


def inside(milter: str) -> int:
    directory = tempfile.mkdtemp(prefix="rdns-authority-")
    world = World(directory, ADDRESSES, ZONES)
    try:
        world.start_knot("root", {".": ["    dnssec-signing: on"]})
        for server in ("main", "a", "b", "lame"):
            world.start_knot(server)
        world.start_unbound(FORWARDER, ADDRESSES["root"], NODEFAULT, ("ns1.zz", "A"))
        hints = os.path.join(directory, "root.hints")  # written by start_unbound
        checker = Checker(milter, directory, NODEFAULT,
                          server_lines=[f'root-hints: "{hints}"', "infra-cache-max-rtt: 500"])
        f = Failures()
        iprev_cases(f, checker)
        authority_cases(f, checker)
        failure_cases(f, checker, trust_anchor_of(world, directory))
        helo_spf_cases(f, checker)
        builtin_zone_case(f, milter, directory, hints)
        failures = f.count
    finally:
        world.close()
        if os.environ.get("RDNS_KEEP") != "1":
            shutil.rmtree(directory, ignore_errors=True)
        else:
            log(f"kept {directory}")
    log(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_in_netns(__file__, inside,
                          tools=("unshare", "ip", "knotd", "knotc", "keymgr", "unbound", "dig")))
