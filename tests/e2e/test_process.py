"""The daemon as a service starts it: unix socket owner/group/mode, privilege drop, pid file,
refusals (root without `user`, a second instance on the socket or the pid file), a stale socket
replaced, and the sd_notify protocol (READY, RELOADING, STOPPING) a Type=notify unit relies on.

Needs root (it checks the uid/gid the daemon drops to); no MTA and no DNS server: the forwarder
is a dead loopback port, so nothing here waits on DNS.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback_daemon import free_port, milter_binary  # noqa: E402

USER = "nobody"
GROUP = "nogroup"
SOCKET_GROUP = "mail"


def status_ids(pid: int) -> tuple[list[int], list[int]]:
    """Real, effective, saved and filesystem uid and gid of a process, from /proc."""
    uids, gids = [], []
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Uid:"):
                uids = [int(x) for x in line.split()[1:]]
            elif line.startswith("Gid:"):
                gids = [int(x) for x in line.split()[1:]]
    return uids, gids


@unittest.skipUnless(os.geteuid() == 0, "needs root: the test checks the privilege drop")
class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rdns-e2e-process.")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "rdns-milter.sock")
        self.pid_file = os.path.join(self.dir, "rdns-milter.pid")
        self.conf = os.path.join(self.dir, "rdns-milter.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"forwarder = 127.0.0.1@{free_port()}\n"
                    "trust-anchor-file =\n"
                    "query-timeout = 0.5\n")
        self.procs: list[subprocess.Popen] = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def start(self, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
        log = os.path.join(self.dir, f"milter{len(self.procs)}.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [milter_binary(), "--foreground", "--config", self.conf, *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        self.procs.append(proc)
        return proc, log

    def service_args(self) -> list[str]:
        return ["--socket", f"unix:{self.socket}", "--pid-file", self.pid_file,
                "--user", USER, "--group", GROUP, "--socket-group", SOCKET_GROUP]

    @staticmethod
    def read(path: str) -> str:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def wait_for(self, proc: subprocess.Popen, log: str, text: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while text not in self.read(log):
            if proc.poll() is not None:
                self.fail(f"rdns-milter exited ({proc.returncode}):\n{self.read(log)}")
            if time.monotonic() > deadline:
                self.fail(f"no {text!r} in the log within {timeout} s:\n{self.read(log)}")
            time.sleep(0.02)

    def refused(self, *args: str) -> str:
        """Starts an instance that must refuse to run; returns what it said."""
        proc, log = self.start(*args)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail(f"the instance did not refuse to start:\n{self.read(log)}")
        self.assertEqual(proc.returncode, 2, self.read(log))
        return self.read(log)

    def test_socket_owner_group_mode_and_the_dropped_privileges(self):
        proc, log = self.start(*self.service_args(), "--socket-mode", "0660")
        self.wait_for(proc, log, "listening on")
        info = os.stat(self.socket)
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o660)
        self.assertEqual(info.st_uid, pwd.getpwnam(USER).pw_uid)
        self.assertEqual(info.st_gid, grp.getgrnam(SOCKET_GROUP).gr_gid)
        uids, gids = status_ids(proc.pid)
        self.assertEqual(uids, [pwd.getpwnam(USER).pw_uid] * 4)
        self.assertEqual(gids, [grp.getgrnam(GROUP).gr_gid] * 4)
        with open(self.pid_file, encoding="ascii") as f:
            self.assertEqual(int(f.read().strip()), proc.pid)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.socket)  # root may connect; Postfix (group mail) by the mode

    def test_another_socket_mode(self):
        proc, log = self.start(*self.service_args(), "--socket-mode", "0600")
        self.wait_for(proc, log, "listening on")
        self.assertEqual(stat.S_IMODE(os.stat(self.socket).st_mode), 0o600)

    def test_root_without_user_is_refused(self):
        said = self.refused("--socket", f"unix:{self.socket}")
        self.assertIn("refusing to run as root", said)
        self.assertIn("user = root", said)
        self.assertFalse(os.path.exists(self.socket), "a refused start left its socket")

    def test_user_root_is_allowed(self):
        proc, log = self.start("--socket", f"unix:{self.socket}", "--user", "root")
        self.wait_for(proc, log, "listening on")
        self.assertEqual(status_ids(proc.pid)[0], [0, 0, 0, 0])

    def test_a_second_instance_on_the_socket_is_refused_naming_the_pid(self):
        first, log = self.start(*self.service_args())
        self.wait_for(first, log, "listening on")
        said = self.refused("--socket", f"unix:{self.socket}", "--user", USER)
        self.assertIn(f"socket {self.socket} is in use by a running process (pid {first.pid})",
                      said)
        self.assertIsNone(first.poll(), "the first instance died")
        self.assertTrue(stat.S_ISSOCK(os.stat(self.socket).st_mode), "the socket was taken")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.socket)

    def test_a_second_instance_on_the_pid_file_is_refused_naming_the_pid(self):
        first, log = self.start(*self.service_args())
        self.wait_for(first, log, "listening on")
        other = os.path.join(self.dir, "other.sock")
        said = self.refused("--socket", f"unix:{other}", "--pid-file", self.pid_file,
                            "--user", USER)
        self.assertIn(f"pid file {self.pid_file} is locked by a running instance (pid {first.pid})",
                      said)
        self.assertIsNone(first.poll(), "the first instance died")

    def test_a_stale_socket_is_replaced(self):
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.socket)
        stale.close()  # the file stays; nothing listens on it
        proc, log = self.start(*self.service_args())
        self.wait_for(proc, log, "listening on")
        self.assertIn(f"removed the stale socket {self.socket}", self.read(log))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.socket)

    def test_a_file_that_is_not_a_socket_is_left_alone(self):
        with open(self.socket, "w", encoding="ascii") as f:
            f.write("precious\n")
        said = self.refused(*self.service_args())
        self.assertIn("the file exists and is not a socket", said)
        self.assertEqual(self.read(self.socket), "precious\n")

    def test_sd_notify_ready_reloading_stopping(self):
        notify_path = os.path.join(self.dir, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        os.chmod(notify_path, 0o777)  # as systemd's: the daemon sends after dropping to nobody
        notify.settimeout(10)
        self.addCleanup(notify.close)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        proc, log = self.start(*self.service_args(), env=env)

        def message() -> dict:
            fields = {}
            for line in notify.recv(4096).decode("ascii").splitlines():
                key, _, value = line.partition("=")
                fields[key] = value
            return fields

        ready = message()
        self.assertEqual(ready.get("READY"), "1", ready)
        # Ready means listening with privileges dropped, not merely started.
        self.assertTrue(stat.S_ISSOCK(os.stat(self.socket).st_mode))
        self.assertEqual(status_ids(proc.pid)[0][1], pwd.getpwnam(USER).pw_uid)
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        proc.send_signal(signal.SIGHUP)
        reloading = message()
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        # systemd 253+ needs MONOTONIC_USEC with RELOADING=1, from CLOCK_MONOTONIC.
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, int(before * 1e6))
        self.assertLessEqual(usec, int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))
        self.assertEqual(message().get("READY"), "1")
        proc.terminate()
        self.assertEqual(message().get("STOPPING"), "1")
        proc.wait(10)
        self.assertEqual(proc.returncode, 0, self.read(log))


if __name__ == "__main__":
    unittest.main(verbosity=2)
