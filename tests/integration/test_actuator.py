"""dr-actuator end to end against real peers: the fake Linode API, real
sshd hosts (SFTP and exec), real health endpoints. Assertions are on what
an operator sees: the records at the provider, the files on the hosts, the
API, the metrics and the journal.
"""

import subprocess
import time
import unittest

from actuator_env import (API_TOKEN, ENV_TEXT, LINODE_TOKEN,  # noqa: F401
                          WEBHOOK_TOKEN, World, alert, notification)
from harness import http, wait_until


class FailoverTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.w.start()

    def tearDown(self):
        self.w.cleanup()

    def decisions(self, outcome):
        return self.w.metrics().value("dr_actuator_decisions_total",
                                      decision=outcome)

    def test_starts_converged_on_the_primary(self):
        st = wait_until(lambda: self.w.status()
                        if self.w.status()["converged"] else None, 10)
        self.assertEqual(st["serving_site"], "us-east")
        self.assertFalse(st["paused"])
        self.assertIsNone(st["action_in_progress"])
        m = self.w.metrics()
        self.assertEqual(m.value("dr_actuator_serving_site", site="us-east"), 1)
        self.assertEqual(m.value("dr_actuator_converged"), 1)
        self.assertEqual(self.w.successful_puts(), [])

    def test_failover_switches_records_and_reconfigures_the_host(self):
        self.w.sites["us-east"].set_mode("fail")
        status, _, _ = self.w.webhook(notification(alert("us-east")))
        self.assertEqual(status, 200)
        self.w.wait_switched_to("eu-central", "127.0.0.12")
        # Both records, TTL as configured, each written exactly once.
        puts = self.w.successful_puts()
        self.assertEqual(len(puts), 2, puts)
        for r in self.w.linode.records("example.com"):
            self.assertEqual(r["ttl_sec"], 30)
        # The new site's host: keys replaced and added, the rest intact.
        env = self.w.env_file("eu-central")
        # (the trailing blanks after the old value are kept, as layout)
        self.assertEqual(env, ENV_TEXT.replace("AWS_REGION=us-east-1",
                                               "AWS_REGION=eu-west-1")
                         + "DR_SITE=eu-central\n")
        self.assertTrue(self.w.reloaded("eu-central"))
        # The old site's host is left alone.
        self.assertEqual(self.w.env_file("us-east"), ENV_TEXT)
        self.assertFalse(self.w.reloaded("us-east"))
        m = self.w.metrics()
        self.assertEqual(m.value("dr_actuator_switches_total", **{
            "from": "us-east", "to": "eu-central", "trigger": "alert"}), 1)
        self.assertEqual(m.value("dr_actuator_serving_site",
                                 site="eu-central"), 1)
        self.assertGreaterEqual(self.decisions("switch"), 1)
        self.assertEqual(m.value("dr_actuator_actions_total",
                                 action="dns_update", result="success"), 1)
        self.assertEqual(m.value("dr_actuator_actions_total",
                                 action="host_reconfigure", result="success"),
                         1)
        self.assertGreater(m.value("dr_actuator_last_switch_timestamp_seconds"),
                           time.time() - 60)
        types = [e["type"] for e in self.w.events()]
        for t in ("webhook", "switch_started", "dns_updated",
                  "host_reconfigured"):
            self.assertIn(t, types)
        # Newest first.
        seqs = [e["seq"] for e in self.w.events()]
        self.assertEqual(seqs, sorted(seqs, reverse=True))

    def test_the_switch_uses_the_session_kept_open_to_the_standby(self):
        standby, serving = self.w.hosts["eu-central"], self.w.hosts["us-east"]
        # Opened ahead of time, to the standby site's host only.
        wait_until(lambda: standby.accepted_logins() == 1, 15,
                   message="no session opened to the standby host")
        self.assertEqual(serving.accepted_logins(), 0)
        standby_name = f"root@127.0.0.1:{standby.port}"
        wait_until(lambda: self.w.metrics().value(
            "dr_actuator_standby_host_ready", site="eu-central",
            host=standby_name) == 1, 15)
        self.assertEqual(self.w.metrics().samples(
            "dr_actuator_standby_host_ready", site="us-east"), [])
        self.w.sites["us-east"].set_mode("fail")
        self.w.webhook(notification(alert("us-east")))
        self.w.wait_switched_to("eu-central", "127.0.0.12")
        self.assertIn("AWS_REGION=eu-west-1", self.w.env_file("eu-central"))
        self.assertTrue(self.w.reloaded("eu-central"))
        # No second login: the switch ran on the kept session.
        self.assertEqual(standby.accepted_logins(), 1)
        # Now us-east is the standby: a session is opened to it in turn.
        wait_until(lambda: serving.accepted_logins() == 1, 15,
                   message="no session opened to the new standby host")
        wait_until(lambda: self.w.metrics().samples(
            "dr_actuator_standby_host_ready", site="eu-central") == [], 15,
            message="the serving site's host still listed as standby")
        self.assertEqual(self.w.metrics().value(
            "dr_actuator_standby_host_ready", site="us-east",
            host=f"root@127.0.0.1:{serving.port}"), 1)

    def test_same_notification_twenty_times_switches_once(self):
        self.w.sites["us-east"].set_mode("fail")
        body = notification(alert("us-east"))
        for _ in range(20):
            self.assertEqual(self.w.webhook(body)[0], 200)
        self.w.wait_switched_to("eu-central", "127.0.0.12")
        for _ in range(20):
            self.assertEqual(self.w.webhook(body)[0], 200)
        time.sleep(1.5)
        self.assertEqual(len(self.w.successful_puts()), 2)
        self.assertEqual(self.w.metrics().value(
            "dr_actuator_switches_total", **{
                "from": "us-east", "to": "eu-central", "trigger": "alert"}), 1)
        self.assertEqual(self.w.metrics().value(
            "dr_actuator_webhooks_total", result="accepted"), 40)

    def test_firing_after_resolved_and_out_of_order(self):
        self.w.sites["us-east"].set_mode("fail")
        starts = time.time() - 30
        firing = alert("us-east", starts=starts)
        resolved = alert("us-east", status="resolved", starts=starts,
                         ends=time.time() - 1)
        # Resolved arrives, then the older firing one late: stays resolved.
        self.assertEqual(self.w.webhook(notification(resolved))[0], 200)
        self.assertEqual(self.w.webhook(notification(firing))[0], 200)
        time.sleep(1.5)
        self.assertEqual(self.w.successful_puts(), [])
        self.assertEqual(self.w.status()["firing_alerts"], [])
        # A new firing (later startsAt) after the resolution is acted on.
        refire = alert("us-east", starts=time.time())
        self.assertEqual(self.w.webhook(notification(refire))[0], 200)
        self.w.wait_switched_to("eu-central", "127.0.0.12")

    def test_hold_unconfirmed_when_own_probes_see_the_site_healthy(self):
        self.assertEqual(self.w.webhook(notification(alert("us-east")))[0],
                         200)
        wait_until(lambda: self.decisions("hold_unconfirmed") >= 1, 10)
        self.assertEqual(self.w.successful_puts(), [])
        st = self.w.status()
        self.assertEqual(st["last_decision"]["decision"], "hold_unconfirmed")
        self.assertEqual(st["serving_site"], "us-east")

    def test_both_sites_down_holds(self):
        self.w.sites["us-east"].set_mode("fail")
        self.w.sites["eu-central"].set_mode("closed")
        self.w.webhook(notification(alert("us-east")))
        wait_until(lambda: self.decisions("hold_no_healthy_target") >= 1, 10)
        self.assertEqual(self.w.successful_puts(), [])

    def test_non_dr_alerts_are_recorded_and_ignored(self):
        self.w.sites["us-east"].set_mode("fail")
        other = alert("us-east", dr=False)
        self.assertEqual(self.w.webhook(notification(other))[0], 200)
        time.sleep(1.5)
        self.assertEqual(self.w.successful_puts(), [])
        hooks = [e for e in self.w.events() if e["type"] == "webhook"]
        self.assertEqual(hooks[0]["ignored_alerts"], 1)

    def test_pause_holds_and_resume_acts(self):
        status, body = self.w.api("POST", "pause", {"reason": "maintenance"})
        self.assertEqual(status, 200, body)
        self.w.sites["us-east"].set_mode("fail")
        self.w.webhook(notification(alert("us-east")))
        wait_until(lambda: self.decisions("hold_paused") >= 1, 10)
        st = self.w.status()
        self.assertTrue(st["paused"])
        self.assertEqual(st["pause_reason"], "maintenance")
        self.assertEqual(self.w.metrics().value("dr_actuator_paused"), 1)
        self.assertEqual(self.w.successful_puts(), [])
        self.assertEqual(self.w.api("POST", "resume")[0], 200)
        self.w.wait_switched_to("eu-central", "127.0.0.12")

    def test_manual_switch_and_refusal(self):
        self.w.sites["eu-central"].set_mode("fail")
        status, body = self.w.api("POST", "switch",
                                  {"site": "eu-central", "reason": "drill"})
        self.assertEqual(status, 409, body)
        self.assertEqual(self.w.successful_puts(), [])
        status, body = self.w.api("POST", "switch", {"site": "mars"})
        self.assertEqual(status, 400, body)
        status, body = self.w.api("POST", "switch",
                                  {"site": "eu-central", "force": True,
                                   "reason": "drill"})
        self.assertEqual(status, 202, body)
        self.w.wait_switched_to("eu-central", "127.0.0.12")
        m = self.w.metrics()
        self.assertEqual(m.value("dr_actuator_switches_total", **{
            "from": "us-east", "to": "eu-central", "trigger": "manual"}), 1)

    def test_operator_api_needs_its_own_token(self):
        for token in (None, "wrong", WEBHOOK_TOKEN):
            status, _ = self.w.api("GET", "status", token=token)
            self.assertEqual(status, 401, token)
            status, _ = self.w.api("POST", "pause", {"reason": "x"},
                                   token=token)
            self.assertEqual(status, 401, token)
        self.assertFalse(self.w.status()["paused"])
        status, body = self.w.api("POST", "switch", b"{not json")
        self.assertEqual(status, 400)
        status, body = self.w.api("POST", "switch", {"site": 5})
        self.assertEqual(status, 400)
        status, body = self.w.api("GET", "events?limit=0")
        self.assertEqual(status, 400)


class WebhookInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.w.start()

    @classmethod
    def tearDownClass(cls):
        cls.w.cleanup()

    def assert_refused(self, body, expected_status, token=WEBHOOK_TOKEN):
        before = len([e for e in self.w.events() if e["type"] == "webhook"])
        status, _, answer = self.w.webhook(body, token=token)
        self.assertEqual(status, expected_status, answer)
        after = len([e for e in self.w.events() if e["type"] == "webhook"])
        self.assertEqual(before, after, "nothing may be recorded")
        self.assertEqual(http("GET", f"{self.w.url}/-/healthy")[0], 200)
        return answer

    def test_missing_and_wrong_token(self):
        body = notification(alert("us-east"))
        self.assert_refused(body, 401, token=None)
        self.assert_refused(body, 401, token="nope")
        self.assert_refused(body, 401, token=API_TOKEN)

    def test_malformed_truncated_wrong_typed(self):
        good = __import__("json").dumps(notification(alert("us-east")))
        self.assert_refused("{", 400)
        self.assert_refused(good[: len(good) // 2], 400)
        self.assert_refused(good + "garbage", 400)
        bad = notification(alert("us-east"))
        bad["version"] = "3"
        self.assert_refused(bad, 400)
        bad = notification(alert("us-east"))
        bad["alerts"][0]["labels"]["site"] = 7
        self.assertIn(b"alerts[0].labels.site", self.assert_refused(bad, 400))
        bad = notification(alert("us-east"))
        bad["alerts"] = {}
        self.assert_refused(bad, 400)
        self.assert_refused("[]", 400)
        self.assert_refused("\x00\x01\x02", 400)

    def test_oversized(self):
        big = notification(alert("us-east"))
        big["alerts"][0]["annotations"]["description"] = "x" * (1 << 20)
        self.assert_refused(big, 413)
        m = self.w.metrics()
        self.assertGreaterEqual(m.value("dr_actuator_webhooks_total",
                                        result="too_large"), 1)


class LinodeFaultTest(unittest.TestCase):
    def setUp(self):
        self.w = World()
        self.w.start()
        self.w.sites["us-east"].set_mode("fail")

    def tearDown(self):
        self.w.cleanup()

    def failover(self):
        self.assertEqual(self.w.webhook(notification(alert("us-east")))[0],
                         200)
        self.w.wait_switched_to("eu-central", "127.0.0.12", timeout=40)

    def test_500s_then_convergence(self):
        self.w.linode.fail("500", count=3, method="PUT")
        self.failover()
        self.assertEqual(len(self.w.successful_puts()), 2)

    def test_429_honours_retry_after(self):
        self.w.linode.fail("429", count=1, method="PUT", retry_after=2)
        self.failover()
        puts = self.w.linode.requests(method="PUT")
        limited = [r for r in puts if r["status"] == 429]
        after = [r for r in puts if r["time"] > limited[0]["time"]]
        self.assertGreaterEqual(after[0]["time"] - limited[0]["time"], 2.0)

    def test_slow_and_dropped_connections(self):
        self.w.linode.fail("slow", count=1, method="PUT", delay=15)
        self.w.linode.fail("drop", count=2, method="PUT")
        self.failover()

    def test_400_reason_is_reported(self):
        self.w.linode.fail("400", count=-1, method="PUT",
                           reason="Target must be a valid IPv4 address")
        self.w.webhook(notification(alert("us-east")))
        wait_until(lambda: any(
            e["type"] == "dns_failed" and
            "Target must be a valid IPv4 address" in e["reason"]
            for e in self.w.events()), 20, message="dns_failed event")
        st = self.w.status()
        self.assertIsNotNone(st["action_in_progress"])
        self.assertFalse(st["converged"])
        self.w.linode.clear_faults()
        self.w.wait_switched_to("eu-central", "127.0.0.12", timeout=40)


class HostFaultTest(unittest.TestCase):
    def setUp(self):
        self.w = World()

    def tearDown(self):
        self.w.cleanup()

    def test_host_down_is_retried_until_it_converges(self):
        self.w.start()
        self.w.hosts["eu-central"].stop()
        # Known before any switch: the standby host is not ready.
        wait_until(lambda: self.w.metrics().value(
            "dr_actuator_standby_host_ready", site="eu-central") == 0, 15)
        self.w.sites["us-east"].set_mode("fail")
        self.w.webhook(notification(alert("us-east")))
        wait_until(lambda: set(self.w.record_targets().values()) ==
                   {"127.0.0.12"}, 20)
        wait_until(lambda: any(e["type"] == "host_failed"
                               for e in self.w.events()), 20)
        st = self.w.status()
        self.assertFalse(st["converged"])
        self.assertIsNotNone(st["hosts_pending"])
        self.assertEqual(self.w.metrics().value("dr_actuator_converged"), 0)
        self.w.hosts["eu-central"].start()
        wait_until(lambda: self.w.status()["converged"], 90)
        self.assertIn("AWS_REGION=eu-west-1", self.w.env_file("eu-central"))
        self.assertEqual(len(self.w.successful_puts()), 2)

    def test_changed_host_key_is_refused(self):
        other = self.w.tmp / "other_host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(other)], check=True)
        lines = self.w.known_hosts.read_text().splitlines(keepends=True)
        lines[1] = self.w.hosts["eu-central"].known_hosts_line(other)
        self.w.known_hosts.write_text("".join(lines))
        self.w.start()
        self.w.sites["us-east"].set_mode("fail")
        self.w.webhook(notification(alert("us-east")))
        wait_until(lambda: any(
            e["type"] == "host_failed" and e["kind"] == "host_key_changed"
            for e in self.w.events()), 30)
        self.assertEqual(self.w.env_file("eu-central"), ENV_TEXT)


class DryRunTest(unittest.TestCase):
    def test_dry_run_decides_but_changes_nothing(self):
        w = World()
        try:
            w.start("--dry-run")
            w.sites["us-east"].set_mode("fail")
            w.webhook(notification(alert("us-east")))
            wait_until(lambda: w.metrics().value(
                "dr_actuator_decisions_total", decision="switch") >= 1, 10)
            time.sleep(1)
            self.assertEqual(w.linode.requests(method="PUT"), [])
            self.assertEqual(w.env_file("eu-central"), ENV_TEXT)
            self.assertTrue(w.status()["dry_run"])
        finally:
            w.cleanup()


class SecretsTest(unittest.TestCase):
    def test_no_secret_in_logs_metrics_events_or_answers(self):
        w = World()
        try:
            w.start("--log.level", "debug")
            w.sites["us-east"].set_mode("fail")
            answers = [w.webhook(notification(alert("us-east")),
                                 token="wrong")[2],
                       w.webhook("{")[2]]
            w.webhook(notification(alert("us-east")))
            w.wait_switched_to("eu-central", "127.0.0.12")
            answers.append(w.api("GET", "status", token="bad")[1])
            everything = "\n".join([
                w.all_logs(), w.metrics().text,
                str(w.events()), str(w.status()),
                *(a.decode() if isinstance(a, bytes) else str(a)
                  for a in answers)])
            key = w.ssh_key.read_text().splitlines()[1]
            for secret in (LINODE_TOKEN, WEBHOOK_TOKEN, API_TOKEN, key):
                self.assertNotIn(secret, everything)
            journal = (w.state_dir / "journal.jsonl").read_text()
            for secret in (LINODE_TOKEN, WEBHOOK_TOKEN, API_TOKEN, key):
                self.assertNotIn(secret, journal)
        finally:
            w.cleanup()


if __name__ == "__main__":
    unittest.main()
