"""Issue 14: hostile input, byte for byte.

One table of hostile HELO / MAIL FROM / RCPT / header input. Each row is sent twice where it
can be: through a real Postfix (raw SMTP bytes, XCLIENT for the client address) and
straight to the milter with milter_client (exact bytes, for what Postfix refuses to pass on:
CR, LF, NUL, lines over Postfix's limits; miltertest/hostile_exact.lua sends the CR/LF/NUL rows
through miltertest too, run by run_miltertest.py). For each, the exact bytes of the
Authentication-Results we add (or the exact SMTP reply) are asserted: no CR/LF/NUL or unescaped
quote reaches a header, nothing crashes, and each session is logged exactly once (one verdict
line with the session's queue id).

Every message goes to postmaster@ (exempt from rejects) so that the header is added whatever
the verdict; the verdict itself is in the header and the log.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_hostile.py [-k PATTERN]
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import milter_client as mc  # noqa: E402
import postfix_harness as ph  # noqa: E402

GOOD = "192.0.2.7"
IPREV = b"mx.test; iprev=pass smtp.remote-ip=192.0.2.7 (good.test)"
SPF_NONE = b"spf=none smtp.mailfrom=example.org"
BIG = "A" * 10240


@dataclasses.dataclass
class Row:
    name: str
    header: bytes  # the exact Authentication-Results value we add (unfolded)
    helo: bytes = b"[192.0.2.7]"
    sender: bytes = b"<sender@example.org>"
    rcpts: int = 1
    incoming_ar: bytes | None = None
    warnings: tuple[str, ...] = ()  # "hostile HELO" / "hostile MAIL FROM": logged once each
    milter: bool = True  # sent straight to the milter (milter_client)
    postfix: bool = True  # Postfix passes it on
    # What Postfix answers instead of passing it on: (command, exact reply).
    postfix_reply: tuple[str, bytes] | None = None


GOOD_FULL = IPREV + b'; x-helo=pass smtp.helo="[192.0.2.7]"; ' + SPF_NONE


def helo_ar(result: bytes) -> bytes:
    return IPREV + b"; " + result + b"; " + SPF_NONE


# Note: libmilter hands the filter C strings, so a NUL ends the value there ("evil"). Bytes
# outside printable ASCII are shown as "?", a value is cut at 255 bytes, and one with anything
# but token characters is a quoted-string with \" and \\ escaped (RFC 8601 §2.2, RFC 5322).
TABLE = [
    Row("helo CR LF injection", helo=b"evil.example\r\nX-Injected: yes", postfix=False,
        header=helo_ar(b'x-helo=fail smtp.helo="evil.example??X-Injected: yes" (syntax)'),
        warnings=("hostile HELO",)),
    Row("helo bare LF", helo=b"evil.example\nAuthentication-Results: mx.test; iprev=pass",
        postfix=False, warnings=("hostile HELO",),
        header=helo_ar(b'x-helo=fail smtp.helo="evil.example?Authentication-Results: mx.test;'
                       b' iprev=pass" (syntax)')),
    Row("helo NUL", helo=b"evil\0.example", postfix=False,
        header=helo_ar(b"x-helo=fail smtp.helo=evil (not-fqdn)")),
    Row("helo 10 kB", helo=BIG.encode(), warnings=("hostile HELO",),
        header=helo_ar(b"x-helo=fail smtp.helo=" + b"A" * 255 + b" (syntax)")),
    Row("helo UTF-8", helo="mäil.example".encode(),
        header=helo_ar(b'x-helo=fail smtp.helo="m??il.example" (syntax)')),
    Row("helo [IPv6:::1]", helo=b"[IPv6:::1]",
        header=helo_ar(b'x-helo=fail smtp.helo="[IPv6:::1]" (mismatch)')),
    Row("helo [300.1.1.1]", helo=b"[300.1.1.1]",
        header=helo_ar(b'x-helo=fail smtp.helo="[300.1.1.1]" (syntax)')),
    Row("helo [IPv6:zz]", helo=b"[IPv6:zz]",
        header=helo_ar(b'x-helo=fail smtp.helo="[IPv6:zz]" (syntax)')),
    Row("helo quote", helo=b'x"; iprev=pass (forged) ; x="',
        header=helo_ar(b'x-helo=fail smtp.helo="x\\"; iprev=pass (forged) ; x=\\"" (syntax)')),
    Row("helo forging log fields", helo=b'x" action=accept stage=connect reply="',
        header=helo_ar(b'x-helo=fail smtp.helo="x\\" action=accept stage=connect reply=\\""'
                       b" (syntax)")),
    Row("mail from CR LF", sender=b"<a\r\nX-Injected: yes@example.org>", postfix=False,
        header=GOOD_FULL, warnings=("hostile MAIL FROM",)),
    Row("mail from NUL", sender=b"<a\0b@example.org>", postfix=False,
        header=IPREV + b'; x-helo=pass smtp.helo="[192.0.2.7]"; spf=none smtp.mailfrom=a'),
    Row("mail from 10 kB", sender=b"<" + BIG.encode() + b"@example.org>", header=GOOD_FULL,
        warnings=("hostile MAIL FROM",),
        postfix_reply=("MAIL", b"501 5.1.7 Bad sender address syntax")),
    Row("mail from UTF-8", sender="<jörg@example.org>".encode(), header=GOOD_FULL),
    Row("empty mail from, hostile helo", helo=b'x"(; iprev=pass) \\', sender=b"<>",
        header=IPREV + b'; x-helo=fail smtp.helo="x\\"(; iprev=pass) \\\\" (syntax); '
        b'spf=none smtp.mailfrom="x\\"(; iprev=pass) \\\\"'),
    Row("1000 RCPTs", rcpts=1000, header=GOOD_FULL),
    # Note: libmilter closes the connection on a packet over 64 KiB (MILTER_MAX_DATA_SIZE),
    # so the milter alone gets 60 kB; Postfix passes the 100 kB header on.
    Row("60 kB incoming Authentication-Results", postfix=False, header=GOOD_FULL,
        incoming_ar=b"mx.test; iprev=pass " + b"x" * 60000),
    Row("100 kB incoming Authentication-Results", milter=False, header=GOOD_FULL,
        incoming_ar=b"mx.test; iprev=pass " + b"x" * 100000),
]


def unfold(value: bytes) -> bytes:
    return re.sub(rb"\r?\n[ \t]+", b" ", value).strip()


class Hostile(ph.HarnessAsserts, unittest.TestCase):
    h: ph.Harness

    @classmethod
    def setUpClass(cls):
        cls.h = ph.Harness(prefix="rdns-e2e-hostile.")
        try:
            cls.h.start_dns()
            cls.h.start_postfix()
            cls.h.start_milter()
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def tearDown(self):
        self.assertTrue(self.h.milter.alive(), "the milter died" + self.context())

    def check_clean(self, value: bytes, what: str) -> None:
        unfolded = unfold(value)
        self.assertNotIn(b"\0", value, what)
        self.assertIsNone(re.search(rb"[\r\n]", unfolded), what)
        self.assertTrue(all(0x20 <= c < 0x7F for c in unfolded), f"{what}: {unfolded!r}")
        # Every quote is either escaped or opens/closes a quoted string: an even count of
        # unescaped quotes, none inside a comment.
        self.assertEqual(len(re.findall(rb'(?<!\\)"', unfolded)) % 2, 0, f"{what}: {unfolded!r}")

    def logged_once(self, since: int, needle: str, what: str) -> None:
        """One verdict line for the session, whose fields the client's text cannot add to:
        read with quoted values ("..." with \\-escapes), it has one action= and one stage=."""
        lines = [l for l in self.h.milter.log_since(since).splitlines() if needle in l
                 and " iprev=" in l]
        self.assertEqual(len(lines), 1, f"{what}: verdict lines for {needle}:\n"
                         + "\n".join(lines) + self.context(since=since))
        keys = re.findall(r' ([a-z-]+)=(?:"(?:[^"\\]|\\.)*"|[^ "]*)(?= |$)',
                          lines[0].split(": ", 2)[-1])
        self.assertEqual((keys.count("action"), keys.count("stage")), (1, 1),
                         f"{what}: fields {keys} in {lines[0]!r}")
        self.assertTrue(re.fullmatch(r'(?:[^"]|"(?:[^"\\]|\\.)*")*', lines[0]),
                        f"{what}: unbalanced quotes in {lines[0]!r}")

    def warned_once(self, since: int, row: Row) -> None:
        log = self.h.milter.log_since(since)
        for what in ("hostile HELO", "hostile MAIL FROM"):
            want = 1 if what in row.warnings else 0
            self.assertEqual(log.count(what), want, f"{row.name}: {what!r} lines:\n{log}")
        for line in log.splitlines():
            self.assertTrue(all(0x20 <= ord(c) < 0x7F for c in line.split(": ", 1)[-1]),
                            f"{row.name}: unprintable log line {line!r}")

    # ----- straight to the milter ------------------------------------------------------------

    def milter_session(self, row: Row, queue_id: bytes) -> bytes:
        with mc.MilterClient(self.h.milter_port) as c:
            c.negotiate()
            c.macro(b"C", {b"j": b"mx.test"})
            self.assertEqual(c.connect(b"[192.0.2.7]", GOOD).code, mc.CONTINUE)
            c.helo(row.helo)
            c.macro(b"M", {b"i": queue_id})
            self.assertEqual(c.mail(row.sender).code, mc.CONTINUE)
            for i in range(row.rcpts):
                r = c.rcpt(b"<postmaster@example.net>" if i == 0 else
                           f"<user{i}@example.net>".encode())
                self.assertIn(r.code, (mc.CONTINUE, mc.REPLYCODE), r)
            c.data()
            c.header(b"Subject", b"hostile")
            if row.incoming_ar is not None:
                c.header(b"Authentication-Results", row.incoming_ar)
            c.eoh()
            c.body(b"body\r\n")
            final = c.eom()
            self.assertIn(final.code, (mc.CONTINUE, mc.ACCEPT), final)
            added = c.added_headers(b"Authentication-Results")
            self.assertEqual(len(added), 1, c.modifications)
            if row.incoming_ar is not None:
                removed = [m for m in c.modifications if m.kind == "chgheader"
                           and m.name.lower() == b"authentication-results" and m.value == b""]
                self.assertEqual(len(removed), 1, "the forged header was not removed")
            return added[0]

    def test_milter_protocol(self):
        for n, row in enumerate(TABLE):
            if not row.milter:
                continue
            with self.subTest(row=row.name):
                since = self.h.milter.log_size()
                qid = f"QHOSTILE{n:02d}"
                value = self.milter_session(row, qid.encode())
                self.check_clean(value, row.name)
                self.assertEqual(unfold(value), row.header, row.name)
                self.logged_once(since, qid, row.name)
                self.warned_once(since, row)


    # ----- through Postfix ----------------------------------------------------------------------

    def postfix_session(self, row: Row, tag: str) -> tuple[str, bytes, str | None]:
        """(stage, reply, queue id): stage "queued" or the command Postfix refused."""
        with RawSmtp(self.h.postfix.port) as s:
            s.reply()
            for line in (b"EHLO client.example.org", b"XCLIENT ADDR=" + GOOD.encode()):
                s.command(line)
            r = s.command(b"EHLO " + row.helo)
            if not r.startswith(b"250"):
                return "EHLO", r, None
            r = s.command(b"MAIL FROM:" + row.sender)
            if not r.startswith(b"250"):
                return "MAIL", r, None
            rcpts = [b"RCPT TO:<postmaster@example.net>"] + [
                f"RCPT TO:<user{i}@example.net>".encode() for i in range(1, row.rcpts)]
            replies = s.pipelined(rcpts)  # Postfix offers PIPELINING
            refused = [r for r in replies if not r.startswith(b"250")]
            if refused:
                return "RCPT", refused[0], None
            r = s.command(b"DATA")
            if not r.startswith(b"354"):
                return "DATA", r, None
            head = f"Subject: hostile\r\nX-Case: {tag}\r\n".encode()
            if row.incoming_ar is not None:
                head += b"Authentication-Results: " + row.incoming_ar + b"\r\n"
            r = s.command(head + b"\r\nbody\r\n.")
            m = re.search(rb"queued as ([0-9A-Za-z]+)", r)
            if not r.startswith(b"250") or not m:
                return "EOM", r, None
            return "queued", r, m.group(1).decode()

    def test_postfix(self):
        for n, row in enumerate(TABLE):
            if not row.postfix:
                continue
            with self.subTest(row=row.name):
                since = self.h.milter.log_size()
                stage, reply, qid = self.postfix_session(row, f"H{n:02d}")
                if row.postfix_reply is not None:
                    self.assertEqual((stage, reply), row.postfix_reply, row.name)
                    continue
                self.assertEqual(stage, "queued", f"{row.name}: {reply!r}" + self.context())
                eml = self.h.wait_for_message(qid)
                ars = [v for n_, v in ph.message_headers(eml)
                       if n_.lower() == "authentication-results"]
                self.assertEqual(len(ars), 1, eml)
                value = ars[0].encode("utf-8", "surrogateescape")
                self.check_clean(value, row.name)
                self.assertEqual(unfold(value), row.header, row.name)
                self.logged_once(since, "client=unknown[192.0.2.7]", row.name)
                self.warned_once(since, row)


class RawSmtp:
    """SMTP with exact bytes (smtplib encodes commands as ASCII)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection((ph.HOST, port), timeout=30)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; partial {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self) -> bytes:
        """One reply, its lines joined by a space (continuation lines drop their code)."""
        lines = [self._line()]
        while lines[-1][3:4] == b"-":
            lines.append(self._line())
        return b" ".join([lines[0][:3]] + [l[4:] for l in lines])

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def pipelined(self, lines: list[bytes]) -> list[bytes]:
        self.sock.sendall(b"".join(l + b"\r\n" for l in lines))
        return [self.reply() for _ in lines]


def main() -> int:
    return ph.run_tests("hostile", __name__, (ph.POSTFIX, "knotd", "kdig", "keymgr", "script"))


if __name__ == "__main__":
    sys.exit(main())
