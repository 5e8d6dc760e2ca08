#!/usr/bin/env python3
"""A stale negative cache through REAL Postfix: delivered, not rejected, one warning logged.

Inside a network namespace of its own (tests/fixture/netns_world.py): knotd serves the root
(127.0.0.2) and test. / 2.0.192.in-addr.arpa. (127.0.0.3, negative TTL 3600); unbound on
127.0.0.53 is the caching forwarder rdns-milter uses. The forwarder is made to cache NXDOMAIN
for 55.2.0.192.in-addr.arpa PTR, then the PTR is published. A message from 192.0.2.55 (through
XCLIENT) must be delivered: the milter asks the zone's own servers before rejecting, finds the
PTR, and logs the stale negative cache once. Exit 77 (skipped) without root, unshare, knot,
unbound, postfix or swaks.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixture"))

from netns_world import Failures, World, log, run_in_netns  # noqa: E402

KNOT = {"root": "127.0.0.2", "main": "127.0.0.3"}
FORWARDER = "127.0.0.53"
NODEFAULT = ["2.0.192.in-addr.arpa.", "test."]
CLIENT = "192.0.2.55"
REVERSE = "55.2.0.192.in-addr.arpa"

ZONES = {
    "root": {
        ".": ["@ 3600 IN SOA ns.root. hostmaster.test. 1 3600 600 86400 3600",
              "@ NS ns.root.", "ns.root. A 127.0.0.2",
              "test. NS ns1.test.", "ns1.test. A 127.0.0.3",
              "2.0.192.in-addr.arpa. NS ns1.test."],
    },
    "main": {
        "test.": ["@ NS ns1.test.", "ns1 A 127.0.0.3", "mail A 192.0.2.55"],
        "2.0.192.in-addr.arpa.": ["@ NS ns1.test."],
    },
}


def run_cases(world: World, h, directory: str) -> int:
    import postfix_harness as ph  # noqa: E402  (needs RDNS_MILTER, read at call time)

    f = Failures()
    conf = os.path.join(directory, "milter-unbound.conf")
    with open(conf, "w", encoding="ascii") as out:
        out.write("server:\n    do-not-query-localhost: no\n" +
                  "".join(f'    local-zone: "{z}" nodefault\n' for z in NODEFAULT))
    h.start_postfix()
    h.milter = ph.Milter(h.root, h.milter_port, conf)
    h.milter.start({"forwarder": FORWARDER, "trust-anchor-file": ""})

    # The forwarder caches NXDOMAIN (negative TTL 3600), then the PTR appears.
    status, _ = world.dig(FORWARDER, REVERSE, "PTR", recursive=True)
    f.expect(status == "NXDOMAIN", f"forwarder caches NXDOMAIN first ({status})")
    world.publish("main", "2.0.192.in-addr.arpa.", "55 PTR mail.test.")
    status, _ = world.dig(FORWARDER, REVERSE, "PTR", recursive=True)
    f.expect(status == "NXDOMAIN", f"forwarder still answers NXDOMAIN from its cache ({status})")

    since = h.milter.log_size()
    r = h.swaks(xclient_addr=CLIENT, helo=f"[{CLIENT}]")
    fivexx = [reply for reply in r.replies() if reply.startswith("5")]
    f.expect(r.exit_code == 0 and r.queue_id is not None,
             f"stale negative at the forwarder: accepted, not rejected\n{r}")
    if r.queue_id is not None:
        try:
            message = h.wait_for_message(r.queue_id)
            f.expect("iprev=pass" in message, "delivered with iprev=pass")
        except ph.HarnessError as e:
            f.expect(False, f"delivered: {e}")
    f.expect(not fivexx, f"no 5xx in the transcript {fivexx}")
    lines = [line for line in h.milter.log_since(since).splitlines()
             if "stale negative cache" in line]
    f.expect(len(lines) == 1, f"one stale-negative warning logged ({len(lines)}):\n"
             + h.milter.log_since(since)[-3000:])
    f.expect(bool(lines) and f"forwarder {FORWARDER}" in lines[0] and "mail.test" in lines[0],
             "the warning names the forwarder and the PTR")
    return f.count


def inside(milter: str) -> int:
    import postfix_harness as ph  # noqa: E402

    why = ph.missing_prerequisites(ph.POSTFIX, ph.SWAKS)
    if why:
        log(f"skipped: {why}")
        return 77
    h = ph.Harness(prefix="rdns-stale-postfix.")
    directory = os.path.join(h.root, "world")
    os.makedirs(directory)
    world = World(directory, KNOT, ZONES)
    try:
        for server in KNOT:
            world.start_knot(server)
        world.start_unbound(FORWARDER, KNOT["root"], NODEFAULT, ("ns1.test", "A"))
        failures = run_cases(world, h, directory)
    finally:
        world.close()
        h.close()
    log(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_in_netns(__file__, inside))
