#!/usr/bin/python3
"""The Grafana dashboard (dashboards/dr-failover.json) against the real
daemons, through a real Prometheus.

One world on loopback for the whole class: two health sites (127.0.0.11,
127.0.0.12), two sshd hosts and the fake Linode API (actuator_env.World),
two dynalite regions with a replicated heartbeat table behind a proxy that
answers DescribeTable the way a global table does (with `Replicas`),
dr-exporter, dr-actuator, and `prometheus` scraping both daemons every
second. One failover is triggered (us-east fails, Alertmanager's
notification arrives, the actuator switches to eu-central), so that the
switch, decision and action series exist.

Then every PromQL expression of the dashboard (panel targets, rows' nested
panels, the annotation, the `site` variable's query) is run against that
Prometheus with the Grafana variables substituted: each must parse and
return at least one series. Every `dr_*` name in the dashboard must be a
metric one of the daemons exports.
"""

import copy
import json
import pathlib
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

from actuator_env import World, alert, notification
from harness import (build_dir, free_port, http, repo_root, scrape,
                     start_process, wait_until, write_config)

sys.path.insert(0, str(repo_root() / "tests" / "fakes"))
from dynalite import Dynalite, Replicator  # noqa: E402
from sigv4_proxy import SigV4Proxy  # noqa: E402

DASHBOARD = repo_root() / "dashboards" / "dr-failover.json"
EXPORTER = build_dir() / "exporter" / "dr-exporter"
PROMETHEUS = shutil.which("prometheus")

AKID = "AKIDDRFAILOVERDASH"
SECRET = "dr/failover+dashboard+KEY0123456789abcd"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDDRDASHBOARDTOKEN+abc="
SITES = ("us-east", "eu-central")
REGIONS = {"us-east": "us-east-1", "eu-central": "eu-west-1"}

# What Grafana puts in place of its variables. The windows are short
# enough for the ~20 s of data the test has, and long enough (>= 4
# scrapes at 1 s) for rate() and changes() to see several samples.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
    "site": "|".join(SITES),  # multi-value "All": a regex alternation
    "datasource": "prometheus",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
# A metric name in the dashboard's text; no other word starts with "dr_".
_DR_NAME = re.compile(r"(?<![A-Za-z0-9_:])dr_[a-z_]+")
_RATE_CALL = re.compile(
    r"\b(rate|irate|increase)\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")


def substitute(expr):
    """The expression as Grafana sends it, variables replaced."""
    def value(m):
        name = m.group(1) or m.group(2)
        if name not in GRAFANA_VARIABLES:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]
    return _VARIABLE.sub(value, expr)


def walk(node):
    """Every dict inside `node` (JSON), depth first."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def panels(dashboard):
    """Every panel, including those nested in (collapsed) rows."""
    for p in dashboard.get("panels", []):
        yield p
        for inner in p.get("panels", []):
            yield inner


def queries(dashboard):
    """[(where, PromQL)] of every panel target and annotation query."""
    found = []
    for p in panels(dashboard):
        for t in p.get("targets", []):
            if t.get("expr"):
                found.append((f"panel {p.get('title')!r} "
                              f"target {t.get('refId')}", t["expr"]))
    for a in dashboard.get("annotations", {}).get("list", []):
        for expr in {a.get("expr"), (a.get("target") or {}).get("expr")}:
            if expr:
                found.append((f"annotation {a.get('name')!r}", expr))
    # Nothing with an `expr` may hide elsewhere (library panels, overrides).
    every = {(d["expr"]) for d in walk(dashboard)
             if isinstance(d.get("expr"), str) and d["expr"]}
    missed = every - {e for _, e in found}
    if missed:
        raise AssertionError(f"expressions outside panels' targets and "
                             f"annotations: {sorted(missed)}")
    return found


def variable_queries(dashboard):
    """[(variable name, query string)] of the query variables."""
    found = []
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        found.append((v["name"], q or v.get("definition")))
    return found


class GlobalTableProxy(SigV4Proxy):
    """A SigV4-checking proxy in front of one dynalite region that adds the
    `Replicas` a global table (version 2019.11.21) reports to DescribeTable
    answers: every other region's replica, ACTIVE. dynalite has none."""

    def __init__(self, upstream, region, replica_regions):
        super().__init__(upstream, region, AKID, SECRET, TOKEN)
        self.replica_regions = list(replica_regions)

    def _forward(self, method, path, headers, body):
        status, content_type, payload = super()._forward(method, path,
                                                         headers, body)
        target = {n.lower(): v for n, v in headers}.get("x-amz-target", "")
        if status == 200 and target.endswith(".DescribeTable"):
            answer = json.loads(payload)
            answer["Table"]["GlobalTableVersion"] = "2019.11.21"
            answer["Table"]["Replicas"] = [
                {"RegionName": r, "ReplicaStatus": "ACTIVE"}
                for r in self.replica_regions]
            payload = json.dumps(answer).encode()
        return status, content_type, payload


def aws_env():
    env = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_SESSION_TOKEN": TOKEN}
    for name in list(env):
        env[name + "_FILE"] = ""  # empty counts as unset
    return env


# prometheus, node and dynalite are installed by scripts/setup.sh; a
# missing one fails the test rather than skipping it.
class DashboardTest(unittest.TestCase):
    dashboard = None

    @classmethod
    def setUpClass(cls):
        cls.dashboard = json.loads(DASHBOARD.read_text())
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="drf-dashboard-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

        # dr-actuator and its world (sites, hosts, Linode).
        cls.world = World()
        cls.addClassCleanup(cls.world.cleanup)
        cls.world.start()

        # Two DynamoDB regions, a global heartbeat table between them.
        regions = {}
        for site in SITES:
            regions[site] = Dynalite(region=REGIONS[site]).start()
            cls.addClassCleanup(regions[site].stop)
            for table in ("user_profiles", "dr_heartbeat"):
                regions[site].create_table(table)
        east, west = regions["us-east"], regions["eu-central"]
        for src, dst in ((east, west), (west, east)):
            r = Replicator(src, dst, "dr_heartbeat", 0.5).start()
            cls.addClassCleanup(r.stop)
        proxies = {}
        for site in SITES:
            others = [REGIONS[s] for s in SITES if s != site]
            proxies[site] = GlobalTableProxy(regions[site].endpoint,
                                             REGIONS[site], others).start()
            cls.addClassCleanup(proxies[site].stop)

        # dr-exporter: the same sites and records as the actuator's.
        config = copy.deepcopy(cls.world.config)
        del config["actuator"]
        for s in config["sites"]:
            s["dynamodb_endpoint"] = proxies[s["name"]].endpoint
        config["dynamodb"] = {
            "tables": ["user_profiles"],
            "heartbeat": {"table": "dr_heartbeat", "interval": "500ms"}}
        exporter_dir = cls.tmp / "exporter"
        exporter_dir.mkdir()
        port = free_port()
        cls.exporter_url = f"http://127.0.0.1:{port}"
        cls.exporter = start_process(
            [EXPORTER, "--config.file", write_config(exporter_dir, config),
             "--web.listen-address", f"127.0.0.1:{port}"],
            ready_url=f"{cls.exporter_url}/-/ready", env=aws_env(),
            timeout=20)
        cls.addClassCleanup(cls.exporter.stop)

        # Prometheus scraping both.
        prom_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "dr-exporter", "static_configs": [
                    {"targets": [cls.exporter_url.split("//")[1]]}]},
                {"job_name": "dr-actuator", "static_configs": [
                    {"targets": [cls.world.url.split("//")[1]]}]},
            ],
        }
        prom_dir = cls.tmp / "prometheus"
        (prom_dir / "data").mkdir(parents=True)
        port = free_port()
        cls.prom_url = f"http://127.0.0.1:{port}"
        cls.prometheus = start_process(
            [PROMETHEUS,
             "--config.file", write_config(prom_dir, prom_config,
                                           "prometheus.yml"),
             "--storage.tsdb.path", prom_dir / "data",
             "--web.listen-address", f"127.0.0.1:{port}"],
            ready_url=f"{cls.prom_url}/-/ready", timeout=20)
        cls.addClassCleanup(cls.prometheus.stop)

        # Samples of both daemons before the failover (target discovery is
        # held back ~5 s), replication lag included, so that counters and
        # gauges are seen before and after the switch.
        for expr in ('up{job="dr-exporter"} == 1',
                     'up{job="dr-actuator"} == 1',
                     "dr_dynamodb_replication_lag_seconds",
                     "dr_dynamodb_replica_status",
                     "dr_actuator_decisions_total"):
            wait_until(lambda e=expr: cls.query(e)[1], 20,
                       interval=0.25, message=f"Prometheus has {expr}")

        # One failover: us-east fails, the alert arrives, the actuator
        # confirms and switches to eu-central.
        cls.world.sites["us-east"].set_mode("fail")
        status, _, _ = cls.world.webhook(notification(alert("us-east")))
        if status != 200:
            raise AssertionError(f"webhook answered {status}")
        cls.world.wait_switched_to("eu-central", "127.0.0.12")

        # Both daemons as they are now (every series the dashboard uses
        # exists on one of them once the switch happened).
        cls.exposed = {}  # name -> TYPE, from both daemons' /metrics
        for url in (cls.exporter_url, cls.world.url):
            cls.exposed.update(exposition_types(
                scrape(f"{url}/metrics").text))

    # ------------------------------------------------------------ helpers

    @classmethod
    def query(cls, expr):
        """(Prometheus's JSON answer, its result list) for an instant
        query at now; the answer's status is checked by the caller."""
        url = (f"{cls.prom_url}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        status, _, body = http("GET", url, timeout=10)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            return answer, []
        return answer, answer["data"]["result"]

    # ------------------------------------------------------------ tests

    def test_dashboard_has_datasource_and_site_variables(self):
        d = self.dashboard
        self.assertNotIn("__inputs", d)
        self.assertGreaterEqual(d["schemaVersion"], 36)
        variables = {v["name"]: v for v in d["templating"]["list"]}
        ds = variables.get("datasource")
        self.assertIsNotNone(ds, "no datasource variable")
        self.assertEqual(ds["type"], "datasource")
        self.assertEqual(ds["query"], "prometheus")
        site = variables.get("site")
        self.assertIsNotNone(site, "no site variable")
        self.assertEqual(site["type"], "query")
        self.assertTrue(site["multi"])
        self.assertTrue(site["includeAll"])
        self.assertIn("label_values(dr_site_up, site)",
                      json.dumps(site["query"]))
        ids = []
        for p in panels(d):
            ids.append(p["id"])
            self.assertIn("gridPos", p, p["title"])
            if p["type"] == "row":
                continue
            self.assertEqual(p.get("datasource"),
                             {"type": "prometheus", "uid": "${datasource}"},
                             p["title"])
            self.assertTrue(p.get("targets"), p["title"])
            for t in p["targets"]:
                self.assertEqual(t.get("datasource"), p["datasource"],
                                 f"{p['title']} {t.get('refId')}")
                self.assertTrue(t.get("expr"), p["title"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids are not unique")

    def test_switches_are_annotated(self):
        annotations = [a for a in self.dashboard["annotations"]["list"]
                       if a.get("datasource", {}).get("uid")
                       == "${datasource}"]
        self.assertTrue(annotations, "no Prometheus annotation")
        exprs = " ".join(json.dumps(a) for a in annotations)
        self.assertTrue("dr_actuator_last_switch_timestamp_seconds" in exprs
                        or "dr_actuator_switches_total" in exprs, exprs)
        for a in annotations:
            self.assertTrue(a["enable"], a["name"])

    def test_the_dashboard_covers_every_exported_metric(self):
        used = set(_DR_NAME.findall(DASHBOARD.read_text()))
        missing = {name for name, kind in self.exposed.items()
                   if kind != "histogram_part"} - used
        self.assertEqual(missing, set(), "metrics with no panel")

    def test_every_metric_name_is_exported_by_a_daemon(self):
        used = set(_DR_NAME.findall(DASHBOARD.read_text()))
        self.assertTrue(used)
        unknown = sorted(n for n in used if n not in self.exposed)
        self.assertEqual(unknown, [], "names no daemon exports (exported: "
                         f"{sorted(self.exposed)})")

    def test_rates_are_taken_of_counters_only(self):
        for where, expr in queries(self.dashboard):
            for func, name in _RATE_CALL.findall(expr):
                self.assertIn(self.exposed.get(name),
                              ("counter", "histogram_part"),
                              f"{where}: {func}({name}) of a "
                              f"{self.exposed.get(name)}")

    def test_site_variable_lists_both_sites(self):
        for name, q in variable_queries(self.dashboard):
            m = _LABEL_VALUES.match(q or "")
            self.assertIsNotNone(m, f"variable {name}: {q!r}")
            metric, label = m.group(1), m.group(2)
            params = [("match[]", metric)] if metric else []
            url = (f"{self.prom_url}/api/v1/label/{label}/values?"
                   + urllib.parse.urlencode(params))
            status, _, body = http("GET", url)
            answer = json.loads(body)
            self.assertEqual((status, answer["status"]), (200, "success"),
                             answer)
            if name == "site":
                self.assertEqual(sorted(answer["data"]), sorted(SITES))

    def test_every_query_parses_and_returns_data(self):
        found = queries(self.dashboard)
        self.assertGreater(len(found), 20)
        pending, rejected = {}, {}
        for where, expr in found:
            promql = substitute(expr)
            self.assertNotIn("$", promql, where)
            answer, _ = self.query(promql)
            # "success" proves it parses; a bad query is a 400 "error".
            if answer.get("status") != "success":
                rejected[where] = (promql, answer.get("error"))
            else:
                pending[where] = promql
        self.assertEqual(rejected, {}, "queries Prometheus rejects")
        # Each query must return a series; the windows after the switch
        # fill up within a few scrapes.
        deadline = time.monotonic() + 20
        while pending and time.monotonic() < deadline:
            for where, promql in list(pending.items()):
                if self.query(promql)[1]:
                    del pending[where]
            if pending:
                time.sleep(0.5)
        self.assertEqual(pending, {}, "queries without data")


def exposition_types(text):
    """{sample name: type} of a text exposition; a histogram's _bucket,
    _sum and _count are "histogram_part", its bare name "histogram"."""
    types = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            name, kind = parts[2], parts[3]
            types[name] = kind
            if kind in ("histogram", "summary"):
                for suffix in ("_bucket", "_sum", "_count"):
                    types[name + suffix] = "histogram_part"
    # Only names with samples count as exported.
    sampled = {line.split("{")[0].split()[0] for line in text.splitlines()
               if line and not line.startswith("#")}
    return {n: k for n, k in types.items()
            if n in sampled or (k == "histogram"
                                and n + "_count" in sampled)}


if __name__ == "__main__":
    unittest.main()
