"""End-to-end harness: a private, real Sendmail in front of rdns-milter and the DNS fixture.

Reuses postfix_harness (temp dir, DNS fixture, milter, swaks, assertions); only the MTA differs.
Debian's sendmail-bin conflicts with postfix, so it is never installed: its .debs are unpacked
by contrib/sendmail/fetch-sendmail.sh into a cache directory and run from there.

    h = SendmailHarness()
    h.start_dns()
    h.start_sendmail()               # sendmail -bD on a free 127.0.0.1 port, milter port reserved
    h.start_milter()
    r = h.swaks(local_interface="127.0.0.2")   # no XCLIENT in Sendmail: real loopback sources
    headers = h.queued_headers(queue_id(r))
    h.close()

Sendmail queues only (confDELIVERY_MODE queueonly): a message the milter let through is a
qf*/df* pair in the queue directory, with the milter's headers in the qf file.

Environment: as postfix_harness, plus RDNS_SENDMAIL_CACHE (default
/var/cache/rdns-milter-tests/sendmail) for the unpacked packages.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess

import postfix_harness as ph

FETCH = os.path.join(ph.SOURCE_ROOT, "contrib", "sendmail", "fetch-sendmail.sh")
CONTRIB_MC = os.path.join(ph.SOURCE_ROOT, "contrib", "sendmail", "rdns-milter.mc")
CACHE = os.environ.get("RDNS_SENDMAIL_CACHE", "/var/cache/rdns-milter-tests/sendmail")
BINARY = "usr/libexec/sendmail/sendmail"
CF_DIR = "usr/share/sendmail/cf"


def obtain_sendmail() -> tuple[str | None, str]:
    """(root of the unpacked packages, "") or (None, why sendmail cannot be had here)."""
    if os.geteuid() != 0:
        return None, "not root (apt-get download and sendmail -bD need root)"
    for program in ("m4", "unshare", "apt-get", "dpkg"):
        if not shutil.which(program):
            return None, f"missing program: {program}"
    proc = subprocess.run(["sh", FETCH, CACHE], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=120)
    if proc.returncode != 0:
        return None, f"{FETCH} failed ({proc.returncode}): {proc.stderr.strip()}"
    root = proc.stdout.strip().splitlines()[-1]
    ldd = subprocess.run(["ldd", os.path.join(root, BINARY)], capture_output=True, text=True)
    missing = [line.split()[0] for line in ldd.stdout.splitlines() if "not found" in line]
    if missing:
        return None, f"sendmail needs {', '.join(missing)} (install libwrap0)"
    return root, ""


def contrib_filter_line(milter_port: int) -> str:
    """The INPUT_MAIL_FILTER line we ship, pointed at the test milter's port."""
    with open(CONTRIB_MC, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.startswith("INPUT_MAIL_FILTER(")]
    if len(lines) != 1:
        raise ph.HarnessError(f"{CONTRIB_MC}: expected one INPUT_MAIL_FILTER line: {lines}")
    if "S=inet:8894@127.0.0.1" not in lines[0]:
        raise ph.HarnessError(f"{CONTRIB_MC}: the socket is not inet:8894@127.0.0.1")
    return lines[0].replace("inet:8894@", f"inet:{milter_port}@")


MC = """\
divert(-1)
# Written by tests/e2e/sendmail_harness.py: a queue-only Sendmail on 127.0.0.1:{port}.
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
VERSIONID(`rdns-milter e2e')dnl
OSTYPE(`linux')dnl
define(`confDELIVERY_MODE', `queueonly')dnl
define(`QUEUE_DIR', `{dir}/queue')dnl
define(`confPID_FILE', `{dir}/sendmail.pid')dnl
define(`STATUS_FILE', `{dir}/statistics')dnl
define(`confHOST_STATUS_DIRECTORY', `')dnl
define(`confSERVICE_SWITCH_FILE', `{dir}/service.switch')dnl
define(`ALIAS_FILE', `')dnl
define(`confCW_FILE', `-o {dir}/local-host-names')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confTO_IDENT', `0')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confMILTER_LOG_LEVEL', `9')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`promiscuous_relay')dnl
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA, Addr=127.0.0.1, Port={port}')dnl
{filter_line}
MAILER(`smtp')dnl
"""


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the child when the test process dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def queue_id(result: ph.SmtpResult) -> str | None:
    """Sendmail's queue id from its reply to DATA: "250 2.0.0 <id> Message accepted ..."."""
    m = re.search(r"^\s*<- +250 2\.0\.0 ([0-9A-Za-z]+) Message accepted", result.transcript,
                  re.MULTILINE)
    return m.group(1) if m else None


class Sendmail:
    """A private sendmail -bD under `directory`; it never delivers, it only queues."""

    def __init__(self, directory: str, root: str):
        self.dir = directory
        self.root = root
        self.queue = os.path.join(directory, "queue")
        self.cf = os.path.join(directory, "sendmail.cf")
        self.log_path = os.path.join(directory, "sendmail.log")
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    def write_config(self, port: int, milter_port: int) -> None:
        os.makedirs(self.queue, mode=0o700, exist_ok=True)
        # Note: "hosts files" keeps sendmail's own name lookups (the client's name, the
        # recipient's domain) off the DNS: nothing leaves the machine.
        with open(os.path.join(self.dir, "service.switch"), "w", encoding="ascii") as f:
            f.write("hosts files\naliases files\n")
        mc = os.path.join(self.dir, "sendmail.mc")
        with open(mc, "w", encoding="ascii") as f:
            f.write(MC.format(cf=os.path.join(self.root, CF_DIR), dir=self.dir, port=port,
                              filter_line=contrib_filter_line(milter_port)))
        proc = subprocess.run(["m4", mc], capture_output=True, text=True, errors="replace")
        if proc.returncode != 0 or "ERROR" in proc.stderr:
            raise ph.HarnessError(f"m4 {mc} failed ({proc.returncode}):\n{proc.stderr}")
        with open(self.cf, "w", encoding="ascii") as f:
            f.write(proc.stdout)
        self.port = port

    def start(self, milter_port: int, timeout: float = 10) -> None:
        binary = os.path.join(self.root, BINARY)
        for _ in range(3):
            self.write_config(ph.free_port(), milter_port)
            # Note: an unqualified host name makes sendmail sleep 60 s at start looking for a
            # domain; a private UTS namespace gives it "mx.test" without touching the host's.
            # -X logs the SMTP traffic of every connection (diagnostics).
            command = (f"hostname mx.test && exec {binary} -C {self.cf} -bD "
                       f"-X {os.path.join(self.dir, 'traffic.log')}")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(["unshare", "--uts", "sh", "-c", command],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             preexec_fn=_die_with_parent)
            port = self.port
            if ph.wait_for(lambda: self.proc.poll() is not None or ph.port_accepts(port),
                           timeout):
                if self.proc.poll() is None:
                    return
            self.stop()
        raise ph.HarnessError(f"sendmail never listened:\n{ph.tail(self.log_path)}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def queued(self) -> list[str]:
        """Queue ids of the messages in the queue (one qf file each)."""
        return sorted(n[2:] for n in os.listdir(self.queue) if n.startswith("qf"))

    def queued_headers(self, qid: str) -> list[tuple[str, str]]:
        """(name, value) of each header in queue file qf<qid>, continuation lines joined with
        "\\n". A qf header line is "H??<flags>?Name: value" (the ?..? part optional)."""
        path = os.path.join(self.queue, f"qf{qid}")
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            raise ph.HarnessError(f"no queue file {path}; queue holds {self.queued()}")
        headers: list[tuple[str, str]] = []
        in_header = False
        for line in lines:
            if line.startswith("H"):
                m = re.match(r"H(?:\?[^?]*\?)?([^:]+):[ \t]*(.*)$", line)
                if m:
                    headers.append((m.group(1), m.group(2)))
                in_header = m is not None
            elif line[:1] in (" ", "\t") and in_header:
                name, value = headers[-1]
                headers[-1] = (name, value + "\n" + line)
            else:
                in_header = False
        return headers


class SendmailHarness(ph.Harness):
    """ph.Harness with Sendmail in place of Postfix."""

    def __init__(self, root: str):
        super().__init__(prefix="rdns-e2e-sendmail.")
        self.sendmail_root = root
        self.sendmail: Sendmail | None = None

    def start_sendmail(self) -> Sendmail:
        directory = os.path.join(self.root, "sendmail")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.sendmail = Sendmail(directory, self.sendmail_root)
        self.sendmail.start(self.milter_port)
        return self.sendmail

    def swaks(self, *, local_interface: str, **kwargs) -> ph.SmtpResult:
        """swaks from the loopback address `local_interface` (Sendmail has no XCLIENT)."""
        if self.sendmail is None or self.sendmail.port is None:
            raise ph.HarnessError("start_sendmail() first")
        kwargs["extra"] = ["--local-interface", local_interface] + kwargs.get("extra", [])
        return ph.swaks(self.sendmail.port, **kwargs)

    def diagnostics(self) -> str:
        parts = [super().diagnostics()]
        if self.sendmail is not None:
            parts.append("--- sendmail output (tail) ---\n" + ph.tail(self.sendmail.log_path, 20))
            parts.append("--- sendmail SMTP traffic (tail) ---\n"
                         + ph.tail(os.path.join(self.sendmail.dir, "traffic.log"), 30))
        return "\n".join(parts)

    def close(self) -> None:
        if self.sendmail is not None:
            try:
                self.sendmail.stop()
            except Exception as e:  # keep tearing down
                print(f"sendmail teardown error: {e!r}")
        super().close()
