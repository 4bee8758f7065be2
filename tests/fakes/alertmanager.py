"""Real Alertmanagers (prometheus-alertmanager 0.25) clustered on loopback.

    with AlertmanagerCluster(members=2, webhook_url=f"{actuator}/api/v1/alertmanager",
                             bearer_token="t0ken") as am:
        am.urls                            # ["http://127.0.0.1:P0", ...]
        am.post_alert({"alertname": "DRSiteDown",
                       "dr_action": "traffic_failover", "site": "a"},
                      {"summary": "a is down"})     # to every running member
        sid = am.silence({"site": "a"}, duration=60)  # gossips to the others
        am.list(member=1)                  # what the actuator's pull sees
        am.kill(0); am.start_member(0)     # a member crashes, comes back

Each member has its own web and cluster port, its own --storage.path and
the others as --cluster.peer, with --cluster.advertise-address set (needed
on loopback). Gossip carries silences and the notification log, not
alerts: post_alert sends to every member, as Prometheus does.

The config routes dr_action="traffic_failover" to one webhook receiver
(the actuator: `webhook_url`, with `bearer_token` as its Authorization
when given) with group_wait 0s, group_interval 1s, repeat_interval 1m,
send_resolved; everything else to a receiver with no integration.
"""

import datetime
import json
import pathlib
import shutil
import sys
import tempfile
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import yaml  # noqa: E402

from harness import free_port, http, start_process, wait_until  # noqa: E402

BINARY = "prometheus-alertmanager"

# The actuator's pull query (SPEC.md §10).
PULL_QUERY = ("active=true&silenced=false&inhibited=false"
              "&filter=dr_action%3D%22traffic_failover%22")


def rfc3339(t):
    """A datetime (naive = UTC) or unix seconds, as Alertmanager reads it."""
    if isinstance(t, (int, float)):
        t = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def config(webhook_url, token_file=None, resolve_timeout="5m"):
    """The Alertmanager configuration as a dict."""
    hook = {"url": webhook_url, "send_resolved": True, "max_alerts": 0}
    if token_file is not None:
        hook["http_config"] = {"authorization": {
            "type": "Bearer", "credentials_file": str(token_file)}}
    return {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": "other",
            "group_by": ["alertname", "site"],
            "routes": [{
                "receiver": "dr-actuator",
                "matchers": ['dr_action="traffic_failover"'],
                "group_by": ["alertname", "site"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1m",
            }],
        },
        "receivers": [
            {"name": "dr-actuator", "webhook_configs": [hook]},
            {"name": "other"},
        ],
    }


class AlertmanagerCluster:
    """N real Alertmanager processes gossiping with each other on loopback.

    Owns the processes (stopped by pid) and a temporary directory with the
    config, the token file and each member's storage. Not thread-safe.
    """

    def __init__(self, members=2, webhook_url="http://127.0.0.1:9/unused",
                 bearer_token=None, resolve_timeout="5m"):
        if members < 1:
            raise ValueError("at least one member")
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="dr-alertmanager-"))
        self.web_ports = [free_port() for _ in range(members)]
        self.cluster_ports = [free_port() for _ in range(members)]
        token_file = None
        if bearer_token is not None:
            token_file = self.root / "webhook-token"
            token_file.write_text(bearer_token + "\n")
            token_file.chmod(0o600)
        self.config_path = self.root / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(
            config(webhook_url, token_file, resolve_timeout)))
        self.procs = [None] * members

    # ------------------------------------------------------------ lifecycle

    @property
    def urls(self):
        return [f"http://127.0.0.1:{p}" for p in self.web_ports]

    def url(self, member):
        return self.urls[member]

    def start(self, timeout=30):
        """Starts every member; returns once each is ready and sees all of
        them as peers (cluster status "ready")."""
        for i in range(len(self.procs)):
            self.start_member(i, wait_cluster=False, timeout=timeout)
        self.wait_clustered(timeout=timeout)
        return self

    def argv(self, member):
        storage = self.root / f"data-{member}"
        storage.mkdir(exist_ok=True)
        cport = self.cluster_ports[member]
        argv = [BINARY, f"--config.file={self.config_path}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.web_ports[member]}",
                f"--cluster.listen-address=127.0.0.1:{cport}",
                f"--cluster.advertise-address=127.0.0.1:{cport}",
                # Loopback gossip settles fast; the defaults are for WANs.
                "--cluster.pushpull-interval=2s",
                "--cluster.gossip-interval=100ms",
                "--log.level=info"]
        for j, port in enumerate(self.cluster_ports):
            if j != member:
                argv.append(f"--cluster.peer=127.0.0.1:{port}")
        return argv

    def start_member(self, member, wait_cluster=True, timeout=30):
        """(Re)starts one member on its ports and storage."""
        if self.running(member):
            return self.procs[member]
        self.procs[member] = start_process(
            self.argv(member), ready_url=f"{self.url(member)}/-/ready",
            timeout=timeout)
        if wait_cluster:
            self.wait_clustered(timeout=timeout)
        return self.procs[member]

    def running(self, member):
        proc = self.procs[member]
        return proc is not None and proc.running()

    def running_members(self):
        return [i for i in range(len(self.procs)) if self.running(i)]

    def stop_member(self, member):
        """SIGTERM one member (a clean shutdown)."""
        if self.procs[member] is not None:
            self.procs[member].stop()

    def kill(self, member):
        """SIGKILL one member (a crash)."""
        if self.procs[member] is not None:
            self.procs[member].kill9()

    def stop(self):
        for proc in self.procs:
            if proc is not None:
                proc.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ reading

    def status(self, member=0):
        return self._json("GET", member, "/api/v2/status")

    def peers(self, member=0):
        return len(self.status(member)["cluster"].get("peers") or [])

    def wait_clustered(self, timeout=30):
        """Until every running member sees all running members and says
        "ready"."""
        members = self.running_members()

        def clustered():
            for i in members:
                cluster = self.status(i)["cluster"]
                if (len(cluster.get("peers") or []) != len(members)
                        or cluster.get("status") != "ready"):
                    return False
            return True

        wait_until(clustered, timeout, interval=0.2,
                   message=f"{len(members)} Alertmanagers clustered")

    def list(self, member=0, query=PULL_QUERY):
        """GET /api/v2/alerts?`query` of one member (default: the
        actuator's pull query); the parsed JSON list."""
        return self._json("GET", member, "/api/v2/alerts?" + query)

    def silences(self, member=0):
        return self._json("GET", member, "/api/v2/silences")

    # ------------------------------------------------------------ writing

    def post_alert(self, labels, annotations=None, starts_at=None,
                   ends_at=None, generator_url="http://prometheus:9090/graph",
                   members=None):
        """POSTs one alert to every running member (or to `members`).
        starts_at/ends_at: datetime or unix seconds; None leaves them to
        Alertmanager (starts now, ends after resolve_timeout). An ends_at in
        the past resolves the alert."""
        alert = {"labels": dict(labels), "annotations": dict(annotations or {}),
                 "generatorURL": generator_url}
        if starts_at is not None:
            alert["startsAt"] = rfc3339(starts_at)
        if ends_at is not None:
            alert["endsAt"] = rfc3339(ends_at)
        for i in (self.running_members() if members is None else members):
            self._json("POST", i, "/api/v2/alerts", [alert])
        return alert

    def resolve_alert(self, labels, starts_at=None, members=None):
        """Sends the alert with endsAt now: resolved at once."""
        return self.post_alert(labels, starts_at=starts_at, ends_at=now(),
                               members=members)

    def silence(self, matchers, duration=3600, comment="test",
                created_by="dr-failover tests", member=0):
        """Creates a silence on one member (gossip takes it to the others);
        returns its id. `matchers`: {name: value} for equality matchers, or
        a list of Alertmanager matcher objects."""
        if isinstance(matchers, dict):
            matchers = [{"name": k, "value": v, "isRegex": False,
                         "isEqual": True} for k, v in matchers.items()]
        start = now()
        body = {"matchers": matchers, "startsAt": rfc3339(start),
                "endsAt": rfc3339(start + datetime.timedelta(seconds=duration)),
                "createdBy": created_by, "comment": comment}
        return self._json("POST", member, "/api/v2/silences",
                          body)["silenceID"]

    def expire_silence(self, silence_id, member=0):
        status, _, body = http(
            "DELETE", f"{self.url(member)}/api/v2/silence/"
            f"{urllib.parse.quote(silence_id)}")
        if status != 200:
            raise AssertionError(f"expire silence: HTTP {status}: {body!r}")

    # ------------------------------------------------------------ internals

    def _json(self, method, member, path, body=None):
        status, _, data = http(method, self.url(member) + path, body)
        if not 200 <= status < 300:
            raise AssertionError(
                f"{method} {path} on member {member}: HTTP {status}: "
                f"{data[:500]!r}")
        return json.loads(data) if data else None
