#!/usr/bin/env python3
"""Before/after load for rdns-milter daemons: interleaved phases, medians of N rounds.

sudo python3 bench/perf_compare.py --binary before=/path/a --binary after=/path/b
    [--rounds 3] [--sessions 2000] [--conc 1,8,32] [--transports unix,tcp] [--strace 500]
Unix socket and TCP; pass messages from 192.0.2.7 (FCrDNS good), HELO [ip], MAIL, RCPT, DATA,
3 headers, EOH, body, EOM. Offers the NR_* steps like Postfix does and honours what the filter
asks for. Generator: processes x threads (no GIL bottleneck across processes).
"""
import argparse, json, multiprocessing as mp, os, socket, statistics, struct, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixture"))
import postfix_harness as ph  # noqa

PROTOCOL_OFFER = 0x1FFFFF & ~0  # everything incl. NR_*, SKIP, RCPT_REJ, like Postfix 3.x
NR = {"conn": 0x1000, "helo": 0x2000, "mail": 0x4000, "rcpt": 0x8000, "data": 0x10000,
      "hdr": 0x80, "eoh": 0x40000, "body": 0x80000}
NO = {"conn": 0x1, "helo": 0x2, "mail": 0x4, "rcpt": 0x8, "body": 0x10, "hdr": 0x20, "eoh": 0x40,
      "data": 0x200}
IP = "192.0.2.7"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise RuntimeError("closed")
        b += c
    return b


def recv(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    body = recv_exact(s, n)
    return body[:1], body[1:]


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def session(addr):
    s = socket.socket(socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET)
    s.settimeout(15)
    s.connect(addr)
    if not isinstance(addr, str):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        s.sendall(pkt(b"O", struct.pack(">III", 6, 0x1FF, PROTOCOL_OFFER)))
        code, data = recv(s)
        _v, _a, proto = struct.unpack(">III", data[:12])

        def step(name, cmd, payload, macros=None):
            out = b""
            if macros:
                out += pkt(b"D", macros)
            if proto & NO.get(name, 0):
                if out:
                    s.sendall(out)
                return b"c"
            s.sendall(out + pkt(cmd, payload))
            if proto & NR.get(name, 0):
                return b"c"
            while True:
                c, _ = recv(s)
                if c != b"p":
                    return c

        ip = IP.encode()
        r = step("conn", b"C", b"[" + ip + b"]\x004" + struct.pack(">H", 25) + ip + b"\0",
                 b"Cj\0mx.test\0")
        if r != b"c": return "conn:" + r.decode()
        if step("helo", b"H", b"[" + ip + b"]\0") != b"c": return "helo"
        if step("mail", b"M", b"<sender@example.org>\0", b"Mi\0QBENCH\0") != b"c": return "mail"
        r = step("rcpt", b"R", b"<user@example.net>\0")
        if r != b"c": return "rcpt:" + r.decode()
        step("data", b"T", b"")
        for name, value in ((b"From", b"a@example.org"), (b"To", b"u@example.net"), (b"Subject", b"bench")):
            step("hdr", b"L", name + b"\0" + value + b"\0")
        step("eoh", b"N", b"")
        step("body", b"B", b"body\r\n")
        s.sendall(pkt(b"E"))
        headers = 0
        while True:
            c, _ = recv(s)
            if c in (b"h", b"i"):
                headers += 1
                continue
            if c in (b"p", b"m"):
                continue
            break
        s.sendall(pkt(b"Q"))
        return "ok" if c == b"c" and headers >= 1 else "eom:" + c.decode()
    finally:
        s.close()


def worker(addr, n, threads, q):
    lat, outcomes = [], {}
    lock = threading.Lock()
    counter = [n]

    def run():
        while True:
            with lock:
                if counter[0] <= 0:
                    return
                counter[0] -= 1
            t = time.perf_counter()
            try:
                o = session(addr)
            except Exception as e:  # noqa
                o = "error:" + type(e).__name__
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                outcomes[o] = outcomes.get(o, 0) + 1

    ts = [threading.Thread(target=run) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    q.put((lat, outcomes))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def drive(addr, sessions, conc, pid):
    procs = min(conc, 8)
    per = [conc // procs + (1 if i < conc % procs else 0) for i in range(procs)]
    counts = [sessions // procs + (1 if i < sessions % procs else 0) for i in range(procs)]
    q = mp.Queue()
    c0, t0 = cpu_ticks(pid), time.perf_counter()
    ps = [mp.Process(target=worker, args=(addr, counts[i], per[i], q)) for i in range(procs)]
    [p.start() for p in ps]
    res = [q.get() for _ in ps]
    [p.join() for p in ps]
    el = time.perf_counter() - t0
    c1 = cpu_ticks(pid)
    lat = sorted(x for r in res for x in r[0])
    outs = {}
    for r in res:
        for k, v in r[1].items():
            outs[k] = outs.get(k, 0) + v
    tick = os.sysconf("SC_CLK_TCK")
    return {"rate": len(lat) / el, "p50": lat[len(lat) // 2] * 1e3,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
            "cpu_ms_per_msg": (c1 - c0) / tick * 1e3 / max(1, len(lat)), "outcomes": outs}


def start_milter(binary, h, sock, tag):
    d = os.path.join(h.root, tag)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "rdns-milter.conf")
    with open(conf, "w") as f:
        f.write(f"authserv-id = mx.test\nunbound-config = {h.unbound_conf}\ntrusted-networks =\n"
                "query-timeout = 2\n")
    log = open(os.path.join(d, "milter.log"), "ab")
    p = subprocess.Popen([binary, "--foreground", "--socket", sock, "--config", conf,
                          *ph.as_root_args()], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--conc", default="1,8,32")
    ap.add_argument("--transports", default="unix,tcp")
    ap.add_argument("--root")
    ap.add_argument("--strace", type=int, default=0, help="sessions under strace -c -f (c=8 unix)")
    ap.add_argument("--json")
    a = ap.parse_args()
    bins = [b.split("=", 1) for b in a.binary]
    h = ph.Harness(prefix="rdns-perf.")
    results = []
    milters = {}
    try:
        h.start_dns()
        for tag, path in bins:
            port = ph.free_port()
            sock_path = os.path.join(h.root, f"{tag}.sock")
            for tr, spec, addr in (("unix", f"unix:{sock_path}", sock_path),
                                   ("tcp", f"inet:{port}@127.0.0.1", ("127.0.0.1", port))):
                if tr not in a.transports.split(","):
                    continue
                p = start_milter(path, h, spec, f"{tag}-{tr}")
                ok = ph.wait_for(lambda: p.poll() is not None or (os.path.exists(addr) if tr == "unix" else ph.port_accepts(port)), 10)
                if p.poll() is not None or not ok:
                    raise RuntimeError(f"{tag} {tr} did not start")
                milters[(tag, tr)] = (p, addr)
                drive(addr, 50, 4, p.pid)  # warm the caches
        for rnd in range(a.rounds):
            for conc in [int(c) for c in a.conc.split(",")]:
                for tr in a.transports.split(","):
                    for tag, _ in bins:
                        p, addr = milters[(tag, tr)]
                        n = a.sessions if conc > 1 else max(300, a.sessions // 4)
                        r = drive(addr, n, conc, p.pid)
                        r.update(binary=tag, transport=tr, conc=conc, round=rnd,
                                 load=os.getloadavg()[0])
                        results.append(r)
                        print(json.dumps(r), flush=True)
        if a.strace:
            for tag, _ in bins:
                p, addr = milters[(tag, "unix")]
                out = os.path.join(h.root, f"strace-{tag}.txt")
                st = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(p.pid)])
                time.sleep(1.0)
                r = drive(addr, a.strace, 8, p.pid)
                st.terminate(); st.wait()
                txt = open(out).read()
                print(f"== strace {tag}: {a.strace} sessions, {r['outcomes']}\n{txt}", flush=True)
    finally:
        for p, _ in milters.values():
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        h.close()
    # medians
    print("== medians")
    keys = sorted({(r["transport"], r["conc"], r["binary"]) for r in results})
    summary = []
    for tr, conc, tag in keys:
        rs = [r for r in results if (r["transport"], r["conc"], r["binary"]) == (tr, conc, tag)]
        m = {k: statistics.median(r[k] for r in rs) for k in ("rate", "p50", "p99", "cpu_ms_per_msg", "load")}
        m.update(transport=tr, conc=conc, binary=tag)
        summary.append(m)
        print(f"{tr:4} c={conc:<3} {tag:7} {m['rate']:8.0f} msg/s  p50 {m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms  cpu {m['cpu_ms_per_msg']:.3f} ms/msg  load {m['load']:.1f}")
    if a.json:
        json.dump({"results": results, "summary": summary}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
