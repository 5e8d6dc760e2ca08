"""Hostile protocol input too large for miltertest (10 kB and more), sent with milter_client.

run(port) runs every case against a running rdns-milter and returns [(name, error or None)].
Checks: every step gets an answer (no crash, no hang), any added header is printable ASCII with
CR/LF only as folding, nothing injected; afterwards a normal session still works.
"""

from __future__ import annotations

import re

import milter_client as mc
from postfix_harness import split_ar

GOOD_IP = "192.0.2.7"
NO_PTR_IP = "192.0.2.12"
PASS_IPREV = b"iprev=pass smtp.remote-ip=192.0.2.7 (good.test)"
IPREV = {GOOD_IP: re.compile(re.escape(PASS_IPREV) + b"$"),
         NO_PTR_IP: re.compile(rb"iprev=fail smtp\.remote-ip=192\.0\.2\.12(?!\d)")}

BIG = b"A" * 10240
VARIANTS = {
    "10 kB": BIG,
    "10 kB CRLF injection": b"x\r\nX-Injected: yes\r\n" + BIG,
    "embedded NUL": b"evil\0X-Injected: yes",
    "60 kB": b"B" * 60000,
    "control bytes": bytes(range(1, 32)) + b"\x7f\xff",
    "quotes": b'x"; iprev=pass smtp.remote-ip=192.0.2.12 (forged); x="' * 200,
}
ANSWERS = (mc.CONTINUE, mc.ACCEPT, mc.REJECT, mc.TEMPFAIL, mc.REPLYCODE, mc.SKIP, mc.DISCARD)


# Note: a NUL inside the host name or a macro value is not SMTP input: the MTA builds those
# packets and cannot put a NUL there. libmilter also mis-parses them: a bad family byte drops
# the connection, and a macro packet with an odd number of strings makes smfi_getsymval()
# read past the array (SIGSEGV in strcmp, seen with libmilter 8.17.1).
MTA_BUILT = ("host", "auth", "j")


class CaseFailure(AssertionError):
    pass


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise CaseFailure(msg)


def answered(step: str, reply: mc.Reply | None) -> mc.Reply | None:
    check(reply is None or reply.code in ANSWERS, f"{step}: unexpected reply {reply!r}")
    return reply


# RFC 8601 §2.2: authserv-id = value = token / quoted-string (RFC 2045): a token has no
# space, control or tspecial character.
AUTHSERV_ID = re.compile(rb'^(?:[^\x00-\x20\x7f()<>@,;:\\"/\[\]?=]+|"(?:[^"\\\r\n]|\\.)*")$')


def check_header(value: bytes, what: str, ip: str, authserv_id: bytes | None = b"mx.test"
                 ) -> None:
    """No NUL, CR/LF only as folding, printable ASCII, a valid authserv-id (`authserv_id` if
    given) and exactly one iprev result, the right one for `ip`."""
    unfolded = re.sub(rb"\r?\n[ \t]", b"", value)
    check(b"\0" not in value, f"{what}: NUL in added header {value[:200]!r}")
    check(not re.search(rb"[\r\n]", unfolded),
          f"{what}: CR/LF outside folding in added header {value[:200]!r}")
    check(all(0x20 <= c < 0x7F or c == 0x09 for c in unfolded),
          f"{what}: non-printable byte in added header {value[:200]!r}")
    parts = split_ar(unfolded)
    sid = re.sub(rb"\s+", b"", parts[0])
    check(AUTHSERV_ID.match(sid) is not None and len(sid) <= 255,
          f"{what}: authserv-id {sid[:80]!r} (length {len(sid)}) is not an RFC 8601 "
          "token/quoted-string of reasonable length")
    if authserv_id is not None:
        check(sid == authserv_id, f"{what}: authserv-id {sid[:80]!r}, expected {authserv_id!r}")
    iprevs = [p for p in parts[1:] if p.startswith(b"iprev=")]
    check(len(iprevs) == 1, f"{what}: {len(iprevs)} iprev results in {unfolded[:300]!r}")
    check(IPREV[ip].match(iprevs[0]) is not None,
          f"{what}: iprev result {iprevs[0][:120]!r} is wrong for {ip}")


def session(port: int, ip: str, where: str, v: bytes) -> None:
    with mc.MilterClient(port) as c:
        c.negotiate()
        c.macro(b"C", {b"j": v if where == "j" else b"mx.test", b"_": b"client [" + ip.encode()
                       + b"]"})
        answered("connect", c.connect(v if where == "host" else b"[" + ip.encode() + b"]", ip))
        answered("helo", c.helo(v if where == "helo" else b"[" + ip.encode() + b"]"))
        macros = {b"i": b"QOVERSIZE"}
        if where == "auth":
            macros[b"{auth_authen}"] = v
        c.macro(b"M", macros)
        answered("mail", c.mail(b"<" + v + b"@example.org>" if where == "mail"
                                else b"<sender@example.org>",
                                *([v, b"SIZE=1", b"BODY=8BITMIME"] if where == "mailargs"
                                  else [])))
        r = answered("rcpt", c.rcpt(b"<postmaster+" + v + b"@example.net>" if where == "rcpt"
                                    else b"<postmaster@example.net>"))
        if r is not None and r.code != mc.CONTINUE:
            return
        answered("data", c.data())
        answered("header", c.header(b"Subject", v if where == "header" else b"x"))
        answered("header", c.header(b"Authentication-Results",
                                    b"mx.test; " + v if where == "header" else b"other; none"))
        answered("eoh", c.eoh())
        answered("body", c.body(b"body\r\n"))
        final = c.eom()
        check(final.code in (mc.CONTINUE, mc.ACCEPT, mc.TEMPFAIL, mc.REJECT, mc.REPLYCODE,
                             mc.DISCARD), f"eom: unexpected reply {final!r}")
        added = c.added_headers(b"Authentication-Results")
        check(len(added) == 1, f"{len(added)} Authentication-Results headers added")
        check_header(added[0], "added header", ip, None if where == "j" else b"mx.test")


def normal_session(port: int) -> None:
    with mc.MilterClient(port) as c:
        c.negotiate()
        c.macro(b"C", {b"j": b"mx.test"})
        check(c.connect(b"[192.0.2.7]", GOOD_IP).code == mc.CONTINUE, "connect")
        c.helo(b"[192.0.2.7]")
        c.macro(b"M", {b"i": b"QNORMAL"})
        check(c.mail(b"<sender@example.org>").code == mc.CONTINUE, "mail")
        check(c.rcpt(b"<user@example.net>").code == mc.CONTINUE, "rcpt")
        c.data()
        c.header(b"Subject", b"x")
        c.eoh()
        c.body(b"body\r\n")
        final = c.eom()
        check(final.code in (mc.CONTINUE, mc.ACCEPT), f"eom {final!r}")
        added = c.added_headers(b"Authentication-Results")
        check(len(added) == 1, f"{len(added)} Authentication-Results headers added")
        check_header(added[0], "added header", GOOD_IP)


def run(port: int, wheres=("helo", "mail", "mailargs", "rcpt", "host", "header", "auth")):
    results: list[tuple[str, str | None]] = []
    for where in wheres:
        for vname, v in VARIANTS.items():
            if where in MTA_BUILT and b"\0" in v:
                continue
            for ip in (GOOD_IP, NO_PTR_IP):
                name = f"{where}: {vname} from {ip}"
                try:
                    session(port, ip, where, v)
                    results.append((name, None))
                except (CaseFailure, mc.ProtocolError, OSError) as e:
                    results.append((name, f"{type(e).__name__}: {e}"))
    try:
        normal_session(port)
        results.append(("normal session afterwards", None))
    except (CaseFailure, mc.ProtocolError, OSError) as e:
        results.append(("normal session afterwards", f"{type(e).__name__}: {e}"))
    return results
