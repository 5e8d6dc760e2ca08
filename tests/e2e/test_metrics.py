"""The Prometheus metrics, scraped from the real daemon while it serves milter sessions.

Like test_reload_empty_config.py: the daemon on a loopback port, no MTA, no DNS server. The
client 192.0.2.12 gets NXDOMAIN from libunbound's built-in TEST-NET zone (iprev fail, no-ptr)
and the forwarder is a dead loopback port (SPF temperror). The test scrapes /metrics before
and after two sessions and two reloads (one refused, one accepted), parses the text format and
asserts the exact deltas against what the daemon's log says happened.

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_metrics.py
"""

from __future__ import annotations

import os
import re
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import milter_client as mc  # noqa: E402
from loopback_daemon import HOST, LoopbackDaemonTest, free_port, milter_binary  # noqa: E402

CLIENT = "192.0.2.12"
SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """The samples of a text exposition: (name, labels) -> value. Fails on a malformed line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


class MetricsTest(LoopbackDaemonTest):
    prefix = "rdns-metrics."

    def setUp(self):
        self.metrics_port = free_port()
        super().setUp()

    def write_config(self) -> None:
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"metrics-listen = {HOST}:{self.metrics_port}\n"
                    f"forwarder = 127.0.0.1@{self.dead_dns}\n"
                    "trust-anchor-file =\n"
                    "query-timeout = 0.5\n"
                    "authserv-id = mx.test\n")

    def scrape(self, path: str = "/metrics") -> dict:
        with urllib.request.urlopen(f"http://{HOST}:{self.metrics_port}{path}", timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return parse(r.read().decode("utf-8"))

    def session(self, queue_id: bytes) -> str:
        """One session from CLIENT up to RCPT; returns the action the daemon logged."""
        offset = self.log_size()
        with mc.MilterClient(self.port) as c:
            c.negotiate()
            c.macro(b"C", {b"j": b"mx.test"})
            c.connect(b"[192.0.2.12]", CLIENT)
            c.helo(b"[192.0.2.12]")
            c.macro(b"M", {b"i": queue_id})
            c.mail(b"<sender@example.org>")
            c.rcpt(b"<user@example.net>")
        self.wait_for_log(offset, queue_id.decode() + ":")
        line = self.log(offset)
        self.assertIn("iprev=fail(no-ptr)", line)
        action = re.search(r"action=([a-z-]+)", line)
        self.assertIsNotNone(action, line)
        return action.group(1)

    def test_counters_move_with_what_happened(self):
        before = self.scrape()
        build = [k for k in before if k[0] == "rdns_milter_build_info"]
        self.assertEqual(len(build), 1, before)
        self.assertEqual(before[build[0]], 1.0)
        self.assertIn("version", dict(build[0][1]))

        actions = [self.session(b"QMETRIC1"), self.session(b"QMETRIC2")]
        open(self.conf, "w").close()
        self.sighup("reload refused")
        self.write_config()
        self.sighup("configuration reloaded")
        time.sleep(0.2)  # the sessions' close callbacks
        after = self.scrape()

        def delta(name: str, **labels: str) -> float:
            key = (name, frozenset(labels.items()))
            return after.get(key, 0.0) - before.get(key, 0.0)

        self.assertEqual(delta("rdns_milter_sessions_total"), 2)
        self.assertEqual(after[("rdns_milter_sessions_active", frozenset())], 0)
        for action in set(actions):
            self.assertEqual(delta("rdns_milter_actions_total", action=action),
                             actions.count(action), (actions, after))
        self.assertEqual(delta("rdns_milter_results_total", check="iprev", result="fail"), 2)
        queries = sum(v - before.get(k, 0.0) for k, v in after.items()
                      if k[0] == "rdns_milter_dns_queries_total")
        self.assertGreaterEqual(queries, 2)  # at least the two PTR queries
        self.assertGreaterEqual(delta("rdns_milter_dns_query_seconds_count"), queries)
        self.assertEqual(delta("rdns_milter_decision_seconds_count"), 2)
        self.assertEqual(delta("rdns_milter_config_reloads_total", outcome="ok"), 1)
        self.assertEqual(delta("rdns_milter_config_reloads_total", outcome="failed"), 1)

    def test_other_paths_are_not_found(self):
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://{HOST}:{self.metrics_port}/other", timeout=5)
        self.assertEqual(caught.exception.code, 404)


if __name__ == "__main__":
    if not os.access(milter_binary(), os.X_OK):
        print(f"rdns-milter binary not found: {milter_binary()} (set RDNS_MILTER)")
        sys.exit(1)
    unittest.main(verbosity=2)
