"""dr-exporter as a user sees it: flags, endpoints, site health metrics,
reload, and the exposition format checked by promtool.

Real processes on loopback: dr-exporter, two health sites on 127.0.0.11 and
127.0.0.12 (tests/fakes/health_server.py) and the fake Linode API (the DNS
collector needs one).
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))

from fake_linode import FakeLinode  # noqa: E402
from harness import (build_dir, free_port, http, scrape,  # noqa: E402
                     start_process, wait_metric, wait_until, write_config)
from health_server import HealthSite  # noqa: E402

EXPORTER = str(build_dir() / "exporter" / "dr-exporter")
TOKEN = "exporter-test-token"


def base_config(sites, linode_url, **probe):
    return {
        "sites": [{"name": name, "address": addr, "health_url": site.url}
                  for name, addr, site in sites],
        "probe": {"interval": "200ms", "timeout": "150ms", **probe},
        "dns": {"api_url": linode_url, "domain": "example.com",
                "records": ["app"], "ttl": 30},
    }


class ExporterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.linode = FakeLinode(token=TOKEN).start()
        domain = cls.linode.add_domain("example.com")
        cls.linode.add_record(domain, "A", "app", "127.0.0.11", ttl_sec=30)

    @classmethod
    def tearDownClass(cls):
        cls.linode.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.a = HealthSite("127.0.0.11", name="a").start()
        self.b = HealthSite("127.0.0.12", name="b").start()
        self.sites = [("a", "127.0.0.11", self.a), ("b", "127.0.0.12", self.b)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = write_config(
            self.tmp.name, base_config(self.sites, self.linode.url))
        self.proc = start_process(
            [EXPORTER, "--config.file", str(self.config_path),
             "--web.listen-address", f"127.0.0.1:{self.port}"],
            env={"LINODE_TOKEN": TOKEN},
            ready_url=f"{self.url}/-/ready")

    def tearDown(self):
        self.proc.stop()
        self.a.stop()
        self.b.stop()
        self.tmp.cleanup()

    def metrics(self):
        return scrape(f"{self.url}/metrics")

    def wait_metric(self, name, value, timeout=5, **labels):
        return wait_metric(f"{self.url}/metrics", name, value, timeout,
                           **labels)

    def failures(self, site, reason):
        return self.metrics().value("dr_site_probe_failures_total",
                                    site=site, reason=reason)

    def test_healthy_sites_are_up(self):
        m = self.wait_metric("dr_site_up", 1, site="a")
        m = self.wait_metric("dr_site_up", 1, site="b")
        self.assertEqual(m.value("dr_site_probe_http_status_code", site="a"),
                         200)
        self.assertEqual(m.value("dr_site_consecutive_failures", site="a"), 0)
        self.assertGreater(m.value("dr_site_probes_total", site="a",
                                   result="success"), 0)
        self.assertEqual(m.value("dr_site_probes_total", site="a",
                                 result="failure"), 0)
        duration = m.value("dr_site_probe_duration_seconds", site="a")
        self.assertGreater(duration, 0)
        self.assertLess(duration, 0.15)
        for reason in ("timeout", "connect", "dns", "tls", "status"):
            self.assertEqual(self.failures("a", reason), 0, reason)

    def test_status_failure_is_exported_with_its_reason(self):
        self.a.set_mode("fail")
        self.wait_metric("dr_site_up", 0, site="a")
        m = self.wait_metric("dr_site_probe_http_status_code", 503, site="a")
        self.assertGreater(self.failures("a", "status"), 0)
        wait_until(lambda: self.metrics().value(
            "dr_site_consecutive_failures", site="a") >= 3, 5,
            message="consecutive failures grow")
        # The other site is untouched.
        self.assertEqual(m.value("dr_site_up", site="b"), 1)
        self.a.set_mode("ok")
        m = self.wait_metric("dr_site_up", 1, site="a")
        self.assertEqual(m.value("dr_site_consecutive_failures", site="a"), 0)

    def test_closed_listener_is_a_connect_failure(self):
        self.a.set_mode("closed")
        self.wait_metric("dr_site_up", 0, site="a")
        wait_until(lambda: self.failures("a", "connect") > 0, 5)
        self.assertEqual(
            self.metrics().value("dr_site_probe_http_status_code", site="a"),
            0)
        self.a.set_mode("ok")
        self.wait_metric("dr_site_up", 1, site="a")

    def test_hung_site_times_out_without_delaying_the_other(self):
        self.a.set_mode("hang")
        self.wait_metric("dr_site_up", 0, site="a")
        wait_until(lambda: self.failures("a", "timeout") > 0, 5)
        # b keeps being probed every round while a hangs, and a scrape is
        # answered while a's probe is in flight.
        before = self.metrics().value("dr_site_probes_total", site="b",
                                      result="success")
        wait_until(lambda: self.metrics().value(
            "dr_site_probes_total", site="b", result="success") >= before + 5,
            5, message="b probed while a hangs")
        self.b.set_mode("fail")
        self.wait_metric("dr_site_up", 0, site="b")
        self.a.set_mode("ok")
        self.wait_metric("dr_site_up", 1, site="a")

    def test_slow_site_within_timeout_is_up(self):
        self.a.set_mode("slow:0.05")
        self.wait_metric("dr_site_up", 1, site="a")
        wait_until(lambda: self.metrics().value(
            "dr_site_probe_duration_seconds", site="a") >= 0.05, 5)
        self.a.set_mode("slow:0.5")
        self.wait_metric("dr_site_up", 0, site="a")
        wait_until(lambda: self.failures("a", "timeout") > 0, 5)

    def test_endpoints(self):
        status, _, body = http("GET", f"{self.url}/-/healthy")
        self.assertEqual(status, 200)
        status, _, _ = http("GET", f"{self.url}/-/ready")
        self.assertEqual(status, 200)
        status, headers, body = http("GET", f"{self.url}/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(http("GET", f"{self.url}/nope")[0], 404)
        self.assertEqual(http("GET", f"{self.url}/-/reload")[0], 405)
        m = self.metrics()
        info = m.samples("dr_exporter_build_info")
        self.assertEqual(len(info), 1)
        self.assertEqual(info[0][1], 1)
        self.assertIn("version", info[0][0])
        self.assertIn("revision", info[0][0])
        self.assertEqual(m.value("dr_config_last_reload_successful"), 1)
        self.assertIsNotNone(m.value("dr_collector_duration_seconds",
                                     collector="site_health"))

    def test_promtool_accepts_the_exposition(self):
        self.wait_metric("dr_site_up", 1, site="a")
        self.wait_metric("dr_dns_api_up", 1)
        _, _, body = http("GET", f"{self.url}/metrics")
        result = subprocess.run(["promtool", "check", "metrics"], input=body,
                                capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0,
                         result.stdout.decode() + result.stderr.decode())

    def test_sighup_reload_applies_a_new_config(self):
        self.wait_metric("dr_site_up", 1, site="a")
        config = base_config(
            [("a", "127.0.0.11", self.a), ("c", "127.0.0.12", self.b)],
            self.linode.url)
        write_config(self.tmp.name, config)
        self.proc.signal(signal.SIGHUP)
        m = self.wait_metric("dr_site_up", 1, site="c")
        # The removed site's series are gone; a's counters survived.
        wait_until(lambda: self.metrics().value("dr_site_up", site="b")
                   is None, 5, message="site b removed")
        self.assertEqual(m.value("dr_config_last_reload_successful"), 1)
        self.assertGreater(m.value("dr_site_probes_total", site="a",
                                   result="success"), 1)

    def test_bad_config_on_reload_keeps_the_old_one(self):
        self.wait_metric("dr_site_up", 1, site="a")
        self.config_path.write_text("sites: [oops\n")
        status, _, body = http("POST", f"{self.url}/-/reload")
        self.assertEqual(status, 500)
        self.assertIn(b"not valid YAML", body)
        m = self.metrics()
        self.assertEqual(m.value("dr_config_last_reload_successful"), 0)
        # Still probing with the old config.
        before = m.value("dr_site_probes_total", site="a", result="success")
        wait_until(lambda: self.metrics().value(
            "dr_site_probes_total", site="a", result="success") > before, 5)
        # SIGHUP with the same bad file: same outcome, process alive.
        self.proc.signal(signal.SIGHUP)
        time.sleep(0.3)
        self.assertTrue(self.proc.running())
        write_config(self.tmp.name, base_config(self.sites, self.linode.url))
        status, _, _ = http("POST", f"{self.url}/-/reload")
        self.assertEqual(status, 200)
        self.wait_metric("dr_config_last_reload_successful", 1)


class ExporterCommandLineTest(unittest.TestCase):
    def run_exporter(self, *args, env=None):
        return subprocess.run([EXPORTER, *args], capture_output=True,
                              text=True, timeout=30,
                              env={**os.environ, **(env or {})})

    def test_version(self):
        r = self.run_exporter("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^dr-exporter, version \S+ \(revision \S+\)")

    def test_check_config(self):
        with tempfile.TemporaryDirectory() as tmp:
            good = write_config(tmp, base_config(
                [("a", "127.0.0.11", HealthSite("127.0.0.11")),
                 ("b", "127.0.0.12", HealthSite("127.0.0.12"))],
                "http://127.0.0.1:1/v4"), name="good.yml")
            r = self.run_exporter("--config.file", str(good), "--check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
            # Valid but probably not meant: a warning, still exit 0.
            clear = write_config(tmp, base_config(
                [("a", "127.0.0.11", HealthSite("127.0.0.11")),
                 ("b", "127.0.0.12", HealthSite("127.0.0.12"))],
                "http://linode-proxy.example.com/v4"), name="clear.yml")
            r = self.run_exporter("--config.file", str(clear),
                                  "--check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(
                r.stderr, f"{clear}: warning: dns.api_url: plain http to "
                "linode-proxy.example.com sends the Linode token "
                "unencrypted; use https\n")
            bad = write_config(tmp, "sites: []\n", name="bad.yml")
            r = self.run_exporter("--config.file", str(bad), "--check-config")
            self.assertEqual(r.returncode, 1)
            self.assertIn("bad.yml:1: sites: at least two sites are required",
                          r.stderr)
            self.assertIn("dns: required", r.stderr)

    def test_bad_config_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = write_config(tmp, "sites: 1\n")
            r = self.run_exporter("--config.file", str(bad),
                                  "--web.listen-address",
                                  f"127.0.0.1:{free_port()}")
            self.assertEqual(r.returncode, 1)
            self.assertIn("sites: must be a list", r.stderr)

    def test_unknown_flag_values_are_refused(self):
        r = self.run_exporter("--config.file", "x", "--log.level", "loud")
        self.assertNotEqual(r.returncode, 0)
        r = self.run_exporter("--config.file", "x", "--log.format", "xml")
        self.assertNotEqual(r.returncode, 0)

    def test_json_logs(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad_token = write_config(tmp, base_config(
                [("a", "127.0.0.11", HealthSite("127.0.0.11")),
                 ("b", "127.0.0.12", HealthSite("127.0.0.12"))],
                "http://127.0.0.1:1/v4"))
            port = free_port()
            proc = start_process(
                [EXPORTER, "--config.file", str(bad_token),
                 "--web.listen-address", f"127.0.0.1:{port}",
                 "--log.format", "json"],
                env={"LINODE_TOKEN": "x"},
                ready_line=r'"msg":"dr-exporter started"')
            proc.stop()
            import json
            for line in proc.log_text().splitlines():
                if line.startswith("{"):
                    json.loads(line)


if __name__ == "__main__":
    unittest.main()
