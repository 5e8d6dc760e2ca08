"""Daemon robustness: the real rdns-milter under a SIGHUP storm and at its descriptor limit.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_daemon.py [SighupStorm]
(meson: `meson test -C build sighup-storm`). The milter resolves through the DNS
fixture (knotd); sessions are driven with milter_client, no MTA is involved.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import milter_client as mc  # noqa: E402
import oversize_cases  # noqa: E402
import postfix_harness as ph  # noqa: E402


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Milter(ph.Milter):
    """ph.Milter, optionally started with a descriptor limit (soft and hard)."""

    def __init__(self, h: ph.Harness, nofile: int | None = None):
        super().__init__(h.root, h.milter_port, h.unbound_conf)
        self.nofile = nofile
        h.milter = self  # Harness.close() stops it; its watchdog kills it via milter.pid

    def _limit(self) -> None:
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self, overrides: dict[str, str] | None = None, timeout: float = 10) -> None:
        self.options = self.write_config(overrides)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ph.milter_binary(), "--foreground", "--socket", f"inet:{self.port}@{ph.HOST}",
                 "--config", self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=self._limit)
        with open(self.pid_path, "w", encoding="ascii") as f:
            f.write(f"{self.proc.pid}\n")
        if not ph.wait_for(lambda: self.proc.poll() is not None or ph.port_accepts(self.port),
                           timeout):
            raise ph.HarnessError(f"rdns-milter did not listen:\n{ph.tail(self.log_path)}")
        if self.proc.poll() is not None:
            raise ph.HarnessError(f"rdns-milter exited with status {self.proc.returncode}:\n"
                                  f"{ph.tail(self.log_path)}")


class DaemonTest(unittest.TestCase):
    h: ph.Harness

    def setUp(self):
        self.h = ph.Harness(prefix="rdns-daemon.")
        self.addCleanup(self.h.close)
        self.h.start_dns()

    def context(self) -> str:
        return "\n--- milter log (tail) ---\n" + ph.tail(self.h.milter.log_path, 30)

    def assert_serves(self, port: int, timeout: float = 5) -> None:
        """A fresh, complete session succeeds (retried until `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                oversize_cases.normal_session(port)
                return
            except (OSError, mc.ProtocolError, oversize_cases.CaseFailure) as e:
                if time.monotonic() >= deadline:
                    self.fail(f"a fresh session failed: {type(e).__name__}: {e}" + self.context())
                time.sleep(0.1)


# argv: PID CONFIG FILE_A FILE_B COUNT INTERVAL. Swaps CONFIG between the two valid files and
# sends SIGHUP after each swap; prints how many were sent (fewer if the process went away).
STORM = r"""
import os, signal, sys, time
pid, conf, a, b, count, interval = sys.argv[1:]
files = [open(p, "rb").read() for p in (a, b)]
sent, start = 0, time.monotonic()
for sent in range(1, int(count) + 1):
    with open(conf + ".new", "wb") as f:
        f.write(files[sent % 2])
    os.replace(conf + ".new", conf)
    try:
        os.kill(int(pid), signal.SIGHUP)
    except ProcessLookupError:
        sent -= 1
        break
    time.sleep(max(0.0, start + sent * float(interval) - time.monotonic()))  # keep the cadence
print(sent)
"""


class SighupStorm(DaemonTest):
    """rdns-milter issue 10 item 2: SIGHUPs under load stopped the milter with status 0
    (libmilter's own signal thread took some of them and shut down)."""

    SIGNALS = 400
    INTERVAL = 0.005
    WORKERS = 16

    def test_storm_of_reloads_under_load(self):
        milter = Milter(self.h)
        milter.start({"query-timeout": "4"})
        configs = [milter.conf_path + ".4", milter.conf_path + ".5"]
        for seconds, path in zip(("4", "5"), configs):
            milter.write_config({"query-timeout": seconds})
            os.replace(milter.conf_path, path)
        milter.write_config({"query-timeout": "4"})
        pid = milter.proc.pid
        self.assert_serves(milter.port)
        time.sleep(0.3)
        fds_before = fd_count(pid)

        stop = threading.Event()
        sessions = [0]
        failures: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            while not stop.is_set():
                try:
                    oversize_cases.normal_session(milter.port)
                    with lock:
                        sessions[0] += 1
                except (OSError, mc.ProtocolError, oversize_cases.CaseFailure) as e:
                    with lock:
                        failures.append(f"{type(e).__name__}: {e}")
                    if milter.proc.poll() is not None:
                        return

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.WORKERS)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        # In a process of its own, so that the 16 client threads do not slow the cadence.
        storm_run = subprocess.run(
            [sys.executable, "-c", STORM, str(pid), milter.conf_path, *configs,
             str(self.SIGNALS), str(self.INTERVAL)],
            capture_output=True, text=True, timeout=30, check=True)
        sent = int(storm_run.stdout)
        storm = time.monotonic() - t0
        time.sleep(0.5)  # let the last reloads finish under load
        stop.set()
        for t in threads:
            t.join(30)
        print(f"  {sent} SIGHUPs in {storm:.2f} s, {sessions[0]} sessions, "
              f"{len(failures)} failed")

        self.assertIsNone(milter.proc.poll(),
                          f"the milter exited with status {milter.proc.returncode} after "
                          f"{sent} SIGHUPs" + self.context())
        self.assertEqual(failures[:5], [], f"{len(failures)} sessions failed" + self.context())
        self.assertGreater(sessions[0], self.WORKERS, "the load did not run" + self.context())
        self.assertIn("configuration reloaded", milter.log())
        self.assert_serves(milter.port)
        # Old resolvers go when their last session does: the count comes back.
        ph.wait_for(lambda: fd_count(pid) <= fds_before, 5, 0.1)
        self.assertLessEqual(fd_count(pid), fds_before,
                             f"descriptors grew from {fds_before}" + self.context())
        self.assertEqual(milter.stop(), 0, "SIGTERM after the storm" + self.context())


def main() -> int:
    missing = [p for p in ("knotd", "kdig", "keymgr") if not shutil.which(p)]
    if missing:
        print(f"SKIP e2e/daemon: missing programs: {', '.join(missing)}")
        return ph.SKIP
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    suite = (loader.loadTestsFromNames(names, sys.modules[__name__]) if names
             else loader.loadTestsFromModule(sys.modules[__name__]))
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
