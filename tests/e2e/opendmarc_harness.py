"""OpenDMARC as a second milter behind rdns-milter, for the SPF/DMARC interop e2e test.

Python 3 standard library only. Everything lives under a caller-given directory; nothing on the
machine is changed:

  * DnsForwarder: a tiny UDP+TCP DNS forwarder in threads of the test process, listening on
    port 53 of a random 127.x.y.z address and passing every packet, unchanged, to the DNS
    fixture's knotd (which serves every test zone, the test root included). OpenDMARC's libc
    resolver (res_*) cannot be told a port, hence port 53 on a loopback address of our own.
  * OpenDmarc: opendmarc in the foreground in a private mount namespace (`unshare -m`) where a
    bind mount puts our resolv.conf ("nameserver 127.x.y.z") over /etc/resolv.conf. The host's
    /etc/resolv.conf is untouched. Its own config, pid file and socket (inet, a free port).
  * DualMilterPostfix: the harness's private Postfix with `smtpd_milters = rdns, opendmarc`.

Children get PR_SET_PDEATHSIG(SIGKILL): if the test process is killed, they die with it.
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import postfix_harness as ph

OPENDMARC = "/usr/sbin/opendmarc"
UNSHARE = "/usr/bin/unshare"
NSENTER = "/usr/bin/nsenter"
DIG = "/usr/bin/dig"

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the process that started it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ----- DNS forwarder -------------------------------------------------------------------------

class DnsForwarder:
    """Forwards DNS over UDP and TCP from <random 127.x.y.z>:53 to 127.0.0.1:upstream_port."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.address: str | None = None
        self.udp: socket.socket | None = None
        self.tcp: socket.socket | None = None
        self.stopping = threading.Event()
        self.queries = 0
        self.log: list[str] = []  # "qname qtype" of each forwarded query, for diagnostics
        self._threads: list[threading.Thread] = []

    def start(self) -> str:
        """Binds port 53 on a free random loopback address; returns that address."""
        rng = random.Random()
        last: OSError | None = None
        for _ in range(50):
            addr = f"127.{rng.randint(100, 254)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((addr, 53))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((addr, 53))
                tcp.listen(16)
            except OSError as e:
                last = e
                udp.close()
                tcp.close()
                continue
            self.address, self.udp, self.tcp = addr, udp, tcp
            break
        else:
            raise ph.HarnessError(f"no loopback address with a free port 53: {last}")
        for target in (self._serve_udp, self._serve_tcp):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self.address

    def stop(self) -> None:
        self.stopping.set()
        for s in (self.udp, self.tcp):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    @staticmethod
    def _describe(query: bytes) -> str:
        try:
            i, labels = 12, []
            while query[i]:
                n = query[i]
                labels.append(query[i + 1:i + 1 + n].decode("ascii", "replace"))
                i += 1 + n
            qtype = struct.unpack("!H", query[i + 1:i + 3])[0]
            return f"{'.'.join(labels)}. type{qtype}"
        except (IndexError, struct.error):
            return "(malformed)"

    def _serve_udp(self) -> None:
        while not self.stopping.is_set():
            try:
                query, client = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._answer_udp, args=(query, client), daemon=True).start()

    def _answer_udp(self, query: bytes, client) -> None:
        self.queries += 1
        self.log.append(self._describe(query))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(3)
            try:
                up.sendto(query, self.upstream)
                answer, _ = up.recvfrom(65535)
                self.udp.sendto(answer, client)
            except OSError:
                pass  # the client retries or times out, as with a real server

    def _serve_tcp(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._answer_tcp, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_exact(s: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _answer_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    length = struct.unpack("!H", self._read_exact(conn, 2))[0]
                    query = self._read_exact(conn, length)
                    self.queries += 1
                    self.log.append(self._describe(query) + " (tcp)")
                    with socket.create_connection(self.upstream, timeout=3) as up:
                        up.sendall(struct.pack("!H", len(query)) + query)
                        alen = struct.unpack("!H", self._read_exact(up, 2))[0]
                        answer = self._read_exact(up, alen)
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
            except (OSError, EOFError, struct.error):
                return


# ----- OpenDMARC ------------------------------------------------------------------------------

OPENDMARC_CONF = """\
# written by tests/e2e/opendmarc_harness.py
Socket inet:{port}@127.0.0.1
PidFile {pidfile}
Background false
BaseDirectory {dir}
UMask 0022
# Our authserv-id (rdns-milter's and OpenDMARC's headers both say mx.test); trust exactly it.
AuthservID mx.test
TrustedAuthservIDs mx.test
# Use rdns-milter's SPF result from the trusted Authentication-Results; never check SPF itself.
SPFIgnoreResults false
SPFSelfValidate false
RejectFailures {reject}
RequiredHeaders false
FailureReports false
Syslog {syslog}
SoftwareHeader true
"""

# Run in a private mount namespace: bind our resolv.conf over /etc/resolv.conf (and, when a
# log socket is given, a tmpfs /dev with /dev/log = our datagram socket so syslog(3) reaches
# the test), then exec the program. "$@" is the program and its arguments.
NAMESPACE_SCRIPT = r"""
set -e
mount --make-rprivate /
mount --bind "$RESOLV" /etc/resolv.conf
if [ -n "$LOGSOCK" ]; then
    # Note: this machine may have no /dev/log (and a bind mount needs an existing target), so
    # the namespace gets a tmpfs /dev of symlinks into the real one, plus log -> our socket.
    mkdir -p "$OLDDEV"
    mount --rbind /dev "$OLDDEV"
    mount -t tmpfs -o mode=755 rdns-e2e-dev /dev
    for e in "$OLDDEV"/* "$OLDDEV"/.[!.]*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        [ "${e##*/}" = log ] || ln -s "$e" "/dev/${e##*/}"
    done
    ln -s "$LOGSOCK" /dev/log
fi
exec "$@"
"""


class OpenDmarc:
    """opendmarc -f in its own mount namespace, resolving through `nameserver`."""

    def __init__(self, directory: str, nameserver: str, port: int | None = None,
                 reject_failures: bool = False):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port = port if port is not None else ph.free_port()
        self.conf = os.path.join(directory, "opendmarc.conf")
        self.resolv = os.path.join(directory, "resolv.conf")
        self.pidfile = os.path.join(directory, "opendmarc.pid")
        self.log_path = os.path.join(directory, "opendmarc.log")
        self.nameserver = nameserver
        self.reject_failures = reject_failures
        self.proc: subprocess.Popen | None = None
        self.syslog: SyslogSink | None = None

    def write_config(self) -> None:
        with open(self.resolv, "w", encoding="ascii") as f:
            f.write(f"nameserver {self.nameserver}\noptions timeout:1 attempts:2\n")
        with open(self.conf, "w", encoding="ascii") as f:
            f.write(OPENDMARC_CONF.format(port=self.port, pidfile=self.pidfile, dir=self.dir,
                                          reject="true" if self.reject_failures else "false",
                                          syslog="true" if self.syslog else "false"))

    def namespaced(self, *argv: str) -> list[str]:
        """argv run in a fresh mount namespace with our resolv.conf."""
        return [UNSHARE, "-m", "--", "/bin/sh", "-c", NAMESPACE_SCRIPT, "sh", *argv]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["RESOLV"] = self.resolv
        if self.syslog is not None:
            env["LOGSOCK"] = self.syslog.path
            env["OLDDEV"] = os.path.join(self.dir, "host-dev")
        return env

    def start(self, timeout: float = 10, capture_syslog: bool = True) -> None:
        if capture_syslog and self.syslog is None:
            self.syslog = SyslogSink(os.path.join(self.dir, "log.sock"))
        self.write_config()
        log = open(self.log_path, "ab")
        with log:
            self.proc = subprocess.Popen(
                self.namespaced(OPENDMARC, "-f", "-c", self.conf, "-p",
                                f"inet:{self.port}@127.0.0.1"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env(),
                preexec_fn=_die_with_parent)
        if not ph.wait_for(lambda: self.proc.poll() is not None or ph.port_accepts(self.port),
                           timeout, 0.02):
            self.stop()
            raise ph.HarnessError(f"opendmarc did not listen on {self.port} within {timeout} s:"
                                  f"\n{ph.tail(self.log_path)}")
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = None
            raise ph.HarnessError(f"opendmarc exited with status {code} at start:\n"
                                  f"{ph.tail(self.log_path)}")

    def in_namespace(self, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """Runs argv inside the running opendmarc's mount namespace (what it really sees)."""
        if self.proc is None or self.proc.poll() is not None:
            raise ph.HarnessError("opendmarc not running")
        return subprocess.run([NSENTER, "-t", str(self.proc.pid), "-m", "--", *argv],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # Note: libmilter lingers ~5 s after SIGTERM; nothing of OpenDMARC's state matters
            # to the tests, so a short grace period, then SIGKILL.
            self.proc.terminate()
            try:
                self.proc.wait(0.5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        ph.wait_for(lambda: not ph.port_accepts(self.port), 3, 0.02)
        if self.syslog is not None:
            self.syslog.close()

    def log(self) -> str:
        """stderr/stdout of the process, then its syslog lines."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                out = f.read()
        except FileNotFoundError:
            out = ""
        if self.syslog is not None:
            out += "".join(line + "\n" for line in self.syslog.lines)
        return out

    def syslog_lines(self) -> list[str]:
        return list(self.syslog.lines) if self.syslog is not None else []


class SyslogSink:
    """A unix datagram socket that collects syslog(3) lines (OpenDMARC logs only there)."""

    def __init__(self, path: str):
        self.path = path
        self.lines: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            # "<PRI>Mon dd hh:mm:ss ident[pid]: text": keep from the ident on.
            text = data.decode("utf-8", "replace").rstrip("\n\0")
            self.lines.append(re.sub(r"^<\d+>(\w{3} [ \d]\d \d\d:\d\d:\d\d )?", "", text))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# ----- Postfix with two milters ---------------------------------------------------------------

class DualMilterPostfix(ph.Postfix):
    """The harness's private Postfix, with a second milter after rdns-milter."""

    def __init__(self, directory: str, second_milter_port: int):
        super().__init__(directory)
        self.second_milter_port = second_milter_port

    def write_config(self, port: int, milter_port: int | None) -> None:
        super().write_config(port, milter_port)
        path = os.path.join(self.etc, "main.cf")
        with open(path, encoding="ascii") as f:
            text = f.read()
        milters = [f"inet:{ph.HOST}:{p}" for p in (milter_port, self.second_milter_port)
                   if p is not None]
        text, n = re.subn(r"(?m)^smtpd_milters = .*$",
                          lambda _: "smtpd_milters = " + ", ".join(milters), text)
        if n != 1:
            raise ph.HarnessError("main.cf has no smtpd_milters line to rewrite")
        with open(path, "w", encoding="ascii") as f:
            f.write(text)


def missing() -> str | None:
    """Why the OpenDMARC interop test cannot run here, or None."""
    absent = [p for p in (OPENDMARC, UNSHARE, NSENTER, DIG) if not os.access(p, os.X_OK)]
    if absent:
        return ("missing programs: " + ", ".join(absent)
                + (" (apt-get install opendmarc)" if OPENDMARC in absent else ""))
    probe = subprocess.run([UNSHARE, "-m", "--", "/bin/true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a mount namespace (unshare -m): {probe.stderr.strip()}"
    return None
