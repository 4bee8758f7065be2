"""The whole local system of the end-to-end tests and the demo:

real Prometheus (the shipped rules in alerts/) and Alertmanager (the
shipped example route), dr-exporter, dr-actuator, the fake Linode API, two
dynalite regions with a replicator, and two sites on 127.0.0.11 and
127.0.0.12 served by real nginx + php-fpm on hosts reached over real sshd.
"""

import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent / "fakes"))

import yaml  # noqa: E402

from actuator_env import MOUNT, World  # noqa: E402
from dynalite import Dynalite, Replicator  # noqa: E402
from harness import (build_dir, free_port, http, repo_root,  # noqa: E402
                     scrape, start_process, wait_until, write_config)

EXPORTER = str(build_dir() / "exporter" / "dr-exporter")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDE2E", "AWS_SECRET_ACCESS_KEY": "e2e"}
RELOAD = (f"touch {MOUNT}/reloaded && "
          f"kill -USR2 $(cat {MOUNT}/php-fpm.pid)")


class System:
    def __init__(self, ports=None, **actuator):
        """`ports`: fixed ports for the UIs {'prometheus', 'alertmanager',
        'exporter', 'actuator'} (the demo); free ones otherwise."""
        ports = ports or {}
        actuator.setdefault("activate", {
            "env_file": f"{MOUNT}/app/.env",
            "env": {"AWS_REGION": "{site.aws_region}",
                    "DR_SITE": "{site.name}"},
            "reload_command": RELOAD})
        actuator.setdefault("confirm", {"probes": 3, "interval": "100ms"})
        self.world = World(php=True, **actuator)
        if ports.get("actuator"):
            self.world.port = ports["actuator"]
            self.world.url = f"http://127.0.0.1:{self.world.port}"
        self.regions = {}
        self.replicators = []
        self.procs = []
        self.ports = ports

    # ------------------------------------------------------------- startup
    def start(self):
        w = self.world
        self.regions = {"us-east": Dynalite(region="us-east-1").start(),
                        "eu-central": Dynalite(region="eu-west-1").start()}
        for r in self.regions.values():
            r.create_table("user_profiles")
            r.create_table("dr_heartbeat")
        a, b = self.regions["us-east"], self.regions["eu-central"]
        self.replicators = [Replicator(a, b, "dr_heartbeat", 0.5).start(),
                            Replicator(b, a, "dr_heartbeat", 0.5).start()]
        config = w.config
        config["probe"] = {"interval": "1s", "timeout": "800ms"}
        for site in config["sites"]:
            site["dynamodb_endpoint"] = self.regions[site["name"]].endpoint
        config["dynamodb"] = {"tables": ["user_profiles"],
                              "heartbeat": {"table": "dr_heartbeat",
                                            "interval": "1s"}}
        write_config(w.tmp, config)
        w.start()
        self.exporter_port = self.ports.get("exporter") or free_port()
        self.exporter = start_process(
            [EXPORTER, "--config.file", str(w.config_path),
             "--web.listen-address", f"127.0.0.1:{self.exporter_port}"],
            env=AWS_ENV, ready_url=f"http://127.0.0.1:{self.exporter_port}"
            "/-/ready", timeout=20)
        self.procs.append(self.exporter)
        self._start_alertmanager()
        self._start_prometheus()
        return self

    def _start_alertmanager(self):
        w = self.world
        self.am_port = self.ports.get("alertmanager") or free_port()
        config = yaml.safe_load(
            (repo_root() / "alerts" / "alertmanager.example.yml").read_text())
        # The shipped route, pointed at this actuator and its token file.
        for receiver in config.get("receivers", []):
            for hook in receiver.get("webhook_configs", []):
                if "/api/v1/alertmanager" in hook.get("url", ""):
                    hook["url"] = f"{w.url}/api/v1/alertmanager"
                    auth = hook.setdefault("http_config", {}).setdefault(
                        "authorization", {})
                    auth["credentials_file"] = str(w.tmp / "webhook-token")
                    auth.pop("credentials", None)
                else:
                    hook["url"] = "http://127.0.0.1:9/unused"
        path = write_config(w.tmp, config, name="alertmanager.yml")
        self.alertmanager = start_process(
            ["prometheus-alertmanager", f"--config.file={path}",
             f"--storage.path={w.tmp}/am",
             f"--web.listen-address=127.0.0.1:{self.am_port}",
             "--cluster.listen-address="],
            ready_url=f"http://127.0.0.1:{self.am_port}/-/ready", timeout=20)
        self.procs.append(self.alertmanager)

    def _start_prometheus(self):
        w = self.world
        self.prom_port = self.ports.get("prometheus") or free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": "900ms"},
            "rule_files": [str(repo_root() / "alerts" /
                               "dr-failover.rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [
                {"targets": [f"127.0.0.1:{self.am_port}"]}]}]},
            "scrape_configs": [
                {"job_name": "dr-exporter", "static_configs": [
                    {"targets": [f"127.0.0.1:{self.exporter_port}"],
                     "labels": {"vantage": "e2e"}}]},
                {"job_name": "dr-actuator", "static_configs": [
                    {"targets": [f"127.0.0.1:{w.port}"]}]},
            ],
        }
        path = write_config(w.tmp, config, name="prometheus.yml")
        self.prometheus = start_process(
            ["prometheus", f"--config.file={path}",
             f"--storage.tsdb.path={w.tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.prom_port}",
             "--web.enable-lifecycle", "--rules.alert.resend-delay=1s"],
            ready_url=f"http://127.0.0.1:{self.prom_port}/-/ready", timeout=30)
        self.procs.append(self.prometheus)
        # Target discovery is held back ~5 s; wait for the first samples.
        wait_until(lambda: self.query("dr_site_up"), 30,
                   message="first samples in Prometheus")

    # ------------------------------------------------------------- queries
    def query(self, expr):
        import json
        import urllib.parse
        status, _, body = http(
            "GET", f"http://127.0.0.1:{self.prom_port}/api/v1/query?query="
            + urllib.parse.quote(expr))
        if status != 200:
            return []
        return json.loads(body)["data"]["result"]

    def firing_alerts(self):
        import json
        _, _, body = http("GET",
                          f"http://127.0.0.1:{self.prom_port}/api/v1/alerts")
        return [a for a in json.loads(body)["data"]["alerts"]
                if a["state"] == "firing"]

    def actuator_metric(self, name, **labels):
        return scrape(f"{self.world.url}/metrics").value(name, **labels)

    def switches(self):
        return sum(v for _, v in scrape(f"{self.world.url}/metrics").samples(
            "dr_actuator_switches_total"))

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        for r in self.replicators:
            r.stop()
        for r in self.regions.values():
            r.stop()
        self.world.cleanup()


class Timeline:
    """Watches one switch away from `site`: each step (exporter sees it
    down, alert firing, webhook, decision, intent, DNS, hosts) is recorded
    once, with its time since the timeline started, and passed to `say`."""

    def __init__(self, system, site, target, address, say=None):
        self.system, self.site = system, site
        self.target, self.address = target, address
        self.say = say
        self.seen = {}  # step -> seconds since start
        # Only events journaled from now on belong to this switch.
        events = system.world.events(1)
        self.after_seq = events[0]["seq"] if events else 0
        self.start = time.monotonic()

    def step(self, key, text):
        if key not in self.seen:
            self.seen[key] = time.monotonic() - self.start
            if self.say:
                self.say(f"  +{self.seen[key]:5.1f}s  {text}")

    def poll(self):
        s, w = self.system, self.system.world
        up = s.query(f'avg by (site) (dr_site_up{{site="{self.site}"}})')
        if up and float(up[0]["value"][1]) < 1:
            self.step("probe", f"dr-exporter sees {self.site} down")
        for a in s.firing_alerts():
            if a["labels"].get("site") == self.site:
                self.step("alert", f"Prometheus fires {a['labels']['alertname']}"
                          f" for {self.site}")
        for e in reversed(w.events(200)):
            if e["seq"] <= self.after_seq:
                continue
            t = e["type"]
            if t == "webhook" and any(x["site"] == self.site
                                      for x in e.get("alerts", [])):
                self.step("webhook", "dr-actuator receives the webhook")
            elif t == "decision" and e.get("target") == self.target:
                self.step("decision", f"decision {e['decision']}: {e['why']}")
            elif t == "switch_started" and e["to"] == self.target:
                self.step("intent", f"switch {e['id']} journaled "
                          f"({e['trigger']})")
            elif t == "dns_updated" and e["to"] == self.target:
                self.step("dns", f"DNS records now point at {self.address}")
            elif t == "host_reconfigured" and e["site"] == self.target:
                self.step("host", f"host {e['host']} reconfigured "
                          "(.env rewritten, php-fpm reloaded)")
        return w.status().get("converged") and set(
            w.record_targets().values()) == {self.address}

    def wait(self, timeout=120):
        wait_until(self.poll, timeout, interval=0.05,
                   message=f"switch to {self.target}")
        self.seen["converged"] = time.monotonic() - self.start
        if self.say:
            self.say(f"  converged on {self.target} after "
                     f"{self.seen['converged']:.1f}s")

