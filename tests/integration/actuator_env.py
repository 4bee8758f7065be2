"""A whole local world for dr-actuator tests, on loopback:

- two sites: health endpoints on 127.0.0.11 (us-east) and 127.0.0.12
  (eu-central), switchable (tests/fakes/health_server.py);
- one PHP-FPM "host" per site (or `hosts_per_site` of them): a real sshd
  each, in its own mount namespace, so each has its own
  /srv/dr-failover-test (tests/fakes/sshd.py); `hosts[site]` is the
  site's first host, `all_hosts[site]` the list;
- the fake Linode API holding app.example.com and www.example.com, both
  pointing at us-east;
- dr-actuator itself, started and killed at will, with its state directory
  kept across restarts.
"""

import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))

from fake_linode import FakeLinode  # noqa: E402
from harness import (build_dir, free_port, http, scrape,  # noqa: E402
                     start_process, wait_until, write_config)
from health_server import HealthSite  # noqa: E402
from php_site import PhpSite  # noqa: E402
from sshd import Sshd, keygen  # noqa: E402

ACTUATOR = str(build_dir() / "actuator" / "dr-actuator")
LINODE_TOKEN = "linode-secret-token-4c1d"
WEBHOOK_TOKEN = "webhook-secret-token-9f2e"
API_TOKEN = "api-secret-token-77ab"
MOUNT = "/srv/dr-failover-test"
ENV_FILE = f"{MOUNT}/app/.env"
ENV_TEXT = ("# application settings\n"
            "APP_NAME=shop\n"
            "AWS_REGION=us-east-1   \n"
            "\n"
            "# keep me\n"
            "CACHE_TTL=60\n")


class World:
    def __init__(self, hosts_per_site=1, php=False, third_site=False,
                 **actuator_overrides):
        """`php`: the sites are real nginx + php-fpm on the sites' first
        hosts (tests/fakes/php_site.py), instead of switchable fakes.
        `third_site`: a third site, us-west on 127.0.0.13 (us-west-2), last
        in preference order."""
        names = ["us-east", "eu-central"] + (["us-west"] if third_site else [])
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dr-actuator-test-"))
        self.state_dir = self.tmp / "state"
        key = keygen(self.tmp / "id_ed25519")
        self.ssh_key = key
        self.all_hosts = {
            site: [Sshd(client_key=key, mount_at=MOUNT).start()
                   for _ in range(hosts_per_site)]
            for site in names
        }
        self.hosts = {site: hosts[0]
                      for site, hosts in self.all_hosts.items()}
        self.known_hosts = self.tmp / "known_hosts"
        self.known_hosts.write_text("".join(
            h.known_hosts_line() for h in self._every_host()))
        for h in self._every_host():
            (h.fs / "app").mkdir()
            (h.fs / "app" / ".env").write_text(ENV_TEXT)
        addresses = {"us-east": "127.0.0.11", "eu-central": "127.0.0.12",
                     "us-west": "127.0.0.13"}
        addresses = {n: addresses[n] for n in names}
        if php:
            self.sites = {site: PhpSite(addr, self.hosts[site].fs).start()
                          for site, addr in addresses.items()}
        else:
            self.sites = {site: HealthSite(addr, name=site).start()
                          for site, addr in addresses.items()}
        self.linode = FakeLinode(token=LINODE_TOKEN).start()
        self.domain = self.linode.add_domain("example.com")
        for name in ("app", "www"):
            self.linode.add_record(self.domain, "A", name, "127.0.0.11",
                                   ttl_sec=30)
        (self.tmp / "webhook-token").write_text(WEBHOOK_TOKEN + "\n")
        (self.tmp / "api-token").write_text(API_TOKEN + "\n")
        (self.tmp / "linode-token").write_text(LINODE_TOKEN + "\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        actuator = {
            "mode": "auto", "failback": "manual", "failback_after": "2s",
            "cooldown": "1h",
            "confirm": {"probes": 3, "interval": "50ms"},
            "state_dir": str(self.state_dir),
            "webhook_token_file": str(self.tmp / "webhook-token"),
            "api_token_file": str(self.tmp / "api-token"),
            "ssh": {"private_key_file": str(key),
                    "known_hosts_file": str(self.known_hosts),
                    "connect_timeout": "2s", "command_timeout": "10s"},
            "activate": {
                "env_file": ENV_FILE,
                "env": {"AWS_REGION": "{site.aws_region}",
                        "DR_SITE": "{site.name}"},
                "reload_command": f"touch {MOUNT}/reloaded",
            },
        }
        actuator.update(actuator_overrides)
        self.config = {
            "sites": [
                {"name": "us-east", "address": "127.0.0.11",
                 "health_url": self.sites["us-east"].url,
                 "aws_region": "us-east-1",
                 "hosts": [{"address": "127.0.0.1", "user": "root",
                            "port": h.port}
                           for h in self.all_hosts["us-east"]]},
                {"name": "eu-central", "address": "127.0.0.12",
                 "health_url": self.sites["eu-central"].url,
                 "aws_region": "eu-west-1",
                 "hosts": [{"address": "127.0.0.1", "user": "root",
                            "port": h.port}
                           for h in self.all_hosts["eu-central"]]},
            ] + ([
                {"name": "us-west", "address": "127.0.0.13",
                 "health_url": self.sites["us-west"].url,
                 "aws_region": "us-west-2",
                 "hosts": [{"address": "127.0.0.1", "user": "root",
                            "port": h.port}
                           for h in self.all_hosts["us-west"]]},
            ] if third_site else []),
            "probe": {"interval": "200ms", "timeout": "150ms"},
            "dns": {"api_url": self.linode.url, "domain": "example.com",
                    "records": ["app", "www"], "ttl": 30,
                    "token_file": str(self.tmp / "linode-token")},
            "actuator": actuator,
        }
        self.config_path = write_config(self.tmp, self.config)
        self.proc = None
        self.logs = []

    # -------------------------------------------------------------- process
    def start(self, *flags, wrap=()):
        """`wrap`: an argv prefix the actuator runs under (e.g. nsenter)."""
        self.proc = start_process(
            [*wrap, ACTUATOR, "--config.file", str(self.config_path),
             "--web.listen-address", f"127.0.0.1:{self.port}", *flags],
            ready_url=f"{self.url}/-/ready", timeout=20)
        return self.proc

    def kill9(self):
        self.proc.kill9()
        self.logs.append(self.proc.log_text())

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.logs.append(self.proc.log_text())
            self.proc = None

    def cleanup(self):
        self.stop()
        for s in self.sites.values():
            s.stop()
        for h in self._every_host():
            h.cleanup()
        self.linode.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _every_host(self):
        return [h for hosts in self.all_hosts.values() for h in hosts]

    def all_logs(self):
        return "".join(self.logs) + (self.proc.log_text() if self.proc else "")

    # ------------------------------------------------------------------ API
    def webhook(self, body, token=WEBHOOK_TOKEN):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        return http("POST", f"{self.url}/api/v1/alertmanager", body=body,
                    headers=headers)

    def api(self, method, path, body=None, token=API_TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, _, raw = http(method, f"{self.url}/api/v1/{path}", body=body,
                              headers=headers, timeout=10)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def status(self):
        return self.api("GET", "status")[1]

    def events(self, limit=1000):
        return self.api("GET", f"events?limit={limit}")[1]["events"]

    def metrics(self):
        return scrape(f"{self.url}/metrics")

    # -------------------------------------------------------------- provider
    def record_targets(self):
        return {r["name"]: r["target"]
                for r in self.linode.records("example.com")
                if r["type"] == "A"}

    def successful_puts(self):
        return [r for r in self.linode.requests(method="PUT")
                if r["status"] == 200]

    def env_file(self, site):
        return (self.hosts[site].fs / "app" / ".env").read_text()

    def reloaded(self, site):
        return (self.hosts[site].fs / "reloaded").exists()

    def wait_switched_to(self, site, address, timeout=20):
        wait_until(lambda: set(self.record_targets().values()) == {address},
                   timeout, message=f"records point at {address}")
        wait_until(lambda: self.status()["converged"], timeout,
                   message=f"converged on {site}")


def alert(site, status="firing", starts=None, ends=None, fingerprint=None,
          dr=True):
    now = time.time()
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    labels = {"alertname": "DRSiteDown", "site": site, "severity": "critical"}
    if dr:
        labels["dr_action"] = "traffic_failover"
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{site} is down"},
        "startsAt": time.strftime(fmt, time.gmtime(starts or now - 60)),
        "endsAt": (time.strftime(fmt, time.gmtime(ends))
                   if ends else "0001-01-01T00:00:00Z"),
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint or f"fp-{site}",
    }


def notification(*alerts, status=None):
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DRSiteDown"}',
        "truncatedAlerts": 0,
        "status": status or alerts[0]["status"],
        "receiver": "dr-actuator",
        "groupLabels": {"alertname": "DRSiteDown"},
        "commonLabels": {"alertname": "DRSiteDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def assert_switch_invariants(test, events, serving_at_start):
    """SPEC.md §9's invariants, checked from the events alone (any order in,
    checked in seq order): the switch_started events form a chain from the
    site serving at start, and no switch starts while another has no
    dns_updated or switch_abandoned yet."""
    serving = serving_at_start
    open_switch = None
    for e in sorted(events, key=lambda e: e["seq"]):
        if e["type"] == "switch_started":
            test.assertIsNone(open_switch,
                              f"switch {e['id']} started while "
                              f"{open_switch} had no dns_updated")
            test.assertEqual(e["from"], serving, e)
            open_switch = e["id"]
            target = e["to"]
        elif e["type"] in ("dns_updated", "switch_abandoned"):
            test.assertEqual(e["id"], open_switch, e)
            if e["type"] == "dns_updated":
                serving = target
            open_switch = None
    return serving
