"""The actuator's core against the real daemon: one thread starts switches
(operator requests are intents it decides in order), the journal replays to
the status the API showed, --dry-run never acts, the host loop never spins,
and a webhook storm does not erase the audit trail.
"""

import concurrent.futures
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

from actuator_env import (WEBHOOK_TOKEN, World, alert,  # noqa: F401
                          assert_switch_invariants, notification)
from harness import wait_until


def events_of(world, *types):
    query = "events?limit=10000"
    if types:
        query += "&type=" + ",".join(types)
    return world.api("GET", query)[1]["events"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


class OneThreadStartsSwitchesTest(unittest.TestCase):
    def test_operator_switch_to_a_third_site_while_an_automatic_one_confirms(
            self):
        # The automatic switch confirms for about 0.6 s (3 probes, 300 ms
        # apart); the operator's request arrives before, during and after.
        for offset in (0.0, 0.15, 0.35, 0.6, 1.0):
            with self.subTest(offset=offset):
                w = World(third_site=True,
                          confirm={"probes": 3, "interval": "300ms"})
                try:
                    w.start()
                    wait_until(lambda: w.status()["converged"], 15)
                    w.sites["us-east"].set_mode("fail")
                    self.assertEqual(
                        w.webhook(notification(alert("us-east")))[0], 200)
                    time.sleep(offset)
                    status, body = w.api("POST", "switch",
                                         {"site": "us-west",
                                          "reason": "operator"})
                    self.assertIn(status, (202, 409), body)
                    wait_until(lambda: w.status()["converged"], 30)
                    time.sleep(1)  # a few more rounds
                    targets = set(w.record_targets().values())
                    if status == 202:
                        # A 202 means the records end at the operator's site.
                        self.assertEqual(targets, {"127.0.0.13"}, body)
                    assert_switch_invariants(self, w.events(), "us-east")
                    starts = events_of(w, "switch_started")
                    self.assertLessEqual(len(starts), 2)
                    # Each record written once per switch.
                    self.assertEqual(len(w.successful_puts()),
                                     2 * len(starts))
                finally:
                    w.cleanup()

    def test_ten_parallel_operator_switches_start_one(self):
        w = World()
        try:
            w.start()
            wait_until(lambda: w.status()["converged"], 15)
            with concurrent.futures.ThreadPoolExecutor(10) as pool:
                answers = list(pool.map(
                    lambda i: w.api("POST", "switch",
                                    {"site": "eu-central",
                                     "reason": f"operator {i}"}),
                    range(10)))
            statuses = sorted(s for s, _ in answers)
            self.assertEqual(statuses, [202] + [409] * 9, answers)
            w.wait_switched_to("eu-central", "127.0.0.12")
            self.assertEqual(len(w.successful_puts()), 2)  # app, www: once
            self.assertEqual(len(events_of(w, "switch_started")), 1)
            self.assertEqual(len(events_of(w, "manual_switch_refused")), 9)
            self.assertEqual(w.metrics().value(
                "dr_actuator_switches_total", **{
                    "from": "us-east", "to": "eu-central",
                    "trigger": "manual"}), 1)
            self.assertEqual(w.metrics().value(
                "dr_actuator_actions_total", action="host_reconfigure",
                result="success"), 1)
        finally:
            w.cleanup()

    def test_fifty_concurrent_operator_calls_replay_to_the_status_shown(self):
        w = World(third_site=True)
        try:
            w.start()
            wait_until(lambda: w.status()["converged"], 15)
            rng = random.Random(7)
            calls = []
            for i in range(50):
                kind = rng.choice(("pause", "resume", "switch"))
                if kind == "pause":
                    calls.append(("pause", {"reason": f"pause {i}"}))
                elif kind == "resume":
                    calls.append(("resume", None))
                else:
                    calls.append(("switch", {"site": rng.choice(
                        ("us-east", "eu-central", "us-west"))}))
            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                answers = list(pool.map(
                    lambda c: w.api("POST", c[0], c[1]), calls))
            for (kind, _), (status, body) in zip(calls, answers):
                self.assertIn(status, (200, 202, 409), (kind, body))
            wait_until(lambda: w.status()["converged"], 60)
            shown = w.status()
            assert_switch_invariants(self, w.events(), "us-east")
            w.kill9()
            w.start()
            wait_until(lambda: w.status()["converged"], 30)
            replayed = w.status()
            for key in ("paused", "pause_reason", "paused_at", "serving_site",
                        "action_in_progress", "hosts_pending"):
                self.assertEqual(replayed.get(key), shown.get(key), key)
            self.assertEqual(replayed.get("last_switch"),
                             shown.get("last_switch"))
        finally:
            w.cleanup()


class DryRunAfterACrashTest(unittest.TestCase):
    def test_dry_run_reports_a_switch_killed_before_its_dns_step(self):
        w = World()
        try:
            w.start()
            w.linode.fail("503", count=-1, method="PUT")
            w.sites["us-east"].set_mode("fail")
            w.webhook(notification(alert("us-east")))
            wait_until(lambda: events_of(w, "switch_started"), 20)
            w.kill9()
            w.linode.clear_faults()
            puts_before = len(w.linode.requests(method="PUT"))
            w.start("--dry-run")
            st = wait_until(lambda: w.status() if w.status().get(
                "dry_run_would_finish") else None, 10)
            started = events_of(w, "switch_started")[0]
            self.assertIn(started["id"], st["dry_run_would_finish"])
            self.assertEqual(st["action_in_progress"]["id"], started["id"])
            self.assertTrue(st["dry_run"])
            time.sleep(2)  # rounds go by; none writes
            self.assertEqual(len(w.linode.requests(method="PUT")),
                             puts_before)
            self.assertEqual(set(w.record_targets().values()),
                             {"127.0.0.11"})
            self.assertFalse(w.reloaded("eu-central"))
            self.assertEqual(events_of(w, "dns_updated"), [])
            # Without --dry-run the same journal finishes the switch.
            w.stop()
            w.start()
            w.wait_switched_to("eu-central", "127.0.0.12")
            self.assertEqual(len(events_of(w, "switch_started")), 1)
        finally:
            w.cleanup()

    def test_dry_run_leaves_the_hosts_of_a_switch_killed_after_dns(self):
        w = World()
        try:
            w.start()
            w.hosts["eu-central"].stop()
            w.sites["us-east"].set_mode("fail")
            w.webhook(notification(alert("us-east")))
            wait_until(lambda: events_of(w, "dns_updated"), 20)
            w.kill9()
            w.hosts["eu-central"].start()
            w.start("--dry-run")
            st = wait_until(lambda: w.status() if w.status().get(
                "hosts_pending") else None, 10)
            self.assertFalse(st["converged"])
            time.sleep(3)  # longer than a host attempt takes
            self.assertFalse(w.reloaded("eu-central"))
            self.assertNotIn("eu-west-1", w.env_file("eu-central"))
            self.assertEqual(events_of(w, "host_reconfigured"), [])
        finally:
            w.cleanup()


class HostLoopTest(unittest.TestCase):
    def test_a_refusing_host_costs_under_five_percent_of_a_core(self):
        w = World()
        try:
            proc = w.start()
            w.hosts["eu-central"].stop()
            w.sites["us-east"].set_mode("fail")
            w.webhook(notification(alert("us-east")))
            wait_until(lambda: events_of(w, "host_failed"), 20)
            before, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(20)
            used = cpu_seconds(proc.pid) - before
            share = used / (time.monotonic() - t0)
            self.assertLess(share, 0.05, f"{used:.2f} s of CPU in 20 s")
            # Still retrying, and it converges once the host is back.
            self.assertGreaterEqual(len(events_of(w, "host_failed")), 2)
            w.hosts["eu-central"].start()
            wait_until(lambda: w.status()["converged"], 60)
            self.assertEqual(len(events_of(w, "switch_completed")), 1)
        finally:
            w.cleanup()


class WebhookStormTest(unittest.TestCase):
    STORM = 100_000

    def test_a_storm_of_webhooks_keeps_the_switch_in_the_audit_trail(self):
        w = World()
        try:
            w.start()
            w.sites["us-east"].set_mode("fail")
            body = notification(alert("us-east"))
            w.webhook(body)
            w.wait_switched_to("eu-central", "127.0.0.12")
            switch = events_of(w, "switch_started")[0]
            self.storm(w, body)
            accepted = w.metrics().value("dr_actuator_webhooks_total",
                                         result="accepted")
            self.assertGreaterEqual(accepted, self.STORM)
            # The storm went through compactions...
            self.assertTrue((w.state_dir / "audit.jsonl").exists())
            # ...and the switch is still readable, whole.
            for t in ("switch_started", "dns_updated", "host_reconfigured",
                      "switch_completed"):
                ids = [e["id"] for e in events_of(w, t)]
                self.assertIn(switch["id"], ids, t)
            w.kill9()
            w.start()
            ids = [e["id"] for e in events_of(w, "switch_started")]
            self.assertEqual(ids, [switch["id"]])
            self.assertEqual(len(w.successful_puts()), 2)
        finally:
            w.cleanup()

    def storm(self, w, body):
        """At least STORM webhooks with wrk (bounded: 18 runs of 10 s)."""
        tmp = tempfile.mkdtemp(prefix="dr-storm-")
        try:
            script = os.path.join(tmp, "post.lua")
            payload = __import__("json").dumps(body)
            with open(script, "w") as f:
                f.write('wrk.method = "POST"\n'
                        f'wrk.body = {lua_string(payload)}\n'
                        'wrk.headers["Content-Type"] = "application/json"\n'
                        'wrk.headers["Authorization"] = '
                        f'"Bearer {WEBHOOK_TOKEN}"\n')
            for _ in range(18):
                if w.metrics().value("dr_actuator_webhooks_total",
                                     result="accepted") >= self.STORM:
                    return
                subprocess.run(
                    [shutil.which("wrk"), "-t2", "-c16", "-d10s", "-s",
                     script, f"{w.url}/api/v1/alertmanager"],
                    check=True, capture_output=True, timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    unittest.main()
