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

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
KNOT_ADDRESSES = {"root": "127.0.0.2", "main": "127.0.0.3", "other": "127.0.0.4"}
FORWARDER = "127.0.0.53"

SOA = "@ 3600 IN SOA ns1.test. hostmaster.test. {serial} 3600 600 86400 3600"

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


def log(*args: object) -> None:
    print(*args, flush=True)


class World:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.procs: dict[str, subprocess.Popen] = {}
        self.serial = 1

    # ---- knot ----------------------------------------------------------------------------
    def zone_file(self, server: str, zone: str) -> str:
        stem = "root" if zone == "." else zone.rstrip(".")
        return os.path.join(self.dir, server, stem + ".zone")

    def write_zone(self, server: str, zone: str, records: list[str]) -> None:
        head = [f"$ORIGIN {zone}", "$TTL 3600"]
        if zone != ".":
            head.append(SOA.format(serial=self.serial))
        with open(self.zone_file(server, zone), "w", encoding="ascii") as f:
            f.write("\n".join(head + records) + "\n")

    def start_knot(self, server: str) -> None:
        d = os.path.join(self.dir, server)
        os.makedirs(os.path.join(d, "run"), exist_ok=True)
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        lines = [
            "server:", f'    rundir: "{d}/run"', f'    pidfile: "{d}/run/knot.pid"',
            f"    listen: {KNOT_ADDRESSES[server]}@53", "    udp-workers: 1", "    tcp-workers: 1",
            "    background-workers: 1",
            "control:", f'    listen: "{d}/run/knot.sock"',
            "database:", f'    storage: "{d}/db"',
            "log:", "  - target: stderr", "    any: warning",
            "template:", "  - id: default", f'    storage: "{d}"', "    zonefile-sync: -1",
            "    zonefile-load: whole", "    journal-content: none",
            "zone:",
        ]
        for zone, records in ZONES[server].items():
            self.write_zone(server, zone, records)
            lines += [f'  - domain: "{zone}"',
                      f"    file: {os.path.basename(self.zone_file(server, zone))}"]
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
        self.procs["knot-" + server] = subprocess.Popen(
            ["knotd", "-c", conf], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(d, "knotd.log"), "w"))
        self.wait_answer(KNOT_ADDRESSES[server], next(iter(ZONES[server])), "SOA")

    def publish(self, server: str, zone: str, record: str) -> None:
        """Adds `record` to `zone` (serial + 1) and waits until the server answers with it."""
        ZONES[server][zone].append(record)
        self.serial += 1
        self.write_zone(server, zone, ZONES[server][zone])
        sock = os.path.join(self.dir, server, "run", "knot.sock")
        subprocess.run(["knotc", "-s", sock, "zone-reload", zone], check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ---- unbound (the forwarder) ---------------------------------------------------------
    def start_unbound(self) -> None:
        hints = os.path.join(self.dir, "root.hints")
        with open(hints, "w", encoding="ascii") as f:
            f.write(". 3600000 NS ns.root.\nns.root. 3600000 A 127.0.0.2\n")
        conf = os.path.join(self.dir, "forwarder.conf")
        lines = [
            "server:", f"    interface: {FORWARDER}", "    port: 53", "    do-daemonize: no",
            '    username: ""', '    chroot: ""', f'    directory: "{self.dir}"',
            f'    pidfile: "{self.dir}/unbound.pid"', "    use-syslog: no", "    verbosity: 1",
            "    access-control: 127.0.0.0/8 allow", "    do-not-query-localhost: no",
            "    do-ip6: no", f'    root-hints: "{hints}"', '    module-config: "iterator"',
            "    qname-minimisation: no", "    cache-max-negative-ttl: 3600",
            "    prefetch: no", '    local-zone: "2.0.192.in-addr.arpa." nodefault',
            '    local-zone: "100.51.198.in-addr.arpa." nodefault',
            '    local-zone: "test." nodefault',
            "remote-control:", "    control-enable: no",
        ]
        with open(conf, "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
        self.procs["unbound"] = subprocess.Popen(
            ["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "unbound.log"), "w"))
        self.wait_answer(FORWARDER, "ns1.test", "A", recursive=True)

    # ---- queries ---------------------------------------------------------------------------
    @staticmethod
    def dig(server: str, name: str, rrtype: str, recursive: bool = False) -> tuple[str, str]:
        """(status, answer text) of one query."""
        out = subprocess.run(
            ["dig", f"@{server}", name, rrtype, "+tries=1", "+time=2",
             "+rec" if recursive else "+norec"],
            capture_output=True, text=True, check=False).stdout
        status = ""
        for line in out.splitlines():
            if "status:" in line:
                status = line.split("status:")[1].split(",")[0].strip()
        answer = [l for l in out.split(";; ANSWER SECTION:")[1].split("\n\n")[0].splitlines()
                  if l.strip()] if ";; ANSWER SECTION:" in out else []
        return status, "\n".join(answer)

    def wait_answer(self, server: str, name: str, rrtype: str, recursive: bool = False) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, _ = self.dig(server, name, rrtype, recursive)
            if status == "NOERROR":
                return
            time.sleep(0.1)
        raise RuntimeError(f"{server} does not answer {name} {rrtype}")

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


class Checker:
    def __init__(self, milter: str, directory: str) -> None:
        self.milter = milter
        self.config = os.path.join(directory, "empty.conf")
        open(self.config, "w").close()
        # libunbound serves the TEST-NET reverse zones itself (RFC 6303) unless told not to.
        self.unbound_conf = os.path.join(directory, "rdns-unbound.conf")
        with open(self.unbound_conf, "w", encoding="ascii") as f:
            f.write("server:\n    do-not-query-localhost: no\n"
                    '    local-zone: "2.0.192.in-addr.arpa." nodefault\n'
                    '    local-zone: "100.51.198.in-addr.arpa." nodefault\n'
                    '    local-zone: "test." nodefault\n')
        self.forward_conf = os.path.join(directory, "rdns-forward-zone.conf")
        with open(self.forward_conf, "w", encoding="ascii") as f:
            f.write(open(self.unbound_conf).read() +
                    f'forward-zone:\n    name: "."\n    forward-addr: {FORWARDER}\n')

    def check(self, ip: str, forward_zone: bool = False) -> dict:
        args = [self.milter, "--config", self.config, "--trust-anchor-file", "",
                "--query-timeout", "3", "--check", ip, "--json"]
        if forward_zone:
            args += ["--unbound-config", self.forward_conf]
        else:
            args += ["--unbound-config", self.unbound_conf, "--forwarder", FORWARDER]
        started = time.monotonic()
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            raise AssertionError(f"--check {ip} exited {result.returncode}: {result.stderr}")
        report = json.loads(result.stdout)
        report["_elapsed"] = elapsed
        return report


class Failures:
    def __init__(self) -> None:
        self.count = 0

    def expect(self, condition: bool, what: str, report: dict | None = None) -> None:
        if condition:
            log(f"ok   {what}")
            return
        self.count += 1
        log(f"FAIL {what}")
        if report is not None:
            log(json.dumps(report, indent=1)[:6000])


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
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    directory = tempfile.mkdtemp(prefix="rdns-stale-")
    world = World(directory)
    try:
        for server in ("root", "main", "other"):
            world.start_knot(server)
        world.start_unbound()
        failures = run_cases(world, Checker(milter, directory))
    finally:
        world.close()
        if os.environ.get("RDNS_KEEP") != "1":
            shutil.rmtree(directory, ignore_errors=True)
        else:
            log(f"kept {directory}")
    log(f"{failures} failure(s)")
    return 1 if failures else 0


def main() -> int:
    milter = os.environ.get("RDNS_MILTER", "")
    if os.environ.get("RDNS_IN_NETNS") == "1":
        return inside(milter)
    if os.geteuid() != 0:
        log("skipped: needs root (a network namespace with servers on port 53)")
        return SKIP
    missing = [t for t in ("unshare", "ip", "knotd", "knotc", "unbound", "dig")
               if shutil.which(t) is None]
    if missing:
        log(f"skipped: missing {', '.join(missing)}")
        return SKIP
    if not milter:
        log("RDNS_MILTER is not set")
        return 1
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        log(f"skipped: unshare -n failed: {probe.stderr.decode(errors='replace').strip()}")
        return SKIP
    env = dict(os.environ, RDNS_IN_NETNS="1")
    return subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__)],
                          env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
