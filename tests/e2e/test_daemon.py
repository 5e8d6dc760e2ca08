"""Daemon robustness: the real rdns-milter under a SIGHUP storm and at its descriptor limit.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_daemon.py [SighupStorm|FdLimit]
(meson: `meson test -C build sighup-storm fd-limit`). The milter resolves through the DNS
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
                 "--config", self.conf_path, *ph.as_root_args()],
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


class FdLimit(DaemonTest):
    """rdns-milter issue 10 item 5: at the descriptor limit new connections were accepted by
    the kernel but never answered, and nothing was logged."""

    NOFILE = 128
    NEEDLE = "out of file descriptors"

    def open_session(self, port: int) -> mc.MilterClient | None:
        """A held session (negotiated, connected, HELO), or None if the milter closed it.
        Raises socket.timeout if the milter neither answers nor closes within 2 s."""
        client = mc.MilterClient(port, timeout=2)
        try:
            client.negotiate()
            client.macro(b"C", {b"j": b"mx.test"})
            client.connect(b"[192.0.2.7]", oversize_cases.GOOD_IP)
            client.helo(b"[192.0.2.7]")
            return client
        except mc.ProtocolError:
            client.close(polite=False)
            return None
        except ConnectionResetError:
            client.close(polite=False)
            return None
        except socket.timeout:
            client.close(polite=False)
            raise

    def test_connections_beyond_the_limit_are_refused_quickly(self):
        milter = Milter(self.h, nofile=self.NOFILE)
        milter.start()
        self.assert_serves(milter.port)
        held: list[mc.MilterClient] = []
        self.addCleanup(lambda: [c.close(polite=False) for c in held])
        refused = 0
        t0 = time.monotonic()
        for _ in range(self.NOFILE + 20):
            start = time.monotonic()
            try:
                client = self.open_session(milter.port)
            except socket.timeout:
                self.fail(f"with {len(held)} sessions open, a new connection was neither "
                          "answered nor closed within 2 s" + self.context())
            if client is None:
                refused += 1
                self.assertLess(time.monotonic() - start, 2.0)
                if refused >= 10:
                    break
            else:
                held.append(client)
        print(f"  {len(held)} sessions held, {refused} refused in "
              f"{time.monotonic() - t0:.2f} s (limit {self.NOFILE})")
        self.assertGreaterEqual(len(held), 20, "too few sessions fit" + self.context())
        self.assertEqual(refused, 10, "no connection was refused" + self.context())
        self.assertIsNone(milter.proc.poll(), "the milter died" + self.context())
        self.assertTrue(ph.wait_for(lambda: self.NEEDLE in milter.log(), 2),
                        f"no {self.NEEDLE!r} line" + self.context())
        self.assertEqual(milter.log().count(self.NEEDLE), 1,
                         "logged more than once per interval" + self.context())
        self.assertIn(f"descriptor limit {self.NOFILE}", milter.log())
        for client in held:
            client.close()
        held.clear()
        self.assert_serves(milter.port)
        self.assertEqual(milter.stop(), 0, "SIGTERM" + self.context())

    def test_accept_at_emfile_closes_the_connection_without_spinning(self):
        """With the soft limit lowered under the descriptors in use (prlimit on the running
        daemon), accept() itself fails with EMFILE: the connection must still be taken and
        closed, and the listener must not poll a readable socket at full speed."""
        milter = Milter(self.h, nofile=self.NOFILE)
        milter.start()
        self.assert_serves(milter.port)
        pid = milter.proc.pid
        in_use = fd_count(pid)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use - 2, self.NOFILE))
        self.addCleanup(lambda: milter.alive() and resource.prlimit(
            pid, resource.RLIMIT_NOFILE, (self.NOFILE, self.NOFILE)))
        cpu_before = cpu_seconds(pid)
        for _ in range(3):
            start = time.monotonic()
            try:
                client = self.open_session(milter.port)
            except socket.timeout:
                self.fail("at EMFILE a new connection was neither answered nor closed within "
                          "2 s" + self.context())
            self.assertIsNone(client, "a session was served above the limit")
            self.assertLess(time.monotonic() - start, 2.0)
        time.sleep(1)
        cpu = cpu_seconds(pid) - cpu_before
        self.assertLess(cpu, 0.5, f"the milter used {cpu:.2f} s of CPU while refusing"
                        + self.context())
        self.assertTrue(ph.wait_for(lambda: self.NEEDLE in milter.log(), 2),
                        f"no {self.NEEDLE!r} line" + self.context())
        self.assertEqual(milter.log().count(self.NEEDLE), 1, self.context())
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (self.NOFILE, self.NOFILE))
        self.assert_serves(milter.port)
        self.assertEqual(milter.stop(), 0, "SIGTERM" + self.context())


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
