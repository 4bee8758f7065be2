"""The chart's pods, run as their rendered manifests say, with the real
daemons.

Each Deployment of `helm template` is started here the way the kubelet
would: the ConfigMap's config.yml at its mount path, the Secret's items as
files (mode 0440, group = fsGroup) at theirs, the state volume writable by
fsGroup, the container's command and args as rendered, as uid/gid 65532
with no new privileges, on a read-only root filesystem (a private mount
namespace remounts / read-only). Against the fake Linode API, health
servers and real sshd hosts, the exporter must read DNS with the mounted
token, and the actuator must answer its API with the mounted token, take a
webhook with the mounted webhook token, and fail over: switch the records
and rewrite the standby host's .env over SSH with the mounted key and
known_hosts.

Needs root (mount namespaces) like the other SSH tests. The mount points
/etc/dr-failover and /var/lib/dr-actuator are created on the host if
missing (and removed afterwards); ctest serializes this test with the
package test, which installs /etc/dr-failover.
"""

import base64
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fakes"))
sys.path.insert(0, str(HERE.parent / "integration"))

from fake_linode import FakeLinode  # noqa: E402
from harness import (build_dir, free_port, http, scrape,  # noqa: E402
                     start_process, wait_until)
from health_server import HealthSite  # noqa: E402
from sshd import Sshd, keygen  # noqa: E402
from test_chart import CHART, find, one, render  # noqa: E402

LINODE_TOKEN, WEBHOOK_TOKEN, API_TOKEN = "pod-linode", "pod-hook", "pod-api"
MOUNT = "/srv/dr-failover-pod-test"   # each sshd host's own directory
BINARIES = {"/usr/bin/dr-exporter": build_dir() / "exporter" / "dr-exporter",
            "/usr/bin/dr-actuator": build_dir() / "actuator" / "dr-actuator"}


class Pod:
    """One rendered Deployment's pod, run on this machine."""

    def __init__(self, deployment, objs, tmp):
        self.spec = deployment["spec"]["template"]["spec"]
        self.container = self.spec["containers"][0]
        self.root = pathlib.Path(tmp) / deployment["metadata"]["name"]
        self.root.mkdir()
        os.chmod(self.root, 0o755)
        security = self.spec["securityContext"]
        self.uid, self.gid = security["runAsUser"], security["runAsGroup"]
        self.fs_group = security["fsGroup"]
        self.mounts = []   # (host directory, mount path)
        volumes = {v["name"]: v for v in self.spec["volumes"]}
        secrets = {o["metadata"]["name"]: o for o in find(objs, "Secret")}
        config_maps = {o["metadata"]["name"]: o for o in find(objs, "ConfigMap")}
        for mount in self.container["volumeMounts"]:
            volume = volumes[mount["name"]]
            host = self.root / mount["name"]
            if "configMap" in volume:
                data = config_maps[volume["configMap"]["name"]]["data"]
                # A subPath mount of one key: bind the file itself.
                host.write_text(data[mount["subPath"]])
                os.chmod(host, 0o644)
            elif "projected" in volume:
                host.mkdir()
                os.chmod(host, 0o755)
                mode = volume["projected"]["defaultMode"]
                for source in volume["projected"]["sources"]:
                    secret = secrets[source["secret"]["name"]]
                    for item in source["secret"]["items"]:
                        f = host / item["path"]
                        f.write_bytes(base64.b64decode(secret["data"][item["key"]]))
                        os.chown(f, 0, self.fs_group)
                        os.chmod(f, mode)
            else:   # the state volume (a claim): writable by fsGroup
                host.mkdir()
                os.chown(host, 0, self.fs_group)
                os.chmod(host, 0o2770)
            self.mounts.append((host, mount["mountPath"],
                                mount.get("readOnly", False)))
        self.env = {e["name"]: e["value"] for e in self.container.get("env", [])}
        self.proc = None

    def argv(self):
        command = self.container["command"]
        binary = str(BINARIES[command[0]])
        # /etc/dr-failover gets its own tmpfs (as the container's own
        # filesystem would be), so that the mount points can be made there.
        script = ["mount -t tmpfs -o mode=755 tmpfs /etc/dr-failover"]
        for i, (host, target, read_only) in enumerate(self.mounts):
            make = "touch" if host.is_file() else "mkdir -p"
            script.append(f'{make} "{target}"')
            script.append(f'mount --bind "${i + 1}" "{target}"')
            if read_only:
                script.append(f'mount -o remount,bind,ro "{target}"')
        script.append("mount -o remount,bind,ro /")
        script.append(f'shift {len(self.mounts)}')
        script.append('exec "$@"')
        return (["unshare", "--mount", "--propagation", "private",
                 "sh", "-ec", " && ".join(script), "sh",
                 *[str(h) for h, _, _ in self.mounts],
                 "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                 "--clear-groups", "--no-new-privs",
                 binary, *command[1:], *self.container["args"]])

    def start(self, port):
        env = {"PATH": "/usr/bin:/bin", **self.env}
        self.proc = start_process(
            self.argv(), env=env,
            ready_url=f"http://127.0.0.1:{port}/-/ready", timeout=20)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()


class ChartPodsRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dr-helm-pods-")
        os.chmod(cls.tmp, 0o755)
        cls.created = []
        for path in ("/etc/dr-failover", "/var/lib/dr-actuator", MOUNT):
            if not os.path.isdir(path):
                os.makedirs(path)
                cls.created.append(path)
        cls.cleanups = []
        try:
            cls._start_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start_world(cls):
        key = keygen(pathlib.Path(cls.tmp) / "id_ed25519")
        cls.hosts = {}
        for site in ("us-east", "eu-central"):
            host = Sshd(client_key=key, mount_at=MOUNT).start()
            cls.cleanups.append(host.stop)
            (host.fs / "app").mkdir()
            (host.fs / "app" / ".env").write_text("AWS_REGION=us-east-1\n")
            cls.hosts[site] = host
        addresses = {"us-east": "127.0.0.11", "eu-central": "127.0.0.12"}
        cls.sites = {}
        for site, address in addresses.items():
            cls.sites[site] = HealthSite(address, name=site).start()
            cls.cleanups.append(cls.sites[site].stop)
        cls.linode = FakeLinode(token=LINODE_TOKEN).start()
        cls.cleanups.append(cls.linode.stop)
        domain = cls.linode.add_domain("example.com")
        for name in ("app", "www"):
            cls.linode.add_record(domain, "A", name, "127.0.0.11", ttl_sec=30)

        cls.ports = {"exporter": free_port(), "actuator": free_port()}
        values = {
            "config": {
                "sites": [
                    {"name": site, "address": addresses[site],
                     "health_url": cls.sites[site].url,
                     "aws_region": region,
                     "hosts": [{"address": "127.0.0.1", "user": "root",
                                "port": cls.hosts[site].port}]}
                    for site, region in (("us-east", "us-east-1"),
                                         ("eu-central", "eu-west-1"))],
                "probe": {"interval": "200ms", "timeout": "150ms"},
                "dns": {"api_url": cls.linode.url, "domain": "example.com",
                        "records": ["app", "www"], "ttl": 30},
                "dynamodb": None,
                "actuator": {
                    "cooldown": "1h",
                    "confirm": {"probes": 2, "interval": "50ms"},
                    "activate": {"env_file": f"{MOUNT}/app/.env",
                                 "env": {"AWS_REGION": "{site.aws_region}"},
                                 "reload_command": f"touch {MOUNT}/reloaded"},
                },
            },
            "secrets": {
                "linodeToken": {"value": LINODE_TOKEN},
                "sshPrivateKey": {"value": key.read_text()},
                "sshKnownHosts": {"value": "".join(
                    h.known_hosts_line() for h in cls.hosts.values())},
                "webhookToken": {"value": WEBHOOK_TOKEN},
                "apiToken": {"value": API_TOKEN},
            },
            "exporter": {"service": {"port": cls.ports["exporter"]}},
            "actuator": {"service": {"port": cls.ports["actuator"]}},
        }
        values_file = pathlib.Path(cls.tmp) / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        cls.objs = render(values_file)
        cls.pods = {}
        for component in ("exporter", "actuator"):
            deployment = one(cls.objs, "Deployment", "-" + component)
            pod = Pod(deployment, cls.objs, cls.tmp)
            cls.pods[component] = pod.start(cls.ports[component])
            cls.cleanups.append(pod.stop)

    @classmethod
    def tearDownClass(cls):
        for stop in reversed(cls.cleanups):
            try:
                stop()
            except Exception:   # noqa: BLE001 - keep cleaning up
                pass
        for path in reversed(cls.created):
            try:
                os.rmdir(path)   # only if still empty: never others' files
            except OSError:
                pass
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self, component, path):
        return f"http://127.0.0.1:{self.ports[component]}{path}"

    def test_pods_run_as_the_unprivileged_user(self):
        for component, pod in self.pods.items():
            with self.subTest(component=component):
                status = pathlib.Path(f"/proc/{pod.proc.pid}/status").read_text()
                uid_line = [line for line in status.splitlines()
                            if line.startswith("Uid:")][0]
                self.assertEqual(set(uid_line.split()[1:]), {"65532"})
                self.assertIn("NoNewPrivs:\t1", status)

    def test_exporter_reads_dns_with_the_mounted_token(self):
        url = self.url("exporter", "/metrics")
        wait_until(lambda: scrape(url).value("dr_dns_api_up") == 1, 10,
                   message="the exporter never read the records")
        for site in ("us-east", "eu-central"):
            wait_until(lambda: scrape(url).value("dr_site_up", site=site) == 1,
                       10, message=f"{site} never probed up")
        # The site the fake's record points at (the failover test may
        # have moved it already).
        target = self.linode.record("example.com", "app")["target"]
        site = {"127.0.0.11": "us-east", "127.0.0.12": "eu-central"}[target]
        wait_until(lambda: scrape(url).value("dr_dns_serving_site", site=site,
                                             record="app") == 1, 10,
                   message=f"the exporter never saw app on {site}")

    def test_actuator_api_and_webhook_use_the_mounted_tokens(self):
        status, _, body = http(
            "GET", self.url("actuator", "/api/v1/status"),
            headers={"Authorization": f"Bearer {API_TOKEN}"})
        self.assertEqual(status, 200, body)
        self.assertIn(b"us-east", body)
        status, _, _ = http(
            "GET", self.url("actuator", "/api/v1/status"),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        self.assertEqual(status, 401)
        status, _, _ = http(
            "POST", self.url("actuator", "/api/v1/alertmanager"),
            body=b'{"version":"4","status":"resolved","alerts":[]}',
            headers={"Authorization": f"Bearer {API_TOKEN}"})
        self.assertEqual(status, 401)

    def test_actuator_fails_over_from_its_pod(self):
        self.sites["us-east"].set_mode("fail")
        self.addCleanup(self.sites["us-east"].set_mode, "ok")
        body = (
            '{"version":"4","status":"firing","receiver":"dr-actuator",'
            '"groupLabels":{},"commonLabels":{},"commonAnnotations":{},'
            '"externalURL":"http://am","groupKey":"k","truncatedAlerts":0,'
            '"alerts":[{"status":"firing","labels":{"alertname":"DRSiteDown",'
            '"site":"us-east","dr_action":"traffic_failover"},'
            '"annotations":{},"startsAt":"2026-01-01T00:00:00Z",'
            '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"",'
            '"fingerprint":"fp"}]}').encode()
        status, _, answer = http(
            "POST", self.url("actuator", "/api/v1/alertmanager"), body=body,
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}",
                     "Content-Type": "application/json"})
        self.assertEqual(status, 200, answer)

        def records():
            return {r["name"]: r["target"]
                    for r in self.linode.records("example.com")
                    if r["type"] == "A"}

        wait_until(lambda: set(records().values()) == {"127.0.0.12"}, 20,
                   message="records never moved to eu-central")
        env = self.hosts["eu-central"].fs / "app" / ".env"
        wait_until(lambda: "AWS_REGION=eu-west-1" in env.read_text(), 20,
                   message="eu-central's .env never rewritten")
        wait_until(lambda: (self.hosts["eu-central"].fs / "reloaded").exists(),
                   20, message="eu-central never reloaded")
        # The journal went to the state volume, written as fsGroup.
        state = [h for h, target, _ in self.pods["actuator"].mounts
                 if target == "/var/lib/dr-actuator"][0]
        journal = list(state.iterdir())
        self.assertTrue(journal, "nothing in the state directory")
        self.assertTrue(all(p.stat().st_uid == 65532 for p in journal))


if __name__ == "__main__":
    unittest.main()
