"""The alerting side of SPEC.md §8: alerts/ as Prometheus, Alertmanager and
the daemons see it.

- alerts/check.sh passes (promtool check rules, the promtool unit tests,
  promtool check config, amtool check-config and route tests), and fails
  when a rule or the Alertmanager config is broken;
- every alert is complete (severity, summary, templated description, a
  `for:`), has promtool tests that show it firing and not firing, and only
  DRSiteDown carries dr_action="traffic_failover";
- every metric name the rules query is one the daemons export: listed in
  README.md's metric tables, registered in the daemons' source, and present
  in a live scrape of the real dr-exporter (with two DynamoDB regions on
  dynalite) and dr-actuator on loopback;
- the job names the rules match on are the example Prometheus config's;
- the example Alertmanager config routes DR alerts to dr-actuator the way
  the actuator needs (group_wait 0s, short group_interval and
  repeat_interval, send_resolved, bearer token from a file), and the real
  Alertmanager run on it delivers DRSiteDown to the actuator's webhook at
  once with the token, then its resolution, and nothing else.

(The whole chain, real Prometheus with these rules included, is
tests/e2e/.)
"""

import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))

from harness import (build_dir, free_port, http, repo_root,  # noqa: E402
                     scrape, start_process, wait_until, write_config)

REPO = repo_root()
ALERTS = REPO / "alerts"
RULES = ALERTS / "dr-failover.rules.yml"
SEVERITIES = {"critical", "warning", "info"}
METRIC = re.compile(r"(?<![A-Za-z0-9_:])dr_[a-z0-9_]+(?![A-Za-z0-9_:])")
QUERY_IN_TEMPLATE = re.compile(r'\bquery\s+"((?:[^"\\]|\\.)*)"')


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rule_groups():
    return load_yaml(RULES)["groups"]


def alerting_rules():
    """{alert name: (group, rule)}"""
    found = {}
    for group in rule_groups():
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["alert"] not in found, rule["alert"]
                found[rule["alert"]] = (group, rule)
    return found


def recorded_names():
    return {rule["record"] for group in rule_groups()
            for rule in group["rules"] if "record" in rule}


def queried_metric_names():
    """{metric name: [where]} for every dr_* name in the rule expressions
    and in the queries of annotation templates."""
    names = {}
    for group in rule_groups():
        for rule in group["rules"]:
            where = rule.get("alert") or rule.get("record")
            texts = [rule["expr"]]
            for text in (rule.get("annotations") or {}).values():
                texts += QUERY_IN_TEMPLATE.findall(text)
            for text in texts:
                for name in METRIC.findall(text):
                    names.setdefault(name, []).append(where)
    return names


def readme_metric_names():
    """Names in the first column of README.md's tables."""
    names = set()
    for line in (REPO / "README.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        first_cell = line.split("|")[1]
        names.update(re.findall(r"`(dr_[a-z0-9_]+)`", first_cell))
    return names


def source_metric_names():
    """Metric names the daemons register: "dr_..." string literals in the
    C++ sources of exporter/, actuator/ and the shared code."""
    names = set()
    for top in ("exporter", "actuator", "core"):
        for path in (REPO / top).rglob("*"):
            if path.suffix in (".cc", ".h"):
                names.update(re.findall(r'"(dr_[a-z0-9_]+)"',
                                        path.read_text(errors="replace")))
    return names


def run_check(alerts_dir):
    return subprocess.run(["bash", str(alerts_dir / "check.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)


# --------------------------------------------------------------------------
class CheckScriptTest(unittest.TestCase):
    def test_check_script_passes(self):
        r = run_check(ALERTS)
        self.assertEqual(r.returncode, 0, r.stdout)
        for what in ("promtool check rules", "promtool test rules",
                     "promtool check config", "amtool check-config",
                     "amtool config routes test"):
            self.assertIn(what, r.stdout)
        self.assertRegex(r.stdout, r"summary: \d+ passed, 0 failed")
        # Every unit test file ran.
        for path in sorted((ALERTS / "tests").glob("*.yml")):
            self.assertIn(f"Unit Testing:  tests/{path.name}", r.stdout)

    def _broken_copy(self, path, old, new):
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="dr-alerts-"))
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        copy = tmp / "alerts"
        shutil.copytree(ALERTS, copy)
        text = (copy / path).read_text()
        self.assertEqual(text.count(old), 1, old)
        (copy / path).write_text(text.replace(old, new))
        return run_check(copy)

    def test_check_script_fails_when_the_majority_rule_is_wrong(self):
        # A tie (1 of 2 exporters) would fail over: the unit tests catch it.
        r = self._broken_copy("dr-failover.rules.yml",
                              "expr: avg by (site) (dr_site_up) < 0.5",
                              "expr: avg by (site) (dr_site_up) <= 0.5")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("FAILED: promtool test rules", r.stdout)
        self.assertIn("does not fire on a tie", r.stdout)

    def test_check_script_fails_when_for_is_off_by_one_step(self):
        r = self._broken_copy("dr-failover.rules.yml",
                              "        for: 3s\n", "        for: 2s\n")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("FAILED: promtool test rules", r.stdout)

    def test_check_script_fails_on_a_bad_alertmanager_config(self):
        r = self._broken_copy("alertmanager.example.yml",
                              "    - receiver: dr-actuator\n",
                              "    - receiver: no-such-receiver\n")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("FAILED: amtool check-config", r.stdout)


# --------------------------------------------------------------------------
class RuleFileTest(unittest.TestCase):
    def test_every_alert_is_complete(self):
        alerts = alerting_rules()
        self.assertGreaterEqual(len(alerts), 9)
        for name, (_, rule) in alerts.items():
            with self.subTest(alert=name):
                self.assertRegex(name, r"^DR[A-Za-z]+$")
                self.assertIn(rule["labels"]["severity"], SEVERITIES)
                annotations = rule["annotations"]
                self.assertTrue(annotations["summary"].strip())
                self.assertIn("{{", annotations["description"],
                              "the description must be templated")
                self.assertIn("for", rule, "every alert needs a for:")

    def test_spec_alerts_exist(self):
        # SPEC.md §8: site down, both sites down, replica not ACTIVE,
        # replication lag high, serving a non-preferred site for long,
        # actuator not converged, exporter or actuator down.
        for name in ("DRSiteDown", "DRAllSitesDown", "DRReplicaNotActive",
                     "DRReplicationLagHigh", "DRServingNonPreferredSite",
                     "DRActuatorNotConverged", "DRExporterDown",
                     "DRActuatorDown"):
            self.assertIn(name, alerting_rules())

    def test_site_down_decides_by_majority_and_triggers_the_actuator(self):
        group, rule = alerting_rules()["DRSiteDown"]
        self.assertIn("avg by (site) (dr_site_up)", rule["expr"])
        self.assertEqual(rule["labels"]["dr_action"], "traffic_failover")
        self.assertEqual(rule["labels"]["severity"], "critical")
        # Fast enough for the failover budget (10 s median, end to end):
        # evaluated every second, confirmed within a few.
        self.assertEqual(group["interval"], "1s")
        self.assertIn(rule["for"], ("2s", "3s", "4s", "5s"))

    def test_only_site_down_triggers_the_actuator(self):
        acting = [name for name, (_, rule) in alerting_rules().items()
                  if "dr_action" in rule.get("labels", {})]
        self.assertEqual(acting, ["DRSiteDown"])

    def test_every_alert_has_firing_and_not_firing_unit_tests(self):
        firing, quiet = set(), set()
        for path in (ALERTS / "tests").glob("*.yml"):
            for test in load_yaml(path)["tests"]:
                for case in test.get("alert_rule_test", []):
                    (firing if case.get("exp_alerts") else quiet).add(
                        case["alertname"])
        for name in alerting_rules():
            with self.subTest(alert=name):
                self.assertIn(name, firing, "no test shows it firing")
                self.assertIn(name, quiet, "no test shows it not firing")

    def test_job_names_match_the_example_prometheus_config(self):
        config = load_yaml(ALERTS / "prometheus.example.yml")
        jobs = {j["job_name"] for j in config["scrape_configs"]}
        used = set()
        for _, rule in alerting_rules().values():
            used.update(re.findall(r'job="([^"]+)"', rule["expr"]))
        self.assertEqual(used, {"dr-exporter", "dr-actuator"})
        self.assertLessEqual(used, jobs)
        # The rule file is loaded by a path relative to the config.
        self.assertIn(RULES.name, config["rule_files"])


# --------------------------------------------------------------------------
class MetricNamesTest(unittest.TestCase):
    def test_rules_query_metrics(self):
        names = queried_metric_names()
        self.assertIn("dr_site_up", names)
        self.assertGreaterEqual(len(names), 10, names)

    def test_every_queried_metric_is_in_the_readme_tables(self):
        readme = readme_metric_names()
        self.assertIn("dr_site_up", readme)  # the parser found the tables
        for name, where in queried_metric_names().items():
            with self.subTest(metric=name):
                self.assertIn(name, readme, f"used by {where}")

    def test_every_queried_metric_is_registered_by_a_daemon(self):
        registered = source_metric_names()
        for name, where in queried_metric_names().items():
            with self.subTest(metric=name):
                self.assertIn(name, registered, f"used by {where}")

    def test_recorded_names_do_not_look_like_daemon_metrics(self):
        # A recording rule must never shadow (or pass for) a real metric.
        for name in recorded_names():
            self.assertIn(":", name)
            self.assertFalse(METRIC.fullmatch(name), name)


# --------------------------------------------------------------------------
class LiveScrapeTest(unittest.TestCase):
    """The real daemons on loopback: two health sites, the fake Linode API,
    two DynamoDB regions (dynalite) with heartbeat replication."""

    TOKEN = "alerts-test-linode-token"

    @classmethod
    def setUpClass(cls):
        exporter = build_dir() / "exporter" / "dr-exporter"
        actuator = build_dir() / "actuator" / "dr-actuator"
        if not (exporter.exists() and actuator.exists()):
            raise unittest.SkipTest(f"daemons not built in {build_dir()}")
        from dynalite import Dynalite, Replicator
        from fake_linode import FakeLinode
        from health_server import HealthSite

        cls.cleanups = []
        try:
            cls._start(exporter, actuator, Dynalite, Replicator, FakeLinode,
                       HealthSite)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls, exporter, actuator, Dynalite, Replicator, FakeLinode,
               HealthSite):
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="dr-alerts-live-"))
        cls.cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
        linode = FakeLinode(token=cls.TOKEN).start()
        cls.cleanups.append(linode.stop)
        domain = linode.add_domain("example.com")
        linode.add_record(domain, "A", "app", "127.0.0.11", ttl_sec=30)
        sites = {}
        for name, addr in (("us-east", "127.0.0.11"),
                           ("eu-central", "127.0.0.12")):
            sites[name] = HealthSite(addr, name=name).start()
            cls.cleanups.append(sites[name].stop)
        regions = {}
        for name, region in (("us-east", "us-east-1"),
                             ("eu-central", "eu-west-1")):
            regions[name] = Dynalite(region=region).start()
            cls.cleanups.append(regions[name].stop)
            for table in ("user_profiles", "dr_heartbeat"):
                regions[name].create_table(table)
        east, west = regions["us-east"], regions["eu-central"]
        for src, dst in ((east, west), (west, east)):
            r = Replicator(src, dst, "dr_heartbeat", 0.2).start()
            cls.cleanups.append(r.stop)

        for name, text in (("linode-token", cls.TOKEN), ("webhook-token", "w"),
                           ("api-token", "a"), ("known_hosts", "")):
            (tmp / name).write_text(text + "\n" if text else "")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                        "-f", str(tmp / "id_ed25519")], check=True)
        config = {
            "sites": [
                {"name": name, "address": addr,
                 "health_url": sites[name].url, "aws_region": region,
                 "dynamodb_endpoint": regions[name].endpoint,
                 "hosts": [{"address": "127.0.0.1", "port": 1,
                            "user": "deploy"}]}
                for name, addr, region in (
                    ("us-east", "127.0.0.11", "us-east-1"),
                    ("eu-central", "127.0.0.12", "eu-west-1"))],
            "probe": {"interval": "200ms", "timeout": "150ms"},
            "dns": {"api_url": linode.url, "domain": "example.com",
                    "records": ["app"], "ttl": 30,
                    "token_file": str(tmp / "linode-token")},
            "dynamodb": {"tables": ["user_profiles"],
                         "heartbeat": {"table": "dr_heartbeat",
                                       "interval": "200ms"}},
            "actuator": {
                "mode": "manual",  # never acts: these tests only scrape
                "state_dir": str(tmp / "state"),
                "webhook_token_file": str(tmp / "webhook-token"),
                "api_token_file": str(tmp / "api-token"),
                "ssh": {"private_key_file": str(tmp / "id_ed25519"),
                        "known_hosts_file": str(tmp / "known_hosts")},
                "activate": {"env_file": "/opt/app/.env",
                             "env": {"AWS_REGION": "{site.aws_region}"},
                             "reload_command": "true"},
            },
        }
        path = write_config(tmp, config)
        cls.urls = {}
        for daemon, binary in (("exporter", exporter),
                               ("actuator", actuator)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_process(
                [str(binary), "--config.file", str(path),
                 "--web.listen-address", f"127.0.0.1:{port}"],
                env={"AWS_ACCESS_KEY_ID": "AKIDALERTS",
                     "AWS_SECRET_ACCESS_KEY": "alerts"},
                ready_url=f"{url}/-/ready", timeout=20)
            cls.cleanups.append(proc.stop)
            cls.urls[daemon] = f"{url}/metrics"

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            cleanup()
        cls.cleanups = []

    @staticmethod
    def exposed_names(metrics):
        """Family names in a scrape: from `# TYPE` lines, so a family with
        no samples yet counts, and sample names (x_total, x_bucket...)."""
        names = set(metrics.names())
        names.update(re.findall(r"^# TYPE (\S+)", metrics.text, re.M))
        return names

    def test_every_queried_metric_is_in_a_live_scrape(self):
        queried = queried_metric_names()
        # A replica status needs DescribeTable's Replicas, which only AWS
        # answers (dynalite has none): that one is checked against the
        # README and the source above, and by the exporter's unit tests on
        # recorded AWS responses.
        not_live = {"dr_dynamodb_replica_status"}

        def complete():
            names = set()
            for url in self.urls.values():
                names |= self.exposed_names(scrape(url))
            missing = set(queried) - not_live - names
            return None if missing else names
        try:
            wait_until(complete, 15, interval=0.2)
        except AssertionError:
            names = set()
            for url in self.urls.values():
                names |= self.exposed_names(scrape(url))
            missing = sorted(set(queried) - not_live - names)
            self.fail(f"queried by the rules but not exported: "
                      f"{ {n: queried[n] for n in missing} }")

    def test_rule_label_values_match_the_daemons(self):
        """The label values the rules compare with are the ones exposed."""
        m = wait_until(
            lambda: (lambda s: s if s.samples(
                "dr_dynamodb_table_status") else None)(
                scrape(self.urls["exporter"])), 15, interval=0.2,
            message="table status exported")
        # DRTableNotActive / DRReplicaNotActive compare status with ACTIVE.
        self.assertEqual(m.value("dr_dynamodb_table_status", site="us-east",
                                 table="user_profiles", status="ACTIVE"), 1)
        # DRDNSRecordUnknownTarget and DRServingNonPreferredSite use
        # site="unknown".
        self.assertIsNotNone(m.value("dr_dns_serving_site", record="app",
                                     site="unknown"))
        # dr:preferred_site must name a configured site: the shipped one
        # is the first site of examples/config.yml.
        example = load_yaml(REPO / "examples" / "config.yml")
        preferred = [r["labels"]["site"] for g in rule_groups()
                     for r in g["rules"] if r.get("record") ==
                     "dr:preferred_site"]
        self.assertEqual(preferred, [example["sites"][0]["name"]])


# --------------------------------------------------------------------------
class AlertmanagerExampleTest(unittest.TestCase):
    def setUp(self):
        self.config = load_yaml(ALERTS / "alertmanager.example.yml")
        self.receivers = {r["name"]: r for r in self.config["receivers"]}

    def dr_route(self):
        routes = [r for r in self.config["route"].get("routes", [])
                  if r.get("receiver") == "dr-actuator"]
        self.assertEqual(len(routes), 1, routes)
        return routes[0]

    def test_dr_alerts_go_to_the_actuator_without_delay(self):
        route = self.dr_route()
        self.assertEqual(route["matchers"], ['dr_action="traffic_failover"'])
        self.assertIn("site", route["group_by"])
        self.assertEqual(route["group_wait"], "0s")
        self.assertIn(route["group_interval"], ("1s", "2s", "5s", "10s"))
        self.assertIn(route["repeat_interval"], ("30s", "1m", "2m"))
        # People get them too, and everything else goes to people only.
        self.assertTrue(route.get("continue"))
        self.assertNotEqual(self.config["route"]["receiver"], "dr-actuator")

    def test_the_actuator_webhook(self):
        hooks = self.receivers["dr-actuator"]["webhook_configs"]
        self.assertEqual(len(hooks), 1)
        hook = hooks[0]
        self.assertTrue(hook["url"].endswith("/api/v1/alertmanager"))
        self.assertIs(hook["send_resolved"], True)
        auth = hook["http_config"]["authorization"]
        self.assertEqual(auth.get("type", "Bearer"), "Bearer")
        self.assertTrue(auth["credentials_file"])
        self.assertNotIn("credentials", auth, "no token inline")


# --------------------------------------------------------------------------
class _Hooks:
    """Webhook receivers on loopback: records each POST (path, headers,
    JSON body, arrival time)."""

    def __init__(self):
        received = self.received = []
        lock = self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    received.append((self.path, dict(self.headers),
                                     json.loads(body), time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def on(self, path):
        with self.lock:
            return [r for r in self.received if r[0] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class AlertmanagerLiveTest(unittest.TestCase):
    """The shipped Alertmanager config, run by the real Alertmanager, with
    only the receivers' URLs and the token file pointed at this test."""

    TOKEN = "alerts-test-webhook-token"

    def setUp(self):
        self.assertIsNotNone(shutil.which("prometheus-alertmanager"),
                             "prometheus-alertmanager is not installed")
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dr-alerts-am-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.hooks = _Hooks()
        self.addCleanup(self.hooks.stop)
        (self.tmp / "token").write_text(self.TOKEN + "\n")
        config = load_yaml(ALERTS / "alertmanager.example.yml")
        for receiver in config["receivers"]:
            for hook in receiver["webhook_configs"]:
                hook["url"] = f"{self.hooks.url}/{receiver['name']}"
                auth = hook.get("http_config", {}).get("authorization")
                if auth:
                    auth["credentials_file"] = str(self.tmp / "token")
        path = write_config(self.tmp, config, name="alertmanager.yml")
        self.port = free_port()
        self.am = start_process(
            ["prometheus-alertmanager", f"--config.file={path}",
             f"--storage.path={self.tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address="],
            ready_url=f"http://127.0.0.1:{self.port}/-/ready", timeout=20)
        self.addCleanup(self.am.stop)

    def post(self, labels, resolved=False):
        """Posts one alert as Prometheus does; returns when (monotonic)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        ends = now - datetime.timedelta(seconds=1) if resolved else \
            now + datetime.timedelta(minutes=5)
        alert = {"labels": labels,
                 "annotations": {"summary": "test"},
                 "startsAt": (now - datetime.timedelta(minutes=1)).isoformat(),
                 "endsAt": ends.isoformat()}
        status, _, body = http("POST",
                               f"http://127.0.0.1:{self.port}/api/v2/alerts",
                               body=[alert])
        self.assertEqual(status, 200, body)
        return time.monotonic()

    def test_site_down_reaches_the_actuator_at_once_with_the_token(self):
        site_down = {"alertname": "DRSiteDown", "site": "us-east",
                     "severity": "critical", "dr_action": "traffic_failover"}
        sent = self.post(site_down)
        self.post({"alertname": "DRReplicationLagHigh", "severity": "warning",
                   "source_site": "us-east", "target_site": "eu-central"})
        hook = wait_until(lambda: self.hooks.on("/dr-actuator"), 5,
                          message="DRSiteDown at the actuator")[0]
        _, headers, body, arrived = hook
        # group_wait 0s: delivered at once, not after a grouping delay.
        self.assertLess(arrived - sent, 2.0)
        self.assertEqual(headers.get("Authorization"),
                         f"Bearer {self.TOKEN}")
        self.assertEqual(body["version"], "4")
        self.assertEqual(body["status"], "firing")
        self.assertEqual([a["labels"] for a in body["alerts"]], [site_down])
        # The resolution follows within group_interval (5s), as
        # send_resolved asks.
        resolved_at = self.post(site_down, resolved=True)
        resolved = wait_until(
            lambda: [r for r in self.hooks.on("/dr-actuator")
                     if r[2]["status"] == "resolved"], 10,
            message="resolved notification at the actuator")[0]
        self.assertLess(resolved[3] - resolved_at, 7.0)
        self.assertEqual(resolved[1].get("Authorization"),
                         f"Bearer {self.TOKEN}")
        # Other alerts never reach the actuator.
        for _, _, body, _ in self.hooks.on("/dr-actuator"):
            for a in body["alerts"]:
                self.assertEqual(a["labels"]["alertname"], "DRSiteDown")


if __name__ == "__main__":
    unittest.main()
