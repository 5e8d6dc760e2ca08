"""A tiny authoritative DNS server that misbehaves on purpose, for the fault matrix.

Python 3 standard library only (dnspython is not assumed). It answers on UDP and TCP at
127.0.0.1:PORT and logs one line per query ("udp|tcp QNAME QTYPE") to LOG:

    python3 fault_dns.py PORT LOG

What it serves (test_faults.py puts stub-zones for these names into the milter's unbound.conf):

| name | answer |
|---|---|
| 160.2.0.192.in-addr.arpa | REFUSED (any type) |
| 162.2.0.192.in-addr.arpa PTR | over UDP: TC=1 and no answer; over TCP: PTR tc-host.fault.test |
| 163.2.0.192.in-addr.arpa PTR | 100 PTR records p1..p100.fault.test (TC over UDP when too big) |
| 164.2.0.192.in-addr.arpa PTR | one PTR whose name is 255 octets in wire form (LONG_NAME) |
| tc-host.fault.test A | 192.0.2.162 |
| p1..p100.fault.test A | 192.0.2.200 (none matches 192.0.2.163) |
| LONG_NAME A | 192.0.2.164 |
| anything under err.rbl.test | SERVFAIL (a DNS list answering errors) |
| any other name under fault.test | NOERROR, no data, SOA in the authority section |
"""

from __future__ import annotations

import socket
import struct
import sys
import threading

A, NS, SOA, PTR, OPT = 1, 2, 6, 12, 41
NOERROR, SERVFAIL, REFUSED = 0, 2, 5

# 3 labels of 63 octets (64 with the length byte) + one of 50 (51) + fault.test. (12) = 255.
LONG_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 50, "fault", "test"])
PTR_COUNT = 100


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def parse_query(data: bytes) -> tuple[int, int, str, int, bytes, int | None]:
    """(id, flags, qname lower-cased, qtype, raw question, EDNS payload size or None)."""
    qid, flags, qdcount, _an, _ns, arcount = struct.unpack("!6H", data[:12])
    if qdcount != 1:
        raise ValueError("one question expected")
    pos, labels = 12, []
    while data[pos]:
        n = data[pos]
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    pos += 1
    qtype = struct.unpack("!H", data[pos:pos + 2])[0]
    question = data[12:pos + 4]
    pos += 4
    edns = None
    if arcount and pos + 11 <= len(data) and data[pos] == 0:
        rtype, rclass = struct.unpack("!HH", data[pos + 1:pos + 5])
        if rtype == OPT:
            edns = max(rclass, 512)
    return qid, flags, ".".join(labels).lower(), qtype, question, edns


def rr(name: str, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa_rr() -> bytes:
    rdata = encode_name("ns.fault.test") + encode_name("hostmaster.fault.test") + struct.pack(
        "!5I", 1, 3600, 600, 86400, 5)
    return rr("fault.test", SOA, rdata, 5)


def answer_for(qname: str, qtype: int, tcp: bool) -> tuple[int, list[bytes], list[bytes], bool]:
    """(rcode, answer RRs, authority RRs, force TC)."""
    if qname.endswith("err.rbl.test"):
        return SERVFAIL, [], [], False
    if qname == "160.2.0.192.in-addr.arpa":
        return REFUSED, [], [], False
    if qname == "162.2.0.192.in-addr.arpa" and qtype == PTR:
        if not tcp:
            return NOERROR, [], [], True
        return NOERROR, [rr(qname, PTR, encode_name("tc-host.fault.test"))], [], False
    if qname == "163.2.0.192.in-addr.arpa" and qtype == PTR:
        return NOERROR, [rr(qname, PTR, encode_name(f"p{i}.fault.test"))
                         for i in range(1, PTR_COUNT + 1)], [], False
    if qname == "164.2.0.192.in-addr.arpa" and qtype == PTR:
        return NOERROR, [rr(qname, PTR, encode_name(LONG_NAME))], [], False
    if qtype == A:
        address = {"tc-host.fault.test": "192.0.2.162", LONG_NAME: "192.0.2.164"}.get(qname)
        if address is None and qname.startswith("p") and qname.endswith(".fault.test"):
            number = qname[1:-len(".fault.test")]
            if number.isdigit() and 1 <= int(number) <= PTR_COUNT:
                address = "192.0.2.200"
        if address is not None:
            return NOERROR, [rr(qname, A, socket.inet_aton(address))], [], False
    if qtype == SOA and qname == "fault.test":
        return NOERROR, [soa_rr()], [], False
    if qtype == NS and qname == "fault.test":
        return NOERROR, [rr(qname, NS, encode_name("ns.fault.test"))], [], False
    # Note: no NXDOMAIN anywhere: every label above an existing name is an empty non-terminal,
    # and a NXDOMAIN there would cut qname minimisation short.
    return NOERROR, [], [soa_rr()], False


def respond(data: bytes, tcp: bool, log) -> bytes | None:
    try:
        qid, flags, qname, qtype, question, edns = parse_query(data)
    except (ValueError, IndexError, struct.error):
        return None
    log(f"{'tcp' if tcp else 'udp'} {qname} {qtype}")
    rcode, answers, authority, truncate = answer_for(qname, qtype, tcp)
    opt = b"\0" + struct.pack("!HHIH", OPT, 1232, 0, 0) if edns else b""
    limit = 65535 if tcp else (edns or 512)
    body = b"".join(answers) + b"".join(authority)
    if not tcp and (truncate or 12 + len(question) + len(body) + len(opt) > limit):
        answers, authority, truncate = [], [], True
    aa = 0x0400 if rcode != REFUSED else 0
    out_flags = 0x8000 | (flags & 0x0100) | aa | (0x0200 if truncate else 0) | rcode
    header = struct.pack("!6H", qid, out_flags, 1, len(answers), len(authority),
                         1 if opt else 0)
    return header + question + b"".join(answers) + b"".join(authority) + opt


def serve_tcp_client(conn: socket.socket, log) -> None:
    with conn:
        conn.settimeout(10)
        try:
            while True:
                head = conn.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                (length,) = struct.unpack("!H", head)
                data = conn.recv(length, socket.MSG_WAITALL)
                reply = respond(data, True, log)
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def main(argv: list[str]) -> int:
    port, log_path = int(argv[1]), argv[2]
    log_file = open(log_path, "a", buffering=1, encoding="ascii")
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            log_file.write(line + "\n")

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind(("127.0.0.1", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)

    def accept_loop() -> None:
        while True:
            conn, _ = tcp.accept()
            threading.Thread(target=serve_tcp_client, args=(conn, log), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    log("ready")
    while True:
        data, peer = udp.recvfrom(4096)
        reply = respond(data, False, log)
        if reply is not None:
            udp.sendto(reply, peer)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
