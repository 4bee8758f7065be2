"""Crash safety: dr-actuator killed with SIGKILL at each step of a switch,
restarted on the same state directory, must finish what it began, and the
provider must have recorded exactly one switch (each record written once).
"""

import json
import time
import unittest

from actuator_env import MOUNT, World, alert, notification
from harness import wait_until


class CrashTest(unittest.TestCase):
    def tearDown(self):
        self.w.cleanup()

    def journal_types(self):
        path = self.w.state_dir / "journal.jsonl"
        types = []
        for name in ("journal.jsonl.1", "journal.jsonl"):
            p = self.w.state_dir / name
            if p.exists():
                types += [json.loads(line)["type"]
                          for line in p.read_text().splitlines() if line]
        del path
        return types

    def begin_failover(self):
        self.w.sites["us-east"].set_mode("fail")
        self.assertEqual(self.w.webhook(notification(alert("us-east")))[0],
                         200)

    def assert_one_switch(self):
        self.w.wait_switched_to("eu-central", "127.0.0.12", timeout=60)
        puts = self.w.successful_puts()
        self.assertEqual(len(puts), 2, puts)  # app and www, once each
        self.assertEqual(self.journal_types().count("switch_started"), 1)
        self.assertIn("AWS_REGION=eu-west-1", self.w.env_file("eu-central"))
        self.assertTrue(self.w.reloaded("eu-central"))
        time.sleep(1.5)  # a few more rounds: still one switch
        self.assertEqual(len(self.w.successful_puts()), 2)

    def test_kill_after_intent_is_journaled(self):
        self.w = World()
        self.w.start()
        self.w.linode.fail("503", count=-1, method="PUT")
        self.begin_failover()
        wait_until(lambda: "switch_started" in self.journal_types(), 20)
        self.w.kill9()
        self.assertEqual(self.w.successful_puts(), [])
        self.w.linode.clear_faults()
        self.w.start()
        self.assert_one_switch()

    def test_kill_after_dns_update(self):
        self.w = World()
        self.w.start()
        self.w.hosts["eu-central"].stop()
        self.begin_failover()
        wait_until(lambda: "dns_updated" in self.journal_types(), 20)
        self.w.kill9()
        self.w.hosts["eu-central"].start()
        self.w.start()
        self.assert_one_switch()

    def test_kill_in_the_middle_of_the_host_step(self):
        self.w = World(activate={
            "env_file": f"{MOUNT}/app/.env",
            "env": {"AWS_REGION": "{site.aws_region}"},
            "reload_command": f"sleep 2 && touch {MOUNT}/reloaded"})
        self.w.start()
        self.begin_failover()
        wait_until(lambda: "eu-west-1" in self.w.env_file("eu-central"), 20,
                   message="env file written")
        self.assertFalse(self.w.reloaded("eu-central"))
        self.w.kill9()
        self.w.start()
        self.assert_one_switch()


if __name__ == "__main__":
    unittest.main()
