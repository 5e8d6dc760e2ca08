"""Regression test (issue 10): SIGHUP with an empty or comments-only config file is refused.

An editor or a config-management tool leaves a zero-length file behind mid-write; a reload
that took it for "all defaults" dropped the forwarder, dry-run and the policy, and every later
session got the defaults' verdicts. This starts the real daemon on a loopback port, with no
MTA and no DNS server: the client 192.0.2.12 gets NXDOMAIN from libunbound's built-in
TEST-NET zone (iprev fail, no-ptr: tagged by the file, rejected by the defaults) and the
forwarder is a loopback port libunbound refuses to query, so SPF fails at once (temperror:
tempfail). It checks from the daemon's log and from milter sessions that:
  * a truncated file is refused on SIGHUP and the running configuration (dry-run) stays;
  * a file with only comments and blank lines is refused too;
  * a later SIGHUP with a real file is accepted and applied (dry-run off: tempfail, and still
    no 550 5.7.25 since the file tags no-ptr).

Run: RDNS_MILTER=build/src/rdns-milter python3 tests/e2e/test_reload_empty_config.py
"""

from __future__ import annotations

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import milter_client as mc  # noqa: E402
from loopback_daemon import LoopbackDaemonTest, milter_binary  # noqa: E402

CLIENT = "192.0.2.12"


class ReloadEmptyConfigTest(LoopbackDaemonTest):
    prefix = "rdns-reload."

    def write_config(self, dry_run: str = "yes") -> None:
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("# rdns-milter reload test\n"
                    f"dry-run = {dry_run}\n"
                    "iprev-no-ptr = tag\n"
                    f"forwarder = 127.0.0.1@{self.dead_dns}\n"
                    "trust-anchor-file =\n"
                    "query-timeout = 0.5\n"
                    "authserv-id = mx.test\n")

    def rcpt_reply(self, queue_id: bytes) -> tuple[mc.Reply, str]:
        """One session from CLIENT up to RCPT: the RCPT reply and the log lines it caused."""
        offset = self.log_size()
        with mc.MilterClient(self.port) as c:
            c.negotiate()
            c.macro(b"C", {b"j": b"mx.test"})
            c.connect(b"[192.0.2.12]", CLIENT)
            c.helo(b"[192.0.2.12]")
            c.macro(b"M", {b"i": queue_id})
            c.mail(b"<sender@example.org>")
            reply = c.rcpt(b"<user@example.net>")
        self.assertIsNotNone(reply)
        self.wait_for_log(offset, queue_id.decode() + ":")
        return reply, self.log(offset)

    def assert_dry_run_in_force(self, queue_id: bytes) -> None:
        reply, log = self.rcpt_reply(queue_id)
        self.assertEqual(reply.code, mc.CONTINUE, f"{reply!r}; log:\n{log}")
        self.assertIn("dry-run would=tempfail", log)

    def test_empty_file_is_refused_and_a_real_one_accepted(self):
        self.assert_dry_run_in_force(b"QBEFORE")

        open(self.conf, "w").close()  # truncated, as mid-write
        refused = self.sighup("reload refused")
        self.assertIn(f"reload refused: {self.conf} has no settings (empty or still being "
                      "written); the running configuration stays in force", refused)
        self.assertNotIn("configuration reloaded", refused)
        self.assertIsNone(self.proc.poll(), "the daemon keeps running")
        self.assert_dry_run_in_force(b"QEMPTY")

        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("# rdns-milter.conf, being rewritten\n\n   \n")
        refused = self.sighup("reload refused")
        self.assertIn(f"reload refused: {self.conf} has no settings", refused)
        self.assertNotIn("configuration reloaded", refused)
        self.assert_dry_run_in_force(b"QCOMMENTS")

        self.write_config(dry_run="no")
        accepted = self.sighup("configuration reloaded")
        self.assertIn(f"configuration reloaded from {self.conf}", accepted)
        self.assertNotIn("reload refused", accepted)
        reply, log = self.rcpt_reply(b"QAFTER")
        self.assertIn(reply.code, (mc.TEMPFAIL, mc.REPLYCODE), f"{reply!r}; log:\n{log}")
        if reply.code == mc.REPLYCODE:
            self.assertTrue(reply.text.startswith("4"), reply.text)
        self.assertIn("iprev=fail(no-ptr)", log)
        self.assertIn("action=tempfail", log)
        self.assertNotIn("dry-run", log)
        self.assertNotIn("5.7.25", log)


if __name__ == "__main__":
    if not os.access(milter_binary(), os.X_OK):
        print(f"rdns-milter binary not found: {milter_binary()} (set RDNS_MILTER)")
        sys.exit(1)
    unittest.main(verbosity=2)
