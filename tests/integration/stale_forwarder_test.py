#!/usr/bin/env python3
"""Confirm before reject through a REAL caching forwarder, in a network namespace of its own.

The world (all inside `unshare -n`, port 53 on loopback addresses, nothing reaches outside):
  127.0.0.2   knotd: the root zone, delegating test., 2.0.192.in-addr.arpa. (to 127.0.0.3)
              and 100.51.198.in-addr.arpa. (to 127.0.0.4)
  127.0.0.3   knotd: test. and 2.0.192.in-addr.arpa. (SOA minimum 3600: long negative TTL)
  127.0.0.4   knotd: 100.51.198.in-addr.arpa. (stopped for the "unreachable" case)
  127.0.0.53  unbound (the caching forwarder), recursing from root hints at 127.0.0.2,
              cache-max-negative-ttl 3600
rdns-milter --check runs with --forwarder 127.0.0.53 (and once with an unbound-config
forward-zone to it). Cases: a genuine no-PTR (fail, reject); the PTR published after the
forwarder cached NXDOMAIN (pass, with the stale negative named); the authoritative servers gone
(tempfail, never 5xx). Exit 77 (skipped) without root or unshare.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fixture"))
from netns_world import Checker, Failures, World, log, run_in_netns  # noqa: E402

KNOT_ADDRESSES = {"root": "127.0.0.2", "main": "127.0.0.3", "other": "127.0.0.4"}
FORWARDER = "127.0.0.53"
# libunbound serves the TEST-NET reverse zones itself (RFC 6303) unless told not to.
NODEFAULT = ["2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "test."]

ZONES = {
    "root": {
        ".": [
            "@ 3600 IN SOA ns.root. hostmaster.test. 1 3600 600 86400 3600",
            "@ NS ns.root.",
            "ns.root. A 127.0.0.2",
            "test. NS ns1.test.",
            "ns1.test. A 127.0.0.3",
            "2.0.192.in-addr.arpa. NS ns1.test.",
            "100.51.198.in-addr.arpa. NS ns2.test.",
            "ns2.test. A 127.0.0.4",
        ],
    },
    "main": {
        "test.": ["@ NS ns1.test.", "ns1 A 127.0.0.3", "ns2 A 127.0.0.4", "mail A 192.0.2.55",
                  "other A 198.51.100.7"],
        "2.0.192.in-addr.arpa.": ["@ NS ns1.test."],
    },
    "other": {
        "100.51.198.in-addr.arpa.": ["@ NS ns2.test."],
    },
}


def verdict(report: dict) -> tuple[str, str, str]:
    iprev = report["checks"]["iprev"]
    return iprev["result"], iprev["reason"], report["action"]


def reply_code(report: dict) -> str:
    return report.get("reply") or ""


def run_cases(world: World, checker: Checker) -> int:
    f = Failures()

    # 1. A genuine no-PTR: every authoritative server says NXDOMAIN with AA.
    r = checker.check("192.0.2.55")
    f.expect(verdict(r) == ("fail", "no-ptr", "reject"), "genuine no-PTR: fail/no-ptr, reject", r)
    f.expect(reply_code(r).startswith("5"), "genuine no-PTR: a 5xx reply", r)
    f.expect(any(s.get("zone") == "2.0.192.in-addr.arpa"
                 for p in r["checks"]["iprev"].get("authority", []) for s in p["steps"]),
             "genuine no-PTR: the probe found the zone 2.0.192.in-addr.arpa", r)

    # 2. The PTR is published; the forwarder still has the NXDOMAIN cached (negative TTL 3600).
    world.publish("main", "2.0.192.in-addr.arpa.", "55 PTR mail.test.")
    status, answer = world.dig(KNOT_ADDRESSES["main"], "55.2.0.192.in-addr.arpa", "PTR")
    f.expect(status == "NOERROR" and "mail.test." in answer, "authoritative server publishes PTR")
    status, _ = world.dig(FORWARDER, "55.2.0.192.in-addr.arpa", "PTR", recursive=True)
    f.expect(status == "NXDOMAIN", f"forwarder still answers NXDOMAIN from its cache ({status})")
    r = checker.check("192.0.2.55")
    f.expect(verdict(r) == ("pass", "forward-confirmed", "accept"),
             "stale negative at the forwarder: pass", r)
    evidence = r["checks"]["iprev"]["answers"]
    f.expect(len(evidence) >= 2 and evidence[0]["outcome"] == "nxdomain"
             and evidence[1]["outcome"] == "ok" and evidence[1]["confirmed"],
             "evidence: the forwarder's NXDOMAIN, then the authoritative PTR", r)
    codes = [d["code"] for d in r.get("diagnosis", [])]
    f.expect("stale-negative-cache" in codes, "diagnosis names stale-negative-cache", r)
    stale = [d for d in r.get("diagnosis", []) if d["code"] == "stale-negative-cache"]
    f.expect(bool(stale) and "forwarder 127.0.0.53" in stale[0]["summary"]
             and "mail.test" in stale[0]["summary"], "the diagnosis names the forwarder", r)

    # 3. The same through an unbound-config forward-zone to the same forwarder.
    r = checker.check("192.0.2.55", forward_zone=True)
    f.expect(verdict(r) == ("pass", "forward-confirmed", "accept"),
             "stale negative behind an unbound-config forward-zone: pass", r)

    # 4. Authoritative servers unreachable: the forwarder caches NXDOMAIN, then the zone's only
    #    server goes away. Never a 5xx.
    r = checker.check("198.51.100.7")
    f.expect(verdict(r) == ("fail", "no-ptr", "reject"), "198.51.100.7 has no PTR (server up)", r)
    world.stop("knot-other")
    r = checker.check("198.51.100.7")
    f.expect(verdict(r)[0] == "temperror" and verdict(r)[2] == "tempfail",
             "authoritative server unreachable: temperror, tempfail", r)
    f.expect(not reply_code(r).startswith("5"), "authoritative server unreachable: no 5xx", r)
    f.expect(r["_elapsed"] < 15, f"unreachable case bounded in time ({r['_elapsed']:.1f} s)", r)
    return f.count


def inside(milter: str) -> int:
    directory = tempfile.mkdtemp(prefix="rdns-stale-")
    world = World(directory, KNOT_ADDRESSES, ZONES)
    try:
        for server in ("root", "main", "other"):
            world.start_knot(server)
        world.start_unbound(FORWARDER, KNOT_ADDRESSES["root"], NODEFAULT, ("ns1.test", "A"))
        failures = run_cases(world, Checker(milter, directory, NODEFAULT, FORWARDER))
    finally:
        world.close()
        if os.environ.get("RDNS_KEEP") != "1":
            shutil.rmtree(directory, ignore_errors=True)
        else:
            log(f"kept {directory}")
    log(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_in_netns(__file__, inside))
