#!/usr/bin/env python3
"""`rdns-milter --check IP --trace` against REAL delegation, in a network namespace of its own.

The world (all inside `unshare -n`, port 53 on loopback addresses, nothing reaches outside):
  127.0.0.2   knotd: the root zone, delegating test., net. and in-addr.arpa. to ns1.test (glue)
  127.0.0.3   knotd: test., net. and in-addr.arpa. (which delegates 2.0.192.in-addr.arpa. to
              ns2.test: no glue, its address comes through the resolver)
  127.0.0.4   knotd: 2.0.192.in-addr.arpa. (SOA minimum 3600), with an RFC 2317 CNAME run for
              0/26 delegated to ns3.test
  127.0.0.5   knotd: 0/26.2.0.192.in-addr.arpa. (the classless delegation)
  127.0.0.53  unbound (a caching forwarder), recursing from root hints at 127.0.0.2
rdns-milter runs with an unbound.conf whose stub-zone "." points at 127.0.0.2 (the trace starts
there: stub-addr), and for the stale case with --forwarder 127.0.0.53 (the root servers then come
from the resolver's NS "." answer). Cases: a PTR through three zone cuts, an RFC 2317 chain, a
missing PTR (sender-isp, the exact record), a HELO without an address (sender-domain), a PTR
published after the forwarder cached NXDOMAIN (cached view != authoritative view, receiver),
and the text output. Exit 77 (skipped) without root or unshare.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fixture"))
from netns_world import Checker, Failures, World, log, run_in_netns  # noqa: E402

KNOT_ADDRESSES = {"root": "127.0.0.2", "ns1": "127.0.0.3", "ns2": "127.0.0.4",
                  "ns3": "127.0.0.5"}
FORWARDER = "127.0.0.53"
REVERSE = "2.0.192.in-addr.arpa."
CLASSLESS = "0/26.2.0.192.in-addr.arpa."
NODEFAULT = [REVERSE, "test."]

ZONES = {
    "root": {
        ".": [
            "@ 3600 IN SOA ns.root. hostmaster.test. 1 3600 600 86400 3600",
            "@ NS ns.root.",
            "ns.root. A 127.0.0.2",
            "test. NS ns1.test.",
            "in-addr.arpa. NS ns1.test.",
            "net. NS ns1.test.",
            "ns1.test. A 127.0.0.3",
        ],
    },
    "ns1": {
        "test.": ["@ NS ns1.test.", "ns1 A 127.0.0.3", "ns2 A 127.0.0.4", "ns3 A 127.0.0.5",
                  "mail A 192.0.2.100", "mail A 192.0.2.120", "classless A 192.0.2.10",
                  'mail TXT "v=spf1 ip4:192.0.2.0/24 -all"'],
        "in-addr.arpa.": ["@ NS ns1.test.", f"{REVERSE} NS ns2.test."],
        "net.": ["@ NS ns1.test.", "relay A 192.0.2.10"],
    },
    "ns2": {
        REVERSE: ["@ NS ns2.test."] + [f"{i} CNAME {i}.0/26" for i in range(64)] +
                 ["0/26 NS ns3.test."],
    },
    "ns3": {
        CLASSLESS: ["@ NS ns3.test.", "10 PTR classless.test."],
    },
}


def zones_of(trace: dict) -> list[str]:
    return trace["zones"]


def first_trace(report: dict, part: str, rrtype: str, name: str = "") -> dict:
    for trace in report["checks"].get(part, {}).get("trace", []):
        if trace["type"] == rrtype and name in ("", trace["name"]):
            return trace
    return {}


def run_text(checker: Checker, args: list[str]) -> str:
    cmd = [checker.milter, "--config", checker.config, "--trust-anchor-file", "",
           "--query-timeout", "3", "--unbound-config", checker.unbound_conf, "--trace",
           "--check"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout


def path_cases(f: Failures, checker: Checker) -> None:
    # 1. 192.0.2.100 has no PTR yet: the path has three zone cuts, every step asked RD=0.
    r = checker.run(["192.0.2.100", "--trace", "--helo", "mail.test"])
    ptr = first_trace(r, "iprev", "PTR")
    f.expect(zones_of(ptr) == [".", "in-addr.arpa", "2.0.192.in-addr.arpa"],
             f"PTR path: . -> in-addr.arpa -> 2.0.192.in-addr.arpa ({zones_of(ptr)})", r)
    path = ptr.get("path", [])
    f.expect(len(path) == 3 and path[0]["servers_from"] == "stub-addr"
             and path[0]["servers"][0]["address"] == "127.0.0.2"
             and path[0]["servers"][0]["referral"]["zone"] == "in-addr.arpa",
             "the root asked at the stub-addr, referring to in-addr.arpa", r)
    f.expect(len(path) == 3 and path[1]["servers"][0]["ns"] == "ns1.test"
             and path[1]["servers"][0]["address"] == "127.0.0.3"
             and path[1]["servers_from"] == "glue",
             "in-addr.arpa asked at ns1.test 127.0.0.3 (glue)", r)
    f.expect(len(path) == 3 and path[2]["servers"][0]["ns"] == "ns2.test"
             and path[2]["servers"][0]["address"] == "127.0.0.4"
             and path[2]["servers_from"] == "resolver",
             "2.0.192.in-addr.arpa asked at ns2.test 127.0.0.4 (address through the resolver)", r)
    last = path[2]["servers"][0] if len(path) == 3 else {}
    f.expect(last.get("aa") is True and last.get("rcode") == 3 and "latency_ms" in last,
             "the last server answers AA NXDOMAIN, with its latency", r)
    f.expect(ptr.get("authoritative", {}).get("verdict") == "confirmed-negative",
             "the authoritative view: confirmed negative", r)
    missing = [d for d in r.get("trace_verdict", []) if d["code"] == "missing-record"]
    f.expect(bool(missing) and missing[0]["party"] == "sender-isp"
             and "100.2.0.192.in-addr.arpa. PTR mail.test." in missing[0]["fix"],
             "missing PTR: sender-isp, with the exact record to add", r)

    # 2. The RFC 2317 chain: 10.2.0.192.in-addr.arpa CNAME 10.0/26..., delegated to ns3.test.
    r = checker.run(["192.0.2.10", "--trace"])
    ptr = first_trace(r, "iprev", "PTR")
    f.expect(r["checks"]["iprev"]["result"] == "pass", "classless client passes", r)
    f.expect(ptr.get("cname_chain") == ["10.0/26.2.0.192.in-addr.arpa"],
             f"RFC 2317 chain followed ({ptr.get('cname_chain')})", r)
    f.expect(zones_of(ptr)[-1:] == ["0/26.2.0.192.in-addr.arpa"]
             and ptr["path"][-1]["servers"][0]["address"] == "127.0.0.5"
             and ptr["path"][-1]["servers"][0]["aa"] is True,
             f"the chain ends at 0/26.2.0.192.in-addr.arpa on 127.0.0.5 ({zones_of(ptr)})", r)
    f.expect(ptr.get("authoritative", {}).get("answer", {}).get("data") == ["classless.test"],
             "the authoritative view holds the PTR classless.test", r)
    fwd = first_trace(r, "iprev", "A")
    f.expect(fwd.get("name") == "classless.test" and zones_of(fwd) == [".", "test"]
             and fwd.get("views") == "same", "the PTR name's A traced: . -> test", r)

    # 3. A HELO name without an address: sender-domain, the A record to add (.test is not a
    #    public TLD to the HELO check: a net. zone).
    r = checker.run(["192.0.2.10", "--trace", "--helo", "nohost.net"])
    f.expect(r["checks"]["helo"]["reason"] == "no-address", "HELO nohost.net: no-address", r)
    helo = first_trace(r, "helo", "A")
    f.expect(helo.get("name") == "nohost.net" and zones_of(helo) == [".", "net"],
             "HELO A traced: . -> net", r)
    missing = [d for d in r.get("trace_verdict", []) if d["code"] == "missing-record"]
    f.expect(bool(missing) and missing[0]["party"] == "sender-domain"
             and "nohost.net. A 192.0.2.10" in missing[0]["fix"],
             "HELO without an address: sender-domain, nohost.net. A 192.0.2.10", r)
    f.expect(r["_elapsed"] < 15, f"bounded in time ({r['_elapsed']:.1f} s)", r)

    # 4. SPF TXT queries are traced too.
    r = checker.run(["192.0.2.10", "--trace", "--helo", "classless.test", "--mail-from",
                     "a@mail.test"])
    spf = first_trace(r, "spf", "TXT", "mail.test")
    f.expect(spf.get("name") == "mail.test" and zones_of(spf) == [".", "test"]
             and spf["path"][-1]["servers"][0]["aa"] is True, "SPF TXT traced: . -> test", r)

    # 5. Text: the path and the verdict paragraph.
    text = run_text(checker, ["192.0.2.120", "--helo", "mail.test"])
    f.expect(". -> in-addr.arpa -> 2.0.192.in-addr.arpa" in text and "Verdict:" in text
             and "120.2.0.192.in-addr.arpa. PTR mail.test." in text
             and "cached view:" in text and "authoritative view:" in text,
             "text output: the path, both views, the verdict with the record")
    if "Verdict:" not in text or os.environ.get("RDNS_SHOW_TEXT") == "1":
        log(text[:6000])


def stale_case(f: Failures, world: World, stale: Checker) -> None:
    # 6. The forwarder caches NXDOMAIN for 100; then the PTR is published.
    r = stale.run(["192.0.2.100", "--trace"])
    f.expect(r["checks"]["iprev"]["reason"] == "no-ptr", "before: no PTR (forwarder)", r)
    world.publish("ns2", REVERSE, "100 PTR mail.test.")
    time.sleep(0.2)
    status, _ = world.dig(FORWARDER, "100.2.0.192.in-addr.arpa", "PTR", recursive=True)
    f.expect(status == "NXDOMAIN", f"forwarder still answers NXDOMAIN from its cache ({status})")
    r = stale.run(["192.0.2.100", "--trace"])
    ptr = first_trace(r, "iprev", "PTR")
    f.expect(ptr.get("cached", {}).get("outcome") == "nxdomain"
             and ptr.get("authoritative", {}).get("verdict") == "has-record"
             and ptr.get("views") == "stale-negative",
             "cached view NXDOMAIN != authoritative view PTR mail.test", r)
    f.expect(ptr.get("path", [{}])[0].get("servers_from") == "resolver"
             and zones_of(ptr) == [".", "in-addr.arpa", "2.0.192.in-addr.arpa"],
             "root servers from the resolver's NS . answer; the same three cuts", r)
    receiver = [d for d in r.get("trace_verdict", []) if d["party"] == "receiver"]
    f.expect(bool(receiver) and "forwarder 127.0.0.53" in receiver[0]["summary"]
             and "ns2.test 127.0.0.4" in receiver[0]["summary"],
             "the verdict: receiver (the forwarder's cache), naming the answering server", r)


def unreachable_case(f: Failures, world: World, checker: Checker) -> None:
    # 7. The classless zone's only server is gone: the walk stops there, the ISP must act.
    world.stop("knot-ns3")
    r = checker.run(["192.0.2.10", "--trace"])
    ptr = first_trace(r, "iprev", "PTR")
    f.expect(ptr.get("failed_zone") == "0/26.2.0.192.in-addr.arpa"
             and ptr["path"][-1]["servers"][0]["responded"] is False,
             "server gone: the trace stops at 0/26.2.0.192.in-addr.arpa, no response", r)
    broken = [d for d in r.get("trace_verdict", []) if d["code"] == "delegation-broken"]
    f.expect(bool(broken) and broken[0]["party"] == "sender-isp"
             and "127.0.0.5" in broken[0]["summary"],
             "the verdict: delegation-broken, sender-isp, naming 127.0.0.5", r)
    f.expect(r["_elapsed"] < 20, f"server gone: bounded in time ({r['_elapsed']:.1f} s)", r)


def inside(milter: str) -> int:
    directory = tempfile.mkdtemp(prefix="rdns-trace-")
    world = World(directory, KNOT_ADDRESSES, ZONES)
    f = Failures()
    try:
        for server in ("root", "ns1", "ns2", "ns3"):
            world.start_knot(server)
        world.start_unbound(FORWARDER, KNOT_ADDRESSES["root"], NODEFAULT, ("ns1.test", "A"))
        checker = Checker(milter, directory, NODEFAULT, root_stub=KNOT_ADDRESSES["root"])
        path_cases(f, checker)
        stale_case(f, world, Checker(milter, os.path.join(directory, "fwd"), NODEFAULT,
                                     FORWARDER))
        unreachable_case(f, world, checker)
    finally:
        world.close()
        if os.environ.get("RDNS_KEEP") != "1":
            shutil.rmtree(directory, ignore_errors=True)
        else:
            log(f"kept {directory}")
    log(f"{f.count} failure(s)")
    return 1 if f.count else 0


if __name__ == "__main__":
    sys.exit(run_in_netns(__file__, inside))
