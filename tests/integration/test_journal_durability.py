"""The journal on a real disk: a full file system must not cost an
acknowledged event, and unreadable lines must not break the events API.

The full-disk test puts the state directory on a 256 KiB tmpfs mounted in
a mount namespace of its own (held by a `sleep` started under `unshare`),
and runs dr-actuator inside it with `nsenter`, so the machine's mounts are
never touched.
"""

import json
import pathlib
import subprocess
import time
import unittest

from actuator_env import World, alert, notification
from harness import start_process, wait_until


class MountNamespace:
    """A private mount namespace with a small tmpfs on `path`, alive as
    long as its holder process."""

    def __init__(self, path, size="256k"):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.holder = start_process(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs -o size={size} tmpfs '{self.path}' && "
             "exec sleep infinity"])
        # The holder execs sleep only once the mount succeeded.
        wait_until(self._mounted, 5, message=f"tmpfs on {self.path}")

    def _mounted(self):
        if not self.holder.running():
            raise AssertionError("mount failed:\n" + self.holder.log_text())
        cmdline = pathlib.Path(f"/proc/{self.holder.pid}/cmdline")
        return cmdline.read_bytes().startswith(b"sleep")

    def wrap(self):
        """The argv prefix that runs a command inside the namespace."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--"]

    def run(self, *argv):
        return subprocess.run([*self.wrap(), *argv], capture_output=True,
                              text=True, timeout=30)

    def stop(self):
        self.holder.stop()


def fingerprints(events):
    return {a["fingerprint"] for e in events if e["type"] == "webhook"
            for a in e.get("alerts", [])}


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.ns = MountNamespace(self.w.state_dir)

    def tearDown(self):
        self.w.stop()
        self.ns.stop()
        self.w.cleanup()

    def start(self):
        self.w.start(wrap=self.ns.wrap())

    def test_full_disk_refuses_and_then_keeps_every_acknowledged_event(self):
        self.start()
        fill = self.ns.run("dd", "if=/dev/zero",
                           f"of={self.w.state_dir}/fill", "bs=4k")
        self.assertIn("No space left", fill.stderr)

        # The journal's last tmpfs page still has room: webhooks fit in it
        # until one does not, and is cut short by ENOSPC.
        acked = set()
        for i in range(100):
            fp = f"while-the-disk-is-full-{i}"
            status, _, body = self.w.webhook(
                notification(alert("eu-central", fingerprint=fp)))
            if status != 200:
                break
            acked.add(fp)
        self.assertEqual(status, 503, body)
        # Longer than that webhook: it cannot fit in what is left.
        status, _ = self.w.api("POST", "pause", {"reason": "x" * 1000})
        self.assertEqual(status, 503)
        self.assertFalse(self.w.status()["paused"])

        self.assertEqual(self.ns.run("rm", f"{self.w.state_dir}/fill")
                         .returncode, 0)
        status, _ = self.w.api("POST", "pause",
                               {"reason": "disk full drill"})
        self.assertEqual(status, 200)
        for i in range(5):
            fp = f"after-the-disk-was-freed-{i}"
            status, _, body = self.w.webhook(
                notification(alert("eu-central", fingerprint=fp)))
            self.assertEqual(status, 200, body)
            acked.add(fp)

        self.w.kill9()
        self.start()
        st = self.w.status()
        self.assertTrue(st["paused"])
        self.assertEqual(st["pause_reason"], "disk full drill")
        status, body = self.w.api("GET", "events?limit=1000")
        self.assertEqual(status, 200)
        self.assertEqual(body["unreadable_lines"], 0)
        self.assertLessEqual(acked, fingerprints(body["events"]))
        pauses = [e["reason"] for e in body["events"]
                  if e["type"] == "paused"]
        self.assertIn("disk full drill", pauses)
        self.assertTrue(self.w.proc.running())


def line(seq, type_, **fields):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"seq": seq, "ts": ts, "type": type_, **fields},
                      separators=(",", ":"))


class UnreadableLinesTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.w.state_dir.mkdir(parents=True)
        glued = line(2, "webhook")[:20] + line(3, "paused", reason="lost")
        torn = line(5, "paused", reason="torn")[:25]
        (self.w.state_dir / "journal.jsonl").write_text(
            line(1, "paused", reason="first") + "\n" + glued + "\n" +
            line(4, "resumed") + "\n" + torn)

    def tearDown(self):
        self.w.cleanup()

    def test_corrupted_and_torn_lines_are_counted_not_returned(self):
        self.w.start()
        status, body = self.w.api("GET", "events?limit=1000")
        self.assertEqual(status, 200)
        self.assertIsInstance(body, dict, body)  # valid JSON
        self.assertEqual(body["unreadable_lines"], 2)
        seqs = [e["seq"] for e in body["events"]]
        self.assertIn(1, seqs)
        self.assertIn(4, seqs)
        self.assertNotIn(2, seqs)
        self.assertNotIn(3, seqs)
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        # Replayed: the pause of line 1 was undone by line 4.
        self.assertFalse(self.w.status()["paused"])

    def test_events_filter_by_type_and_since(self):
        self.w.start()
        status, body = self.w.api("GET", "events?type=paused&type=resumed")
        self.assertEqual(status, 200)
        self.assertEqual([e["seq"] for e in body["events"]], [4, 1])
        status, body = self.w.api("GET", "events?type=resumed,paused")
        self.assertEqual([e["seq"] for e in body["events"]], [4, 1])
        status, body = self.w.api("GET",
                                  "events?since=2200-01-01T00:00:00Z")
        self.assertEqual((status, body["events"]), (200, []))
        status, _ = self.w.api("GET", "events?since=yesterday")
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
