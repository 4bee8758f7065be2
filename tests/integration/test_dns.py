"""The DNS collector of dr-exporter against the fake Linode API.

Real processes on loopback: dr-exporter, the fake Linode API v4
(tests/fakes/fake_linode.py) holding a domain with 600+ records, so that a
read needs two pages of 500, and two health sites on 127.0.0.11 and
127.0.0.12. Assertions are on what a user sees: the scraped metrics, the
requests that reached the fake, the exporter's log.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))

from fake_linode import FakeLinode  # noqa: E402
from harness import (Process, build_dir, free_port, http,  # noqa: E402
                     scrape, start_process, wait_metric, wait_until,
                     write_config)
from health_server import HealthSite  # noqa: E402

EXPORTER = str(build_dir() / "exporter" / "dr-exporter")
TOKEN = "dns-test-token-0123456789abcdef"
SITE_A, SITE_B = "192.0.2.10", "198.51.100.10"
ELSEWHERE = "203.0.113.99"
INTERVAL = 0.5  # probe.interval, seconds
FILLER = 620    # records besides the ones under test: forces page 2


class DnsCollectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = HealthSite("127.0.0.11", name="a").start()
        cls.b = HealthSite("127.0.0.12", name="b").start()

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.fake = FakeLinode(token=TOKEN).start()
        self.domain = self.fake.add_domain("example.com")
        for i in range(FILLER):
            self.fake.add_record(self.domain, "A", f"host-{i}",
                                 f"203.0.113.{i % 250 + 1}", ttl_sec=300)
            if i % 100 == 0:
                self.fake.add_record(self.domain, "TXT", f"host-{i}",
                                     "v=spf1 -all")
        # Added last, so they sit on page 2 of 500.
        self.app = self.fake.add_record(self.domain, "A", "app", SITE_A,
                                        ttl_sec=30)
        self.www = self.fake.add_record(self.domain, "A", "www", SITE_A,
                                        ttl_sec=30)
        self.fake.add_record(self.domain, "A", "stray", ELSEWHERE)
        self.fake.add_record(self.domain, "AAAA", "app", "2001:db8::1")
        self.proc = None

    def tearDown(self):
        if self.proc is not None:
            self.proc.stop()
            # The token must never reach the log, whatever happened.
            self.assertNotIn(TOKEN, self.proc.log_text())
        self.fake.stop()
        self.tmp.cleanup()

    # -- helpers

    def config(self, token=TOKEN, records=("app", "www", "stray", "gone")):
        token_file = os.path.join(self.tmp.name, "linode-token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        return write_config(self.tmp.name, {
            "sites": [
                {"name": "a", "address": SITE_A, "health_url": self.a.url},
                {"name": "b", "address": SITE_B, "health_url": self.b.url},
            ],
            "probe": {"interval": f"{int(INTERVAL * 1000)}ms",
                      "timeout": "300ms"},
            "dns": {"api_url": self.fake.url, "token_file": token_file,
                    "domain": "example.com", "records": list(records),
                    "ttl": 30},
        })

    def start(self, **kwargs):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = start_process(
            [EXPORTER, "--config.file", str(self.config(**kwargs)),
             "--web.listen-address", f"127.0.0.1:{self.port}"],
            ready_url=f"{self.url}/-/ready")

    def metrics(self):
        return scrape(f"{self.url}/metrics")

    def wait_metric(self, name, value, timeout=5, **labels):
        return wait_metric(f"{self.url}/metrics", name, value, timeout,
                           **labels)

    def wait_serving(self, record, site, timeout=5):
        return self.wait_metric("dr_dns_serving_site", 1, timeout,
                                record=record, site=site)

    def errors(self, reason):
        return self.metrics().value("dr_collector_errors_total",
                                    collector="dns", reason=reason)

    def serving(self, m, record):
        """The site whose series is 1 for `record`, asserting it is one."""
        ones = [labels["site"] for labels, v in
                m.samples("dr_dns_serving_site", record=record) if v == 1]
        self.assertEqual(len(ones), 1, f"{record}: {ones}")
        return ones[0]

    def move(self, record_id, target):
        """Changes a record at the provider, through its API."""
        status, _, body = http(
            "PUT", f"{self.fake.url}/domains/{self.domain}/records/"
                   f"{record_id}",
            {"target": target}, {"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200, body)

    # -- tests

    def test_serving_site_per_record_across_pages(self):
        self.start()
        m = self.wait_serving("app", "a")
        m = self.wait_serving("www", "a")
        self.assertEqual(m.value("dr_dns_api_up"), 1)
        for record in ("app", "www"):
            self.assertEqual(
                m.value("dr_dns_serving_site", record=record, site="b"), 0)
            self.assertEqual(m.value("dr_dns_serving_site", record=record,
                                     site="unknown"), 0)
        # A target that is no site's address, and a record that is absent.
        self.assertEqual(self.serving(m, "stray"), "unknown")
        self.assertEqual(self.serving(m, "gone"), "unknown")
        # One series per configured site plus unknown, per record.
        self.assertEqual(len(m.samples("dr_dns_serving_site")), 4 * 3)
        self.assertEqual(m.types.get("dr_dns_serving_site"), "gauge")
        self.assertEqual(self.errors("server"), 0)
        # The records live on page 2: the collector asked for it.
        queries = [e["query"] for e in self.fake.requests(
            "GET", path_regex=r"/records$")]
        self.assertIn("page=1&page_size=500", queries)
        self.assertIn("page=2&page_size=500", queries)
        self.assertNotIn("page=3&page_size=500", queries)
        # The exporter only reads.
        self.assertEqual(self.fake.requests("PUT"), [])
        self.assertEqual(self.fake.requests("POST"), [])

    def test_domain_lookup_sends_valid_x_filter_once(self):
        self.start()
        self.wait_serving("app", "a")
        time.sleep(3 * INTERVAL)
        lookups = self.fake.requests("GET", path_regex=r"/v4/domains/?$")
        # The id is cached: one lookup, however many reads.
        self.assertEqual(len(lookups), 1, lookups)
        headers = lookups[0]["headers"]
        self.assertEqual(json.loads(headers["X-Filter"]),
                         {"domain": "example.com"})
        self.assertEqual(headers["Authorization"], "<redacted>")
        self.assertGreater(
            len(self.fake.requests("GET", path_regex=r"/records$")), 2)

    def test_records_switched_together_are_followed(self):
        self.start()
        self.wait_serving("app", "a")
        self.wait_serving("www", "a")
        self.move(self.app, SITE_B)
        self.move(self.www, SITE_B)
        start = time.monotonic()
        m = wait_until(
            lambda: (lambda m: m if self.serving(m, "app") == "b" and
                     self.serving(m, "www") == "b" else None)(self.metrics()),
            5, message="both records serve b")
        self.assertLess(time.monotonic() - start, 3 * INTERVAL + 0.5)
        self.assertEqual(m.value("dr_dns_serving_site", record="app",
                                 site="a"), 0)
        # Moved to an address of no site: unknown.
        self.move(self.app, ELSEWHERE)
        m = self.wait_serving("app", "unknown")
        self.assertEqual(m.value("dr_dns_serving_site", record="app",
                                 site="b"), 0)
        self.assertEqual(self.serving(m, "www"), "b")

    def test_disagreeing_records_of_one_name_are_unknown(self):
        self.fake.add_record(self.domain, "A", "www", SITE_B)
        self.start()
        m = self.wait_serving("www", "unknown")
        self.assertEqual(self.serving(m, "app"), "a")
        wait_until(lambda: "disagree" in self.proc.log_text(), 5,
                   message="the log says why www is unknown")

    def test_wrong_token_is_unauthorized(self):
        self.start(token="not-the-token")
        m = self.wait_metric("dr_dns_api_up", 0)
        wait_until(lambda: self.errors("unauthorized") >= 1, 5,
                   message="unauthorized counted")
        self.assertEqual(m.samples("dr_dns_serving_site"), [])
        for reason in ("server", "timeout", "connect", "rate_limited"):
            self.assertEqual(self.errors(reason), 0, reason)
        # 401 is not retried: about one request per interval, not a burst.
        time.sleep(4 * INTERVAL)
        self.assertLessEqual(len(self.fake.requests()), 7)
        log = self.proc.log_text()
        self.assertIn("Invalid Token", log)
        self.assertNotIn("not-the-token", log)

    def test_server_errors_then_recovery(self):
        self.start()
        self.wait_serving("app", "a")
        self.fake.fail("500", count=-1, path_regex=r"/records$",
                       method="GET")
        m = self.wait_metric("dr_dns_api_up", 0)
        wait_until(lambda: self.errors("server") >= 1, 5)
        # The last known values are kept while dr_dns_api_up says stale.
        self.assertEqual(self.serving(m, "app"), "a")
        # The move happens during the outage; it shows once reads work.
        self.move(self.app, SITE_B)
        self.assertEqual(self.serving(self.metrics(), "app"), "a")
        self.fake.clear_faults()
        self.wait_metric("dr_dns_api_up", 1)
        self.wait_serving("app", "b")

    def test_rate_limit_honours_retry_after(self):
        self.start()
        self.wait_serving("app", "a")
        self.fake.clear_requests()
        self.fake.fail("429", count=1, retry_after=2)
        wait_until(lambda: self.errors("rate_limited") >= 1, 5,
                   message="429 counted")
        self.assertEqual(self.metrics().value("dr_dns_api_up"), 0)
        self.wait_metric("dr_dns_api_up", 1, timeout=6)
        log = self.fake.requests()
        limited = [i for i, e in enumerate(log) if e["status"] == 429]
        self.assertEqual(len(limited), 1, log)
        at = limited[0]
        self.assertGreater(len(log), at + 1, "no request after the 429")
        gap = log[at + 1]["time"] - log[at]["time"]
        self.assertGreaterEqual(gap, 2.0, f"next request after {gap:.3f}s")
        self.assertLess(gap, 2.0 + 3 * INTERVAL)

    def test_slow_answers_do_not_slow_scrapes_or_site_probes(self):
        self.start()
        self.wait_serving("app", "a")
        self.fake.fail("slow", count=-1, delay=2.0)
        m = self.wait_metric("dr_dns_api_up", 0)
        wait_until(lambda: self.errors("timeout") >= 1, 5)
        before = m.value("dr_site_probes_total", site="a", result="success")
        for _ in range(5):
            start = time.monotonic()
            m = self.metrics()
            self.assertLess(time.monotonic() - start, 0.2)
            self.assertEqual(m.value("dr_dns_api_up"), 0)
            time.sleep(INTERVAL / 2)
        after = m.value("dr_site_probes_total", site="a", result="success")
        self.assertGreater(after, before, "site probes stalled")
        # A read never outlasts its interval by much.
        self.assertLess(m.value("dr_collector_duration_seconds",
                                collector="dns"), INTERVAL + 0.35)
        self.fake.clear_faults()
        self.wait_metric("dr_dns_api_up", 1, timeout=8)

    def test_dropped_connections_then_recovery(self):
        self.start()
        self.wait_serving("app", "a")
        self.fake.fail("drop", count=-1)
        m = self.wait_metric("dr_dns_api_up", 0)
        wait_until(lambda: self.errors("connect") >= 1, 5)
        self.assertEqual(self.serving(m, "app"), "a")
        self.fake.clear_faults()
        self.wait_metric("dr_dns_api_up", 1)

    def test_live_scrape_passes_promtool(self):
        self.start()
        m = self.wait_serving("app", "a")
        check = subprocess.run(["promtool", "check", "metrics"],
                               input=m.text.encode(), capture_output=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_missing_token_refuses_to_start(self):
        config = write_config(self.tmp.name, {
            "sites": [
                {"name": "a", "address": SITE_A, "health_url": self.a.url},
                {"name": "b", "address": SITE_B, "health_url": self.b.url},
            ],
            "dns": {"api_url": self.fake.url, "domain": "example.com",
                    "records": ["app"]},
        }, name="no-token.yml")
        env = {k: v for k, v in os.environ.items() if k != "LINODE_TOKEN"}
        proc = Process([EXPORTER, "--config.file", str(config),
                        "--web.listen-address", f"127.0.0.1:{free_port()}"],
                       env=env)
        try:
            self.assertEqual(proc.wait(timeout=10), 1)
        finally:
            proc.stop()
        self.assertIn("LINODE_TOKEN", proc.log_text())
        self.assertEqual(self.fake.requests(), [])


if __name__ == "__main__":
    unittest.main()
