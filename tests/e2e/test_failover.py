"""End to end, through real Prometheus and Alertmanager: a site's PHP stops
answering, dr-exporter sees it, the shipped rules fire DRSiteDown, the
shipped Alertmanager route delivers it, dr-actuator confirms and switches
the records at the (fake) provider and reconfigures the new site's host
(its .env over SFTP, then a real php-fpm reload). Asserted at the provider
and on the hosts.
"""

import time
import unittest

from system import System, wait_until


class FailoverTest(unittest.TestCase):
    def tearDown(self):
        self.system.stop()

    def primary_down_fails_over(self):
        w = self.system.world
        reloads_before = w.sites["eu-central"].reloads()
        started = time.monotonic()
        w.sites["us-east"].stop_php()
        w.wait_switched_to("eu-central", "127.0.0.12", timeout=60)
        elapsed = time.monotonic() - started
        self.assertIn("AWS_REGION=eu-west-1", w.env_file("eu-central"))
        self.assertIn("DR_SITE=eu-central", w.env_file("eu-central"))
        wait_until(lambda: w.sites["eu-central"].reloads() > reloads_before,
                   10, message="php-fpm reloaded on eu-central")
        self.assertEqual(len(w.successful_puts()), 2)
        self.assertEqual(self.system.switches(), 1)
        return elapsed

    def test_primary_down_then_manual_failback_policy_stays(self):
        self.system = System(failback="manual", cooldown="10m").start()
        w = self.system.world
        self.primary_down_fails_over()
        w.sites["us-east"].start_php()
        # The alert resolves, the primary is healthy: with failback manual
        # traffic stays, and the status says why.
        wait_until(lambda: not any(a["labels"].get("site") == "us-east"
                                   for a in self.system.firing_alerts()),
                   30, message="DRSiteDown resolved")
        time.sleep(3)
        self.assertEqual(set(w.record_targets().values()), {"127.0.0.12"})
        st = w.status()
        self.assertEqual(st["serving_site"], "eu-central")
        self.assertEqual(st["failback"], "manual")
        self.assertIn("failback", st["last_decision"]["why"].lower())
        self.assertEqual(self.system.switches(), 1)

    def test_primary_comes_back_and_auto_failback_returns(self):
        self.system = System(failback="auto", failback_after="3s",
                             cooldown="5s").start()
        w = self.system.world
        self.primary_down_fails_over()
        w.sites["us-east"].start_php()
        w.wait_switched_to("us-east", "127.0.0.11", timeout=60)
        self.assertEqual(self.system.actuator_metric(
            "dr_actuator_switches_total",
            **{"from": "eu-central", "to": "us-east", "trigger": "failback"}),
            1)
        self.assertIn("AWS_REGION=us-east-1", w.env_file("us-east"))

    def test_both_sites_down_holds(self):
        self.system = System(cooldown="10m").start()
        w = self.system.world
        w.sites["us-east"].stop_php()
        w.sites["eu-central"].stop_php()
        wait_until(lambda: (self.system.actuator_metric(
            "dr_actuator_decisions_total",
            decision="hold_no_healthy_target") or 0) >= 1, 60,
            message="hold_no_healthy_target counted")
        self.assertEqual(w.successful_puts(), [])
        self.assertEqual(set(w.record_targets().values()), {"127.0.0.11"})

    def test_flapping_primary_switches_at_most_once(self):
        self.system = System(cooldown="10m").start()
        w = self.system.world
        end = time.monotonic() + 30
        up = True
        while time.monotonic() < end:
            if up:
                w.sites["us-east"].stop_php()
            else:
                w.sites["us-east"].start_php()
            up = not up
            time.sleep(3)
        w.sites["us-east"].start_php()
        time.sleep(3)
        self.assertLessEqual(self.system.switches(), 1)
        self.assertLessEqual(len(w.successful_puts()), 2)


if __name__ == "__main__":
    unittest.main()
