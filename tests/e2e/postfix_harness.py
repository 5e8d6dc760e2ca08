"""End-to-end harness: a private Postfix, the DNS fixture and rdns-milter under one temp dir.

Python 3 standard library only. Nothing is written outside the temp dir and nothing reaches
the Internet: the milter resolves through the fixture's unbound.conf, whose stubs (including
one for ".") all point at the fixture's knotd on 127.0.0.1.

    h = Harness()                    # creates the temp dir
    h.start_dns()                    # knotd + rbldnsd + blackhole (tests/fixture/dnsfixture.py)
    h.start_postfix()                # smtpd on a free 127.0.0.1 port, milter port reserved
    h.start_milter({"dry-run": "yes"})
    r = h.swaks(xclient_addr="192.0.2.7")
    msg = h.wait_for_message(r.queue_id)
    h.close()                        # stops everything, removes the temp dir; idempotent

Environment: RDNS_MILTER (the daemon binary), RDNS_SOURCE (the source tree),
RDNS_E2E_KEEP=1 keeps the temp dir for inspection.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("RDNS_SOURCE") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "fixture"))

from dnsfixture import DnsFixture  # noqa: E402  (path set up above)

HOST = "127.0.0.1"
POSTFIX = "/usr/sbin/postfix"
SWAKS = "/usr/bin/swaks"


class HarnessError(RuntimeError):
    pass


SKIP = 77  # meson: the test was skipped


def missing_prerequisites(*programs: str) -> str | None:
    """Why this machine cannot run the e2e tests, or None. Postfix needs root here."""
    if os.geteuid() != 0:
        return "not root (the private Postfix needs root)"
    missing = [p for p in programs if shutil.which(p) is None and not os.access(p, os.X_OK)]
    return f"missing programs: {', '.join(missing)}" if missing else None


def as_root_args() -> list[str]:
    """The daemon refuses to run as root unless told user = root: the tests run it as root."""
    return ["--user", "root"] if os.geteuid() == 0 else []


def milter_binary() -> str:
    path = os.environ.get("RDNS_MILTER") or os.path.join(SOURCE_ROOT, "build", "src",
                                                          "rdns-milter")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"rdns-milter binary not found or not executable: {path}"
                           " (set RDNS_MILTER)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)\n"


# ----- swaks ---------------------------------------------------------------------------------

@dataclasses.dataclass
class SmtpResult:
    """One swaks run: its exit status and the full transcript (stdout + stderr)."""
    argv: list[str]
    exit_code: int
    transcript: str

    def replies_to(self, verb: str) -> list[str]:
        """The server's reply (first line) to each `verb` the client sent, in order: the first
        reply line after the command (swaks waits for each reply; no pipelining)."""
        lines = self.transcript.splitlines()
        out: list[str] = []
        for i, line in enumerate(lines):
            if re.match(r"\s*-> " + re.escape(verb), line, re.IGNORECASE):
                for reply in lines[i + 1:]:
                    m = re.match(r"\s*<(?:-|\*\*) +(.*)$", reply)
                    if m:
                        out.append(m.group(1))
                        break
        return out

    def reply_to(self, verb: str) -> str | None:
        """The server's first reply line to the first `verb` (e.g. "RCPT TO")."""
        replies = self.replies_to(verb)
        return replies[0] if replies else None

    def replies(self) -> list[str]:
        return [m.group(1) for m in re.finditer(r"^\s*<(?:-|\*\*) +(.*)$", self.transcript,
                                                 re.MULTILINE)]

    @property
    def queue_id(self) -> str | None:
        m = re.search(r"^\s*<- +250 .*queued as ([0-9A-Za-z]+)", self.transcript, re.MULTILINE)
        return m.group(1) if m else None

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\n(exit {self.exit_code})\n{self.transcript}"


def swaks(port: int, *, to: str = "user@example.net", sender: str = "sender@example.org",
          helo: str = "client.example.org", xclient_addr: str | None = None,
          data: str | None = None, extra: list[str] | None = None,
          timeout: float = 30) -> SmtpResult:
    """Runs swaks against 127.0.0.1:port; never raises on an SMTP failure."""
    argv = [SWAKS, "--server", HOST, "--port", str(port), "--to", to, "--from", sender,
            "--helo", helo, "--timeout", "20"]
    if xclient_addr is not None:
        argv += ["--xclient-addr", xclient_addr]
    if data is not None:
        argv += ["--data", data]
    argv += extra or []
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout)
    return SmtpResult(argv, proc.returncode, proc.stdout + proc.stderr)


# ----- Postfix -------------------------------------------------------------------------------

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {spool}
data_directory = {data}
myhostname = mx.test
mydomain = test
myorigin = mx.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4, ipv6
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
local_recipient_maps =
alias_maps =
alias_database =
default_transport = capture
relay_transport = capture
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_authorized_xclient_hosts = 127.0.0.0/8
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = {maillog}
smtpd_milters = {milters}
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 10s
smtpd_banner = $myhostname ESMTP
biff = no
readme_directory = no
append_dot_mydomain = no
recipient_delimiter =
header_size_limit = 102400
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
smtpd_client_connection_rate_limit = 0
anvil_rate_time_unit = 60s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

# Note: chroot "n" everywhere: the spool is not a prepared chroot. The capture pipe writes
# to a temporary name and renames, so a reader never sees a half-written message.
MASTER_CF = """\
{port}  inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
capture   unix  -       n       n       -       -       pipe
  flags= user=nobody argv=/bin/sh -c {{ /usr/bin/cat > {out}/${{queue_id}}.tmp && /usr/bin/mv {out}/${{queue_id}}.tmp {out}/${{queue_id}}.eml }}
"""


class Postfix:
    """A private Postfix instance under `directory` (config, spool, data, capture dir)."""

    def __init__(self, directory: str):
        self.dir = directory
        self.etc = os.path.join(directory, "etc")
        self.spool = os.path.join(directory, "spool")
        self.data = os.path.join(directory, "data")
        self.out = os.path.join(directory, "out")
        self.maillog = os.path.join(directory, "maillog")
        self.port: int | None = None
        self.running = False

    def write_config(self, port: int, milter_port: int | None) -> None:
        for d in (self.etc, self.spool, self.data, self.out):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.data, "postfix")
        os.chmod(self.out, 0o1777)  # the pipe runs as nobody
        # Note: an int is a TCP port on 127.0.0.1; a str is a Postfix milter spec (unix:PATH).
        if isinstance(milter_port, str):
            milters = milter_port
        else:
            milters = f"inet:{HOST}:{milter_port}" if milter_port is not None else ""
        with open(os.path.join(self.etc, "main.cf"), "w", encoding="ascii") as f:
            f.write(MAIN_CF.format(etc=self.etc, spool=self.spool, data=self.data,
                                   maillog=self.maillog, milters=milters))
        with open(os.path.join(self.etc, "master.cf"), "w", encoding="ascii") as f:
            f.write(MASTER_CF.format(port=f"{HOST}:{port}", out=self.out))
        self.port = port

    def _postfix(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        # Note: Postfix prints start-up errors only to a terminal; `script` provides one.
        cmd = " ".join([POSTFIX, "-c", self.etc, *args])
        return subprocess.run(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout)

    def start(self, milter_port: int | None) -> None:
        for attempt in range(3):
            port = free_port()
            self.write_config(port, milter_port)
            proc = self._postfix("start")
            if proc.returncode != 0:
                raise HarnessError(f"postfix start failed ({proc.returncode}):\n"
                                   f"{proc.stdout}{proc.stderr}\nmaillog:\n{tail(self.maillog)}")
            self.running = True
            if wait_for(lambda: port_accepts(port), 10):
                return
            self.stop()
        raise HarnessError(f"postfix smtpd never listened:\n{tail(self.maillog)}")

    def reload_with_milter(self, milter_port: int | None) -> None:
        self.write_config(self.port, milter_port)
        proc = self._postfix("reload")
        if proc.returncode != 0:
            raise HarnessError(f"postfix reload failed: {proc.stdout}{proc.stderr}")

    def stop(self) -> None:
        if not self.running:
            return
        self._postfix("stop")
        pid_file = os.path.join(self.spool, "pid", "master.pid")
        # `postfix stop` returns before master has gone; wait so the dir can be removed.
        def gone() -> bool:
            try:
                with open(pid_file, encoding="ascii") as f:
                    pid = int(f.read().strip())
                os.kill(pid, 0)
                return False
            except (FileNotFoundError, ValueError, ProcessLookupError):
                return True
        wait_for(gone, 10, 0.05)
        self.running = False

    def messages(self) -> list[str]:
        return sorted(n for n in os.listdir(self.out) if n.endswith(".eml"))

    def wait_for_message(self, queue_id: str, timeout: float = 15) -> str:
        path = os.path.join(self.out, f"{queue_id}.eml")
        if not wait_for(lambda: os.path.exists(path), timeout, 0.02):
            raise HarnessError(f"message {queue_id} not delivered to {self.out} within "
                               f"{timeout} s; maillog:\n{tail(self.maillog)}")
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()


# ----- rdns-milter ---------------------------------------------------------------------------

class Milter:
    """rdns-milter in the foreground on a fixed 127.0.0.1 port, stderr to a log file."""

    def __init__(self, directory: str, port: int, unbound_conf: str,
                 unix_socket: str | None = None):
        self.dir = directory
        self.port = port
        self.unix_socket = unix_socket  # listen here instead of on the TCP port
        self.unbound_conf = unbound_conf
        self.conf_path = os.path.join(directory, "rdns-milter.conf")
        self.log_path = os.path.join(directory, "milter.log")
        self.pid_path = os.path.join(directory, "milter.pid")
        self.proc: subprocess.Popen | None = None
        self.options: dict[str, str] | None = None

    @staticmethod
    def base_options(unbound_conf: str) -> dict[str, str]:
        return {
            "authserv-id": "mx.test",
            "unbound-config": unbound_conf,
            "trusted-networks": "127.0.0.1/32",
            "query-timeout": "2",
        }

    def write_config(self, overrides: dict[str, str | None] | None = None,
                     raw_lines: list[str] | None = None) -> dict[str, str]:
        options = self.base_options(self.unbound_conf)
        options.update(overrides or {})
        options = {k: v for k, v in options.items() if v is not None}  # None: drop the key
        with open(self.conf_path + ".new", "w", encoding="utf-8") as f:
            f.write("# written by tests/e2e/postfix_harness.py\n")
            for key, value in options.items():
                f.write(f"{key} = {value}\n")
            for line in raw_lines or []:
                f.write(line + "\n")
        os.replace(self.conf_path + ".new", self.conf_path)
        return options

    @property
    def socket_spec(self) -> str:
        return f"unix:{self.unix_socket}" if self.unix_socket else f"inet:{self.port}@{HOST}"

    def accepts(self) -> bool:
        if self.unix_socket is None:
            return port_accepts(self.port)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            try:
                s.connect(self.unix_socket)
                return True
            except OSError:
                return False

    def start(self, overrides: dict[str, str] | None = None, timeout: float = 10,
              preexec_fn=None) -> None:
        if self.alive():
            raise HarnessError("milter already running")
        self.options = self.write_config(overrides)
        log = open(self.log_path, "ab")
        with log:
            log.write(f"===== start {time.strftime('%H:%M:%S')} {self.options}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [milter_binary(), "--foreground", "--socket", self.socket_spec,
                 "--config", self.conf_path, *as_root_args()],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=preexec_fn)
        with open(self.pid_path, "w", encoding="ascii") as f:
            f.write(f"{self.proc.pid}\n")
        if not wait_for(lambda: self.proc.poll() is not None or self.accepts(),
                        timeout, 0.02):
            self.stop()
            raise HarnessError(f"rdns-milter did not listen on {self.port} within {timeout} s:"
                               f"\n{tail(self.log_path)}")
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = None
            raise HarnessError(f"rdns-milter exited with status {code} at start:\n"
                               f"{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if not self.alive():
            raise HarnessError("milter not running")
        self.proc.send_signal(sig)

    def terminate(self, timeout: float) -> float | None:
        """SIGTERM; returns the seconds until exit, or None if still running after timeout."""
        start = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return time.monotonic() - start

    def stop(self) -> int | None:
        """Stops the milter (SIGTERM, SIGKILL after 5 s); returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass
        wait_for(lambda: not self.accepts(), 3, 0.02)
        return code

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""


# ----- all of it together --------------------------------------------------------------------

WATCHDOG = r"""
import os, signal, subprocess, sys, time, shutil
parent, root, etc = int(sys.argv[1]), sys.argv[2], sys.argv[3]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    if not os.path.isdir(root):
        sys.exit(0)
    time.sleep(0.5)
if not os.path.isdir(root):
    sys.exit(0)
subprocess.run(["/usr/sbin/postfix", "-c", etc, "stop"], capture_output=True)
try:
    pid = int(open(os.path.join(root, "milter.pid")).read())
    if root in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"):
        os.kill(pid, signal.SIGKILL)
except (OSError, ValueError):
    pass
time.sleep(1)
shutil.rmtree(root, ignore_errors=True)
"""


class Harness:
    """Owns one temp dir and everything started in it; close() tears it all down."""

    def __init__(self, prefix: str = "rdns-e2e.", unix_socket: bool = False):
        self.root = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.root, 0o755)  # the capture pipe (user nobody) must reach out/
        self.dns: DnsFixture | None = None
        self.postfix: Postfix | None = None
        self.milter: Milter | None = None
        self.milter_port = free_port()
        # With unix_socket, the milter listens on ROOT/milter.sock (socket-mode 0666 for
        # Postfix's smtpd, which runs as user postfix) and Postfix is told unix:ROOT/milter.sock.
        self.milter_socket = os.path.join(self.root, "milter.sock") if unix_socket else None
        self._closed = False
        atexit.register(self.close)
        # A watchdog in its own session: if this process is killed (test timeout), it stops
        # Postfix and the milter and removes the dir. The DNS fixture has its own watchdog.
        subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), self.root,
                          os.path.join(self.root, "postfix", "etc")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True).returncode = 0

    def start_dns(self) -> dict:
        self.dns = DnsFixture(os.path.join(self.root, "dns"))
        return self.dns.start(watch_pid=os.getpid())

    @property
    def unbound_conf(self) -> str:
        if self.dns is None:
            raise HarnessError("start_dns() first")
        return self.dns.unbound_conf

    def start_postfix(self, with_milter: bool = True) -> Postfix:
        self.postfix = Postfix(os.path.join(self.root, "postfix"))
        spec = f"unix:{self.milter_socket}" if self.milter_socket else self.milter_port
        self.postfix.start(spec if with_milter else None)
        return self.postfix

    def start_milter(self, overrides: dict[str, str] | None = None) -> Milter:
        if self.milter is None:
            self.milter = Milter(self.root, self.milter_port, self.unbound_conf,
                                 self.milter_socket)
        self.milter.start(overrides)
        return self.milter

    def ensure_milter(self, overrides: dict[str, str] | None = None) -> Milter:
        """Starts the milter with these options unless it already runs with exactly them."""
        wanted = Milter.base_options(self.unbound_conf)
        wanted.update(overrides or {})
        wanted = {k: v for k, v in wanted.items() if v is not None}
        if self.milter is not None and self.milter.alive() and self.milter.options == wanted:
            return self.milter
        self.stop_milter()
        return self.start_milter(overrides)

    def stop_milter(self) -> None:
        if self.milter is not None:
            self.milter.stop()

    def swaks(self, **kwargs) -> SmtpResult:
        if self.postfix is None or self.postfix.port is None:
            raise HarnessError("start_postfix() first")
        return swaks(self.postfix.port, **kwargs)

    def wait_for_message(self, queue_id: str, timeout: float = 15) -> str:
        return self.postfix.wait_for_message(queue_id, timeout)

    def diagnostics(self) -> str:
        parts = []
        if self.milter is not None:
            parts.append("--- milter log (tail) ---\n" + tail(self.milter.log_path, 30))
        if self.postfix is not None:
            parts.append("--- postfix maillog (tail) ---\n" + tail(self.postfix.maillog, 20))
        return "\n".join(parts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors = []
        for step in (self.stop_milter,
                     lambda: self.postfix and self.postfix.stop(),
                     lambda: self.dns and self.dns.stop()):
            try:
                step()
            except Exception as e:  # keep tearing down
                errors.append(repr(e))
        if os.environ.get("RDNS_E2E_KEEP"):
            print(f"RDNS_E2E_KEEP: kept {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            print("harness teardown errors: " + "; ".join(errors), file=sys.stderr)


def message_headers(eml: str) -> list[tuple[str, str]]:
    """(name, raw value with folding kept) for each header of a delivered message."""
    head = eml.replace("\r\n", "\n").split("\n\n", 1)[0]
    headers: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)
        elif ":" in line:
            name, value = line.split(":", 1)
            headers.append((name, value.lstrip(" ")))
    return headers


def unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def split_ar(value):
    """Splits an (unfolded) Authentication-Results value at the top-level semicolons (not
    inside quoted strings or comments, RFC 8601 §2.2 / RFC 5322 §3.2); works on str and bytes.
    Returns the stripped parts: [authserv-id (+ version), resinfo, ...]."""
    is_bytes = isinstance(value, bytes)
    text = value.decode("latin-1") if is_bytes else value
    parts, current, i, quoted, depth = [], [], 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and (quoted or depth) and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if quoted:
            quoted = c != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(c, 0)
        elif c == '"':
            quoted = True
        elif c == "(":
            depth = 1
        elif c == ";":
            parts.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    parts.append("".join(current).strip())
    return [p.encode("latin-1") for p in parts] if is_bytes else parts



# ----- shared by the e2e test classes ---------------------------------------------------------

def helo_literal(addr: str) -> str:
    """The HELO address literal for an XCLIENT address ("IPV6:2001:db8::7" too).
    Note: every name in the fixture's test. zone is under a private TLD for the milter's HELO
    check (helo-bad-tld, default reject); a literal equal to the client passes."""
    if addr.upper().startswith("IPV6:"):
        return f"[IPv6:{addr[5:]}]"
    return f"[{addr}]"


class HarnessAsserts:
    """Assertions for unittest.TestCase classes whose `h` is a Harness."""

    h: "Harness"

    def context(self, result: "SmtpResult | None" = None, since: int | None = None) -> str:
        parts = []
        if result is not None:
            parts.append(str(result))
        if since is not None and self.h.milter is not None:
            parts.append("--- milter log during this test ---\n"
                         + self.h.milter.log_since(since))
        parts.append(self.h.diagnostics())
        return "\n" + "\n".join(parts)

    def assert_delivered(self, result: "SmtpResult", since: int | None = None) -> str:
        ctx = self.context(result, since)
        self.assertEqual(result.exit_code, 0, "swaks failed" + ctx)
        self.assertIsNotNone(result.queue_id, "no 'queued as' in the transcript" + ctx)
        try:
            return self.h.wait_for_message(result.queue_id)
        except HarnessError as e:
            self.fail(str(e) + ctx)

    def assert_log_has(self, since: int, *needles: str, timeout: float = 2.0) -> str:
        """Waits for one milter log line (after `since`) that contains every needle."""
        found: list[str] = []

        def check() -> bool:
            for line in self.h.milter.log_since(since).splitlines():
                if all(n in line for n in needles):
                    found.append(line)
                    return True
            return False
        if not wait_for(check, timeout, 0.05):
            self.fail(f"no milter log line containing {needles}" + self.context(since=since))
        return found[0]

# ----- running a test module ------------------------------------------------------------------

class SummaryResult(unittest.TextTestResult):
    """Prints each test's wall time after its verdict."""

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.stream.writeln(f"    ({time.monotonic() - self._t0:.2f} s)")


def run_tests(name: str, module_name: str, programs: tuple[str, ...],
              argv: list[str] | None = None) -> int:
    """main() of an e2e test module: skips (77) when a prerequisite is missing, runs the
    module's tests (`-k PATTERN` selects), prints a SUMMARY line; a partly skipped run exits 77
    too, so a part that could not run never looks like a pass."""
    why = missing_prerequisites(*programs)
    if why:
        print(f"SKIP e2e/{name}: {why}")
        return SKIP
    t0 = time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    loader = unittest.TestLoader()
    if len(argv) >= 2 and argv[0] == "-k":
        loader.testNamePatterns = [f"*{argv[1]}*"]
    suite = loader.loadTestsFromModule(sys.modules[module_name])
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=SummaryResult).run(suite)
    # Note: a failed subTest is reported under its own id; count the test methods.
    failed = len({getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors})
    skipped_tests = [t for t, _ in result.skipped if isinstance(t, unittest.TestCase)]
    passed = result.testsRun - failed - len(skipped_tests)
    print(f"\nSUMMARY e2e/{name}: {passed} passed, {len(result.failures)} failed, "
          f"{len(result.errors)} errors, {len(result.skipped)} skipped "
          f"in {time.monotonic() - t0:.1f} s")
    for test, reason in result.skipped:
        print(f"  SKIPPED: {test.id()}: {reason}")
    for test, _ in result.failures + result.errors:
        print(f"  FAILED: {test.id()}")
    if not result.wasSuccessful():
        return 1
    if result.skipped:
        print(f"SKIP e2e/{name}: part of the suite was skipped (see SKIPPED above)")
        return SKIP
    return 0


if __name__ == "__main__":
    # Smoke test of the harness alone: Postfix without a milter delivers; with the milter
    # port dead, Postfix answers 451 4.7.1.
    h = Harness()
    try:
        t0 = time.monotonic()
        pf = h.start_postfix(with_milter=False)
        print(f"postfix up on {pf.port} in {time.monotonic() - t0:.2f} s")
        r = h.swaks(xclient_addr="192.0.2.7")
        print(r)
        print(h.wait_for_message(r.queue_id))
        pf.reload_with_milter(h.milter_port)
        time.sleep(0.5)
        r = h.swaks(xclient_addr="192.0.2.7")
        print(r)
    finally:
        h.close()
