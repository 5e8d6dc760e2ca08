#!/usr/bin/env python3
"""Load benchmark for rdns-milter (python3 stdlib only).

    python3 bench/milter_load.py [--sessions N] [--concurrency C] [--smtp-messages M]
                                 [--max-seconds S] [--no-postfix] [--json FILE]

Starts the hermetic DNS fixture (tests/fixture) and rdns-milter through the e2e harness
(tests/e2e/postfix_harness.py), then:

  1. direct milter sessions (tests/e2e/milter_client.py) from C threads:
       - good FCrDNS client 192.0.2.7, pass 1 right after the milter started (cold cache),
         pass 2 (warm cache);
       - no-PTR client 192.0.2.12 only (the negative answer is re-checked with a fresh
         libunbound context per session: --confirm-negative yes, the default);
       - the same no-PTR load with --confirm-negative no (the cost of the confirmation);
       - a 50/50 mix of the two.
  2. the peer: the same kind of SMTP transaction through a private Postfix (smtplib, XCLIENT
     ADDR=192.0.2.7 so Postfix hands the milter the test address), with rdns-milter as
     smtpd_milters vs with no milter at all -> the latency the milter adds per message.

Everything is bounded (session counts, --max-seconds per phase, socket timeouts) and torn
down in `finally` (plus the harness's and fixture's watchdogs). Traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixture"))

import milter_client as mc  # noqa: E402
import postfix_harness as ph  # noqa: E402

GOOD = "192.0.2.7"
EOM_TIMES: list[float] = []  # list.append is atomic under the GIL
NOPTR = "192.0.2.12"


# ----- process stats -------------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(val.split()[0])  # kB
                elif key == "Threads":
                    out[key] = int(val)
    except FileNotFoundError:
        pass
    return out


class Sampler(threading.Thread):
    """Samples the milter's thread count every 10 ms; keeps the maximum."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.max_threads = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            self.max_threads = max(self.max_threads, proc_status(self.pid).get("Threads", 0))
            self.stop_ev.wait(0.01)

    def stop(self) -> int:
        self.stop_ev.set()
        self.join(2)
        return self.max_threads


# ----- one milter session --------------------------------------------------------------------

def milter_session(port: int, ip: str) -> str:
    """One MTA-side session; returns the outcome ("accept", "reject@connect", ...)."""
    with mc.MilterClient(port, timeout=15) as c:
        c.negotiate()
        c.macro(b"C", {b"j": b"mx.test"})
        steps = [
            ("connect", lambda: c.connect(f"[{ip}]".encode(), ip)),
            ("helo", lambda: c.helo(f"[{ip}]".encode())),
            ("mail", lambda: (c.macro(b"M", {b"i": b"QBENCH"}),
                              c.mail(b"<sender@example.org>"))[1]),
            ("rcpt", lambda: c.rcpt(b"<user@example.net>")),
            ("data", c.data),
            ("header", lambda: c.header(b"Subject", b"bench")),
            ("eoh", c.eoh),
            ("body", lambda: c.body(b"body\r\n")),
        ]
        for name, step in steps:
            r = step()
            if r is not None and r.code not in (mc.CONTINUE,):
                if r.code == mc.ACCEPT:
                    return f"accept@{name}"
                return f"{'reject' if r.code in (mc.REJECT, mc.REPLYCODE) else r.code.decode()}@{name}"
        t_eom = time.monotonic()
        final = c.eom()
        EOM_TIMES.append(time.monotonic() - t_eom)
        if final.code not in (mc.CONTINUE, mc.ACCEPT):
            return f"{final.code.decode()}@eom"
        return "accept+AR" if c.added_headers(b"Authentication-Results") else "accept"


def smtp_session(port: int, ip: str) -> str:
    """One SMTP transaction to the private Postfix, client address set by XCLIENT."""
    s = smtplib.SMTP(ph.HOST, port, local_hostname=f"[{ip}]", timeout=30)
    try:
        s.ehlo()
        code, msg = s.docmd("XCLIENT", f"ADDR={ip} NAME=[UNAVAILABLE]")
        if code != 220:
            return f"xclient {code}"
        s.ehlo(f"[{ip}]")
        code, _ = s.mail("sender@example.org")
        if code != 250:
            return f"mail {code}"
        code, _ = s.rcpt("user@example.net")
        if code != 250:
            return f"rcpt {code}"
        code, _ = s.data(b"Subject: bench\r\nFrom: sender@example.org\r\n"
                         b"To: user@example.net\r\n\r\nbody\r\n")
        return "250 queued" if code == 250 else f"data {code}"
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


# ----- load driver ---------------------------------------------------------------------------

def drive(fn, targets: list[str], concurrency: int, max_seconds: float) -> dict:
    """Runs fn(target) for every target from `concurrency` threads; stops starting new
    sessions after max_seconds. Returns the figures."""
    lock = threading.Lock()
    idx = [0]
    lat: list[float] = []
    outcomes: dict[str, int] = {}
    errors: list[str] = []
    t0 = time.monotonic()
    deadline = t0 + max_seconds

    def worker():
        while True:
            with lock:
                if idx[0] >= len(targets) or time.monotonic() >= deadline:
                    return
                target = targets[idx[0]]
                idx[0] += 1
            s = time.monotonic()
            try:
                out = fn(target)
            except Exception as e:  # noqa: BLE001 - counted, reported
                out = f"error {type(e).__name__}"
                with lock:
                    if len(errors) < 5:
                        errors.append(repr(e))
            d = time.monotonic() - s
            with lock:
                lat.append(d)
                key = f"{target} {out}"
                outcomes[key] = outcomes.get(key, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 60)
    wall = time.monotonic() - t0
    lat.sort()

    def pct(p: float) -> float:
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] * 1000

    return {
        "sessions": len(lat), "planned": len(targets), "concurrency": concurrency,
        "wall_s": round(wall, 3), "per_s": round(len(lat) / wall, 1) if wall else 0,
        "p50_ms": round(pct(50), 2), "p95_ms": round(pct(95), 2), "p99_ms": round(pct(99), 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "outcomes": outcomes, "errors": errors,
        "truncated_by_time": len(lat) < len(targets),
    }


def run_phase(name: str, h: ph.Harness, fn, targets, conc, max_s, results, pid=None):
    sampler = Sampler(pid) if pid else None
    if sampler:
        sampler.start()
    EOM_TIMES.clear()
    r = drive(fn, targets, conc, max_s)
    if EOM_TIMES:
        e = sorted(EOM_TIMES)
        r["eom_p50_ms"] = round(e[len(e) // 2] * 1000, 2)
    if sampler:
        r["milter_max_threads"] = sampler.stop()
        st = proc_status(pid)
        r["milter_VmHWM_kB"] = st.get("VmHWM")
        r["milter_VmRSS_kB"] = st.get("VmRSS")
    r["phase"] = name
    results.append(r)
    extra = (f" eom_p50={r['eom_p50_ms']}ms" if "eom_p50_ms" in r else "")
    extra += (f" thr={r.get('milter_max_threads')} HWM={r.get('milter_VmHWM_kB')}kB"
             if pid else "")
    print(f"{name:38s} n={r['sessions']:5d} {r['per_s']:8.1f}/s p50={r['p50_ms']:7.2f} "
          f"p95={r['p95_ms']:7.2f} p99={r['p99_ms']:7.2f} ms{extra}  {r['outcomes']}"
          + (f" ERR {r['errors']}" if r["errors"] else ""), flush=True)
    return r


def machine() -> dict:
    model = "?"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=2000, help="milter sessions per phase")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--noptr-sessions", type=int, default=500)
    ap.add_argument("--smtp-messages", type=int, default=300, help="per Postfix phase")
    ap.add_argument("--smtp-concurrency", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=60, help="cap per phase")
    ap.add_argument("--no-postfix", action="store_true")
    ap.add_argument("--json", help="write all figures to this file")
    a = ap.parse_args()

    results: list[dict] = []
    info = {"machine": machine(), "args": vars(a)}
    print(json.dumps(info["machine"]), flush=True)
    h = ph.Harness(prefix="rdns-bench.")
    try:
        h.start_dns()
        port = h.milter_port

        # --- 1. direct milter load -------------------------------------------------------
        m = h.start_milter()
        pid = m.proc.pid
        info["milter_start"] = proc_status(pid)
        good = lambda ip: milter_session(port, ip)  # noqa: E731
        # the very first session alone: every lookup is a cache miss
        run_phase("first session (cold, alone)", h, good, [GOOD], 1, a.max_seconds,
                  results, pid)
        m.stop()
        m = h.start_milter()
        pid = m.proc.pid
        run_phase("good 192.0.2.7 pass 1 (cold start)", h, good, [GOOD] * a.sessions,
                  a.concurrency, a.max_seconds, results, pid)
        run_phase("good 192.0.2.7 pass 2 (warm)", h, good, [GOOD] * a.sessions,
                  a.concurrency, a.max_seconds, results, pid)
        run_phase("good, concurrency 1 (warm)", h, good, [GOOD] * (a.sessions // 4),
                  1, a.max_seconds, results, pid)
        run_phase("no-PTR 192.0.2.12, confirm-negative yes", h, good,
                  [NOPTR] * a.noptr_sessions, a.concurrency, a.max_seconds, results, pid)
        mix = [GOOD, NOPTR] * (a.sessions // 2)
        run_phase("mix 50% good / 50% no-PTR (confirm yes)", h, good, mix, a.concurrency,
                  a.max_seconds, results, pid)
        info["milter_end_confirm_yes"] = proc_status(pid)
        m.stop()
        m = h.start_milter({"confirm-negative": "no"})
        pid = m.proc.pid
        run_phase("no-PTR 192.0.2.12, confirm-negative no", h, good,
                  [NOPTR] * a.noptr_sessions, a.concurrency, a.max_seconds, results, pid)
        run_phase("mix 50/50 (confirm no)", h, good, mix, a.concurrency, a.max_seconds,
                  results, pid)
        m.stop()

        # --- 2. peer: Postfix without / with the milter -----------------------------------
        if not a.no_postfix:
            why = ph.missing_prerequisites(ph.POSTFIX)
            if why:
                print(f"postfix phases skipped: {why}", flush=True)
            else:
                pf = h.start_postfix(with_milter=False)
                smtp = lambda ip: smtp_session(pf.port, ip)  # noqa: E731
                run_phase("postfix warm-up (no milter)", h, smtp, [GOOD] * 20,
                          a.smtp_concurrency, a.max_seconds, [])
                run_phase("postfix, no milter", h, smtp, [GOOD] * a.smtp_messages,
                          a.smtp_concurrency, a.max_seconds, results)
                m = h.start_milter()
                pid = m.proc.pid
                pf.reload_with_milter(h.milter_port)
                time.sleep(1.5)  # let smtpd processes pick up the new main.cf
                run_phase("postfix warm-up (+milter)", h, smtp, [GOOD] * 20,
                          a.smtp_concurrency, a.max_seconds, [], pid)
                run_phase("postfix + rdns-milter", h, smtp, [GOOD] * a.smtp_messages,
                          a.smtp_concurrency, a.max_seconds, results, pid)
                pf.reload_with_milter(None)
                time.sleep(1.5)
                run_phase("postfix, no milter (again)", h, smtp, [GOOD] * a.smtp_messages,
                          a.smtp_concurrency, a.max_seconds, results)
    finally:
        h.close()
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"info": info, "results": results}, f, indent=1)
    bad = sum(1 for r in results for k in r["outcomes"] if "error" in k)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
