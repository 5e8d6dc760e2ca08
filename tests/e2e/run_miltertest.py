"""Runs tests/e2e/miltertest/*.lua against a real rdns-milter resolving through the DNS fixture.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/run_miltertest.py [NAME...]
Prints TAP: one line per case (from the scripts), then per script whether miltertest exited 0
and whether the milter is still alive; exits 1 on any failure.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import oversize_cases  # noqa: E402
import postfix_harness as ph  # noqa: E402

SCRIPTS = os.path.join(HERE, "miltertest")
MILTERTEST = "/usr/bin/miltertest"


def run_j_cases(h: ph.Harness) -> list[tuple[str, str | None]]:
    """Without authserv-id the milter uses the MTA's j macro: hostile values must not leak
    into the header. Restarts the milter without authserv-id, then back to the default."""
    h.stop_milter()
    h.start_milter({"authserv-id": None})
    results = []
    try:
        for vname, v in oversize_cases.VARIANTS.items():
            if b"\0" in v:
                continue  # see oversize_cases.MTA_BUILT
            for ip in (oversize_cases.GOOD_IP, oversize_cases.NO_PTR_IP):
                name = f"j macro: {vname} from {ip}"
                try:
                    oversize_cases.session(h.milter_port, ip, "j", v)
                    results.append((name, None))
                except (oversize_cases.CaseFailure, OSError,
                        oversize_cases.mc.ProtocolError) as e:
                    results.append((name, f"{type(e).__name__}: {e}"))
        name = "j macro mx.test -> authserv-id mx.test"
        try:
            oversize_cases.normal_session(h.milter_port)
            results.append((name, None))
        except (oversize_cases.CaseFailure, OSError, oversize_cases.mc.ProtocolError) as e:
            results.append((name, f"{type(e).__name__}: {e}"))
    finally:
        if h.milter.alive():
            h.stop_milter()
            h.start_milter()
    return results


def main(argv: list[str]) -> int:
    why = ph.missing_prerequisites(MILTERTEST, "knotd", "kdig", "keymgr")
    if why:
        print(f"SKIP e2e/miltertest: {why}")
        return ph.SKIP
    t0 = time.monotonic()
    scripts = sorted(p for p in glob.glob(os.path.join(SCRIPTS, "*.lua"))
                     if os.path.basename(p) != "lib.lua")
    if argv:
        scripts = [s for s in scripts if any(a in os.path.basename(s) for a in argv)]
    h = ph.Harness(prefix="rdns-mt.")
    failed: list[str] = []
    passed = 0
    try:
        h.start_dns()
        milter = h.start_milter()
        extra = [] if argv and not any("oversize" in a for a in argv) else [
            ("oversize (python client)", lambda: oversize_cases.run(h.milter_port)),
            ("oversize: authserv-id from the j macro",
             lambda: run_j_cases(h)),
        ]
        print(f"1..{len(scripts) + len(extra)}")
        n = 0
        for n, script in enumerate(scripts, 1):
            name = os.path.basename(script)
            offset = milter.log_size()
            s0 = time.monotonic()
            try:
                proc = subprocess.run(
                    [MILTERTEST, "-D", f"port={h.milter_port}",
                     "-D", f"lib={os.path.join(SCRIPTS, 'lib.lua')}", "-s", script],
                    stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
                out = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
                code = proc.returncode
            except subprocess.TimeoutExpired as e:
                out = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
                code = "timeout"
            for line in out.splitlines():
                print(f"    {line}")
            alive = milter.alive()
            problems = []
            if code != 0:
                problems.append(f"miltertest exit {code}")
            if "ok - " not in out:
                problems.append("no case ran (Lua error before the first case?)")
            if not alive:
                problems.append(f"milter died (exit {milter.proc.returncode})")
            elapsed = time.monotonic() - s0
            if problems:
                failed.append(name)
                print(f"not ok {n} - {name} ({elapsed:.2f} s): {'; '.join(problems)}")
                print("    --- milter log during this script (tail) ---")
                for line in milter.log_since(offset).splitlines()[-40:]:
                    print(f"    {line}")
                if not alive:
                    milter.stop()
                    milter = h.start_milter()
            else:
                passed += 1
                print(f"ok {n} - {name} ({elapsed:.2f} s)")
        for name, fn in extra:
            n += 1
            milter = h.milter
            offset = milter.log_size()
            s0 = time.monotonic()
            results = fn()
            milter = h.milter
            bad = [(case, err) for case, err in results if err]
            for case, err in results:
                print(f"    {'not ok' if err else 'ok'} - {case}{': ' + err if err else ''}")
            alive = milter.alive()
            elapsed = time.monotonic() - s0
            if bad or not alive:
                failed.append(name)
                why = f"{len(bad)} of {len(results)} cases failed"
                if not alive:
                    why += f"; milter died (exit {milter.proc.returncode})"
                print(f"not ok {n} - {name} ({elapsed:.2f} s): {why}")
                print("    --- milter log during this group (tail) ---")
                for line in milter.log_since(offset).splitlines()[-40:]:
                    print(f"    {line}")
                if not alive:
                    milter.stop()
                    h.start_milter()
            else:
                passed += 1
                print(f"ok {n} - {name} ({elapsed:.2f} s)")
    except ph.HarnessError as e:
        print(f"Bail out! {e}")
        failed.append("harness")
    finally:
        h.close()
    print(f"\nSUMMARY e2e/miltertest: {passed} scripts passed, {len(failed)} failed "
          f"in {time.monotonic() - t0:.1f} s" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
