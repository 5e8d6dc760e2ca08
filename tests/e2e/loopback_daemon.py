"""The real daemon on a loopback port with no MTA and no DNS server, for e2e tests.

The client 192.0.2.12 gets NXDOMAIN from libunbound's built-in TEST-NET zone (iprev fail,
no-ptr), and the forwarder is a dead loopback port libunbound refuses to query, so SPF fails at
once (temperror). Subclasses write their configuration in `write_config()`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"


def milter_binary() -> str:
    source = os.environ.get("RDNS_SOURCE") or os.path.dirname(os.path.dirname(HERE))
    return os.environ.get("RDNS_MILTER") or os.path.join(source, "build", "src", "rdns-milter")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LoopbackDaemonTest(unittest.TestCase):
    """Starts the daemon with `self.conf` before each test and stops it after."""

    prefix = "rdns-e2e."

    def write_config(self) -> None:
        raise NotImplementedError

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.prefix)
        self.conf = os.path.join(self.dir, "rdns-milter.conf")
        self.log_path = os.path.join(self.dir, "milter.log")
        self.port = free_port()
        self.dead_dns = free_port()
        self.write_config()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [milter_binary(), "--foreground", "--socket", f"inet:{self.port}@{HOST}",
                 "--config", self.conf, *(["--user", "root"] if os.geteuid() == 0 else [])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.addCleanup(self.cleanup)
        self.wait_for_log(0, "listening on")

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def log(self, offset: int = 0) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")

    def log_size(self) -> int:
        return os.path.getsize(self.log_path)

    def wait_for_log(self, offset: int, text: str, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(offset):
            if self.proc.poll() is not None:
                self.fail(f"rdns-milter exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                self.fail(f"no {text!r} in the log within {timeout} s:\n{self.log(offset)}")
            time.sleep(0.02)

    def sighup(self, expect: str) -> str:
        """Sends SIGHUP, waits for `expect` in the log, returns the log lines since."""
        offset = self.log_size()
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(offset, expect)
        time.sleep(0.1)  # anything else the reload logs
        return self.log(offset)
