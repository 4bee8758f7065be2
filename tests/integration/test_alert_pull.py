"""Alerts pulled from a real Alertmanager cluster (SPEC.md §10): two
prometheus-alertmanager members gossiping on loopback, the actuator pulling
/api/v2/alerts from the first that answers. Webhooks go nowhere here (the
cluster's receiver is a closed port), so everything the actuator knows
came by pull.
"""

import os
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))

from actuator_env import World  # noqa: E402
from alertmanager import AlertmanagerCluster  # noqa: E402
from harness import free_port, wait_until  # noqa: E402
from http_base import ClosableServer  # noqa: E402

DR_LABELS = {"alertname": "DRSiteDown", "dr_action": "traffic_failover",
             "severity": "critical"}


def dr_labels(site):
    return dict(DR_LABELS, site=site)


def pulls(w, result):
    return w.metrics().value("dr_actuator_alertmanager_pulls_total",
                             result=result)


def pulled_events(w):
    return w.api("GET", "events?limit=1000&type=alerts_pulled")[1]["events"]


def firing_sites(w):
    return sorted(a["site"] for a in w.status()["firing_alerts"])


class PullFromAClusterTest(unittest.TestCase):
    def setUp(self):
        self.am = AlertmanagerCluster(
            members=2, webhook_url=f"http://127.0.0.1:{free_port()}/closed")
        self.am.start()
        self.w = World(alertmanager={"urls": self.am.urls, "interval": "1s",
                                     "timeout": "500ms"})
        self.w.start()
        wait_until(lambda: pulls(self.w, "success") >= 1, 15)

    def tearDown(self):
        self.w.cleanup()
        self.am.stop()

    def test_an_alert_reaches_the_actuator_by_pull_and_it_fails_over(self):
        self.w.sites["us-east"].set_mode("fail")
        self.am.post_alert(dr_labels("us-east"),
                           {"summary": "us-east is down"})
        self.w.wait_switched_to("eu-central", "127.0.0.12", timeout=30)
        (e,) = [e for e in pulled_events(self.w)
                if e["changes"][0]["status"] == "firing"]
        self.assertEqual(e["source"], self.am.urls[0])
        self.assertEqual(e["changes"][0]["site"], "us-east")
        self.assertEqual(e["changes"][0]["summary"], "us-east is down")
        self.assertEqual(e["changes"][0]["alertname"], "DRSiteDown")
        events = self.w.events()
        self.assertNotIn("webhook", [x["type"] for x in events])
        self.assertEqual(len(self.w.successful_puts()), 2)

    def test_a_resolution_that_never_arrives_is_resolved_by_the_next_pull(
            self):
        self.am.post_alert(dr_labels("us-east"))
        wait_until(lambda: firing_sites(self.w) == ["us-east"], 15)
        # Alertmanager resolves it; its resolved notification goes to a
        # closed port and is lost.
        self.am.resolve_alert(dr_labels("us-east"))
        wait_until(lambda: firing_sites(self.w) == [], 15,
                   message="resolved by pull")
        changes = [c for e in pulled_events(self.w) for c in e["changes"]]
        self.assertEqual([c["status"] for c in changes],
                         ["resolved", "firing"])  # newest first
        self.assertEqual(self.w.successful_puts(), [])

    def test_a_silenced_alert_stops_counting(self):
        self.am.post_alert(dr_labels("us-east"))
        wait_until(lambda: firing_sites(self.w) == ["us-east"], 15)
        silence = self.am.silence({"site": "us-east"})
        wait_until(lambda: firing_sites(self.w) == [], 15,
                   message="silenced alert still counts")
        # The silence expires: Alertmanager lists it again, and it counts
        # at once (its startsAt is the one it had before).
        self.am.expire_silence(silence)
        wait_until(lambda: firing_sites(self.w) == ["us-east"], 15,
                   message="alert back after the silence")

    def test_one_member_down_the_other_answers(self):
        self.am.kill(0)
        self.am.post_alert(dr_labels("us-east"), members=[1])
        wait_until(lambda: firing_sites(self.w) == ["us-east"], 15)
        e = pulled_events(self.w)[0]
        self.assertEqual(e["source"], self.am.urls[1])
        self.assertEqual(pulls(self.w, "failure"), 0)


class BrokenAlertmanager(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        mode = self.server.owner.mode
        self.server.owner.requests += 1
        if mode == "500":
            self.send_response(500)
            body = b"internal error"
        else:
            self.send_response(200)
            body = b'[{"labels": {"site": '  # cut short
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class AFailedPullChangesNothingTest(unittest.TestCase):
    def setUp(self):
        self.mode = "500"
        self.requests = 0
        self.server = ClosableServer(("127.0.0.1", 0), BrokenAlertmanager,
                                     self)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.w = World(alertmanager={"urls": [url], "interval": "1s"})

    def tearDown(self):
        self.w.cleanup()
        self.server.shutdown()
        self.server.server_close()

    def test_500_and_garbage_change_nothing(self):
        from actuator_env import alert, notification
        self.w.start()
        self.assertEqual(
            self.w.webhook(notification(alert("us-east")))[0], 200)
        wait_until(lambda: firing_sites(self.w) == ["us-east"], 10)
        for mode in ("500", "garbage"):
            self.mode = mode
            failures = pulls(self.w, "failure")
            wait_until(lambda: pulls(self.w, "failure") >= failures + 2, 10)
            self.assertEqual(firing_sites(self.w), ["us-east"], mode)
        self.assertEqual(pulled_events(self.w), [])
        self.assertEqual(pulls(self.w, "success"), 0)
        self.assertGreaterEqual(self.requests, 4)


if __name__ == "__main__":
    unittest.main()
