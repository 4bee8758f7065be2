#!/usr/bin/python3
"""Benchmark: dr-actuator webhook intake and switch latency.

Run through bench/actuator.sh (which finds the binary, installs wrk and
cleans up). This is a benchmark, not a test: it prints figures and compares
them with the targets without asserting them. It exits non-zero only when
something is broken: a notification lost or acted on twice, a daemon that
died, a switch that did not complete.

Both phases use the local world of tests/integration/actuator_env.py: health
endpoints for us-east (127.0.0.11) and eu-central (127.0.0.12), real sshd
hosts in their own mount namespaces, the fake Linode API (app and www A
records), and dr-actuator itself.

1. Webhook intake. us-east's health fails, eu-central is healthy. wrk drives
   `POST /api/v1/alertmanager` (bearer token, a realistic version 4
   notification with one DR alert for us-east, the same one every time, as
   Alertmanager repeats a group) at several connection counts. The first
   notification causes exactly one switch; the rest must change nothing.
   Checked: webhooks counted as accepted against wrk's 2xx answers, the
   journal's `"type":"webhook"` lines against the accepted count (and the
   journal's seq numbers: no gap, no duplicate), exactly one switch and
   exactly two successful PUTs at the provider (app and www once each).
2. Switch latency. Two hosts per site, cooldown 0s, confirmation 3 probes
   50ms apart. Rounds alternate direction: the serving site's health fails,
   the other is healthy, and one notification (firing for the serving site,
   resolved for the other) is posted. Measured from just before the POST
   until the provider's records point at the target and
   `GET /api/v1/status` says converged with no hosts pending (polled every
   5 ms); the breakdown comes from the journal events' `ts`.

Standard library plus what the integration tests already use (PyYAML,
prometheus_client).
"""

import argparse
import datetime
import http.client
import json
import os
import pathlib
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "fakes"))

import actuator_env  # noqa: E402
import fake_linode  # noqa: E402
import health_server  # noqa: E402
from actuator_env import (API_TOKEN, WEBHOOK_TOKEN, World,  # noqa: E402
                          notification)
from harness import wait_until  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
ADDRESS = {"us-east": "127.0.0.11", "eu-central": "127.0.0.12"}
REGION = {"us-east": "us-east-1", "eu-central": "eu-west-1"}
OTHER = {"us-east": "eu-central", "eu-central": "us-east"}

PROBLEMS = []


def problem(text):
    PROBLEMS.append(text)
    print(f"PROBLEM: {text}", flush=True)


class Broken(Exception):
    """Something the benchmark depends on is not working: stop, exit 1."""


# ------------------------------------------------------------------ helpers

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def rfc3339_ms(t):
    """Alertmanager-style timestamp with millisecond precision."""
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?"
                 r"(Z|[+-]\d\d:\d\d)$")


def parse_ts(text):
    """RFC 3339 (any fraction, up to ns) -> Unix seconds (float)."""
    m = _TS.match(text)
    if not m:
        raise ValueError(f"bad timestamp {text!r}")
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = m.group(3)
    if zone == "Z":
        tz = datetime.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = datetime.timezone(sign * datetime.timedelta(
            hours=int(zone[1:3]), minutes=int(zone[4:6])))
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return base.replace(tzinfo=tz).timestamp() + frac


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ms(seconds):
    return f"{seconds * 1000:.1f}"


def met(ok):
    return "met" if ok else "NOT met"


def alert_v4(site, status, starts, ends=None, fingerprint=None):
    """One alert as Alertmanager 0.25 sends it in a version 4 webhook."""
    return {
        "status": status,
        "labels": {"alertname": "DRSiteDown", "site": site,
                   "severity": "critical", "dr_action": "traffic_failover",
                   "team": "platform"},
        "annotations": {
            "summary": f"{site} is down",
            "description": f"A majority of vantages see {site}'s health "
                           "endpoint failing for 30s.",
            "runbook_url": "https://runbooks.example.com/dr/site-down"},
        "startsAt": rfc3339_ms(starts),
        "endsAt": rfc3339_ms(ends) if ends else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=dr%3Asite_up"
                        "%3Amajority+%3D%3D+0&g0.tab=1",
        "fingerprint": fingerprint or f"fp-{site}",
    }


def notification_v4(*alerts):
    body = notification(*alerts)
    body["groupKey"] = ('{}/{dr_action="traffic_failover"}:'
                        '{alertname="DRSiteDown"}')
    body["commonLabels"] = {"alertname": "DRSiteDown", "severity": "critical",
                            "dr_action": "traffic_failover"}
    return body


class Api:
    """Keep-alive client for the actuator (one connection, reopened)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, token=API_TOKEN,
                timeout=10):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=timeout)
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def json(self, method, path, body=None, token=API_TOKEN):
        status, raw = self.request(method, path, body, token)
        if status != 200:
            raise Broken(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ssh_baseline(host, key, n=5):
    """Median time of OpenSSH's own client: connect, auth, run `true`."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run(
            ["ssh", "-i", str(key), "-p", str(host.port),
             "-o", f"UserKnownHostsFile={host.known_hosts}",
             "-o", "BatchMode=yes", "-o", "GlobalKnownHostsFile=/dev/null",
             "root@127.0.0.1", "true"],
            stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            return None
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def check_alive(world, what):
    proc = world.proc
    if proc is None or not proc.running():
        code = proc.returncode if proc else None
        tail = "\n".join(proc.log_text().splitlines()[-20:]) if proc else ""
        raise Broken(f"dr-actuator died ({what}), exit code {code}; "
                     f"log tail:\n{tail}")


def record_pids(world, pidfile):
    if not pidfile:
        return
    pids = [world.proc.pid] if world.proc else []
    for hosts in world.all_hosts.values():
        pids += [h.proc.pid for h in hosts if h.proc]
    with open(pidfile, "a") as f:
        for pid in pids:
            f.write(f"{pid}\n")


def clear_pids(pidfile):
    if pidfile:
        open(pidfile, "w").close()


# ------------------------------------------------------------------ journal

class _Generations:
    """Hard links to each inode that `path` has named, in order."""

    def __init__(self, path, keep_dir, stem):
        self.path, self.keep_dir, self.stem = path, keep_dir, stem
        self.inodes, self.links = [], []

    def poll(self):
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            return
        if self.inodes and self.inodes[-1] == ino:
            return
        link = self.keep_dir / f"{self.stem}.{len(self.links)}"
        try:
            os.link(self.path, link)
        except FileNotFoundError:
            return  # renamed between stat and link; next poll
        ino = os.stat(link).st_ino
        if self.inodes and self.inodes[-1] == ino:
            os.unlink(link)
            return
        self.inodes.append(ino)
        self.links.append(link)


class JournalKeeper(threading.Thread):
    """Keeps every generation of the journal, at almost no CPU cost.

    The actuator rotates journal.jsonl to journal.jsonl.1 when it compacts
    (and a second rotation replaces the first .1), after writing a new
    snapshot.json. This thread stats both every 20 ms and hard-links each
    new inode next to the state directory, so every line written (and every
    snapshot) stays readable for the final checks.
    """

    def __init__(self, state_dir, keep_dir):
        super().__init__(name="journal-keeper", daemon=True)
        keep_dir = pathlib.Path(keep_dir)
        keep_dir.mkdir(exist_ok=True)
        self.journal = _Generations(pathlib.Path(state_dir) / "journal.jsonl",
                                    keep_dir, "journal")
        self.snapshot = _Generations(
            pathlib.Path(state_dir) / "snapshot.json", keep_dir, "snapshot")
        self.stopping = threading.Event()
        self.poll()

    @property
    def links(self):
        return self.journal.links

    def poll(self):
        self.snapshot.poll()
        self.journal.poll()

    def run(self):
        while not self.stopping.wait(0.02):
            self.poll()

    def stop(self):
        self.stopping.set()
        self.join(2)
        self.poll()

    @property
    def rotations(self):
        return max(0, len(self.links) - 1)

    def generations(self):
        """[[event, ...] per journal file], in order, lines in file order."""
        out = []
        for link in self.links:
            lines = []
            with open(link, "rb") as f:
                for raw in f:
                    if raw.endswith(b"\n"):
                        lines.append(json.loads(raw))
            out.append(lines)
        return out

    def events(self):
        return [e for gen in self.generations() for e in gen]

    def snapshot_seqs(self):
        out = []
        for link in self.snapshot.links:
            with open(link, "rb") as f:
                out.append(json.load(f).get("seq"))
        return out

    def unreplayable(self):
        """Journal lines that a restart would not replay.

        Compaction k writes snapshot k (state and `seq` S) and starts
        journal generation k; a restart reads the snapshot, then only the
        lines of the newest generation with seq > S. So a line is lost to
        the restored state when it sits in generation k-1 with seq > S_k
        (written to the old file after the snapshot was taken), or in
        generation k with seq <= S_k (its seq was taken before the snapshot
        but it was written, and applied, after it). Returns a list of
        (generation, S, event) for the compactions observed.
        """
        gens, snaps = self.generations(), self.snapshot_seqs()
        lost = []
        for k in range(1, len(gens)):
            if k - 1 >= len(snaps) or snaps[k - 1] is None:
                continue
            s_k = snaps[k - 1]
            lost += [(k - 1, s_k, e) for e in gens[k - 1] if e["seq"] > s_k]
            lost += [(k, s_k, e) for e in gens[k] if e["seq"] <= s_k]
        return lost


def count_files_now(state_dir):
    """`"type":"webhook"` lines in journal.jsonl + journal.jsonl.1."""
    n = 0
    for name in ("journal.jsonl.1", "journal.jsonl"):
        p = pathlib.Path(state_dir) / name
        if p.exists():
            with open(p, "rb") as f:
                n += sum(1 for line in f if b'"type":"webhook"' in line)
    return n


# ------------------------------------------------------------------ phase 1

WRK_LUA = r"""
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%(body)s]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "DRF_RESULT requests=%%d duration_us=%%d connect=%%d read=%%d " ..
    "write=%%d status=%%d timeout=%%d p50=%%.0f p90=%%.0f p99=%%.0f " ..
    "p999=%%.0f max=%%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


def run_wrk(url, script, threads, connections, duration):
    argv = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}",
            f"-d{duration}s", "--latency", "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise Broken(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    m = re.search(r"^DRF_RESULT (.*)$", proc.stdout, re.M)
    if not m:
        raise Broken(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    res = {k: float(v) for k, v in
           (kv.split("=") for kv in m.group(1).split())}
    res["text"] = proc.stdout[:m.start()].rstrip()
    res["cpu"] = ((after.ru_utime + after.ru_stime)
                  - (before.ru_utime + before.ru_stime))
    return res


class SideClient(threading.Thread):
    """A second client during a wrk run, as Alertmanager or Prometheus would
    be: every 0.25 s a fresh connection sends `GET /-/healthy`. Records
    each request's latency and whether it was answered while wrk still ran.
    """

    def __init__(self, port, timeout):
        super().__init__(name="side-client", daemon=True)
        self.port, self.timeout = port, timeout
        self.stopping = threading.Event()
        self.wrk_done = threading.Event()
        self.results = []   # (seconds, answered while wrk ran, error)

    def run(self):
        while not self.stopping.is_set():
            t = time.perf_counter()
            err = None
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=self.timeout)
                c.request("GET", "/-/healthy")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status != 200:
                    err = f"HTTP {r.status}"
            except (OSError, http.client.HTTPException) as e:
                err = type(e).__name__
            self.results.append((time.perf_counter() - t,
                                 not self.wrk_done.is_set(), err))
            if self.wrk_done.is_set():
                return
            self.stopping.wait(0.25)

    def summary(self):
        during = [d for d, live, e in self.results if live and e is None]
        late = [d for d, live, e in self.results if not live and e is None]
        errs = [e for _, _, e in self.results if e]
        text = f"{len(during)} answered during the run"
        if during:
            text += (f" (p50 {ms(statistics.median(during))} ms, max "
                     f"{ms(max(during))} ms)")
        if late:
            text += (f", {len(late)} answered only after wrk stopped, "
                     f"after {max(late):.1f} s")
        if errs:
            text += f", errors {errs}"
        return text, late


def wait_stable(fn, settle=0.3, timeout=15):
    """fn() once it returns the same value twice `settle` s apart."""
    deadline = time.monotonic() + timeout
    last = fn()
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = fn()
        if now == last:
            return now
        last = now
    return last


def phase_intake(args):
    print(f"=== 1. webhook intake (wrk) === (load average {loadavg()})",
          flush=True)
    world = World()
    keeper = None
    try:
        world.start()
        record_pids(world, args.pidfile)
        api = Api(world.port)
        wait_until(lambda: api.json("GET", "/api/v1/status")["converged"],
                   10, message="converged on us-east at start")
        world.sites["us-east"].set_mode("fail")
        state_dir = world.state_dir
        fstype = subprocess.run(["stat", "-f", "-c", "%T", str(state_dir)],
                                capture_output=True, text=True).stdout.strip()
        keeper = JournalKeeper(state_dir, world.tmp / "kept")
        keeper.start()

        body = json.dumps(notification_v4(alert_v4(
            "us-east", "firing", starts=time.time() - 45)),
            separators=(",", ":"))
        script = world.tmp / "webhook.lua"
        script.write_text(WRK_LUA % {"token": WEBHOOK_TOKEN, "body": body})
        url = f"{world.url}/api/v1/alertmanager"
        print(f"actuator {world.url}, state dir on {fstype}, body "
              f"{len(body)} bytes, wrk -t{args.threads} -d{args.duration}s "
              f"--latency, connections {args.connections}", flush=True)

        def metric_webhooks():
            m = world.metrics()
            return tuple(m.value("dr_actuator_webhooks_total", result=r) or 0
                         for r in ("accepted", "unauthorized", "bad_request",
                                   "too_large", "unavailable"))

        rows = []
        accepted_total = 0
        for c in args.connections:
            check_alive(world, "before wrk")
            hooks0 = metric_webhooks()
            dec0 = world.metrics().sum("dr_actuator_decisions_total")
            linode0 = len(world.linode.requests())
            probes0 = sum(s.requests for s in world.sites.values())
            cpu0 = cpu_seconds(world.proc.pid)
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            busy0 = machine_busy()
            side = SideClient(world.port, timeout=args.duration + 40)
            side.start()
            try:
                r = run_wrk(url, script, args.threads, c, args.duration)
            finally:
                busy1 = machine_busy()
                side.wrk_done.set()
                side.stopping.set()
            side.join(args.duration + 45)
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu1 = cpu_seconds(world.proc.pid)
            check_alive(world, f"after wrk -c{c}")
            # Requests in flight when wrk stopped may still be answered
            # (and counted) by the actuator after wrk exits: let it settle.
            hooks1 = wait_stable(metric_webhooks)
            delta = [b - a for a, b in zip(hooks0, hooks1)]
            accepted = int(delta[0])
            accepted_total += accepted
            secs = r["duration_us"] / 1e6
            non2xx = int(r["status"])
            ok2xx = int(r["requests"]) - non2xx
            row = {
                "c": c, "rps": r["requests"] / secs, "requests": r["requests"],
                "ok": ok2xx, "non2xx": non2xx,
                "sockerr": {k: int(r[k]) for k in
                            ("connect", "read", "write", "timeout")},
                "p50": r["p50"] / 1e3, "p90": r["p90"] / 1e3,
                "p99": r["p99"] / 1e3, "p999": r["p999"] / 1e3,
                "max": r["max"] / 1e3,
                "accepted": accepted, "other": delta[1:],
                "cpu_act": cpu1 - cpu0, "cpu_wrk": r["cpu"],
                "cpu_self": (self1.ru_utime + self1.ru_stime)
                            - (self0.ru_utime + self0.ru_stime),
                "busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
                "busy_s": (busy1[0] - busy0[0]) / CLK_TCK,
                "secs": secs,
                "reconciles": world.metrics().sum(
                    "dr_actuator_decisions_total") - dec0,
                "linode": len(world.linode.requests()) - linode0,
                "probes": sum(s.requests for s in world.sites.values())
                          - probes0,
            }
            row["side"], row["side_late"] = side.summary()
            rows.append(row)
            print(f"\n--- wrk -t{min(args.threads, c)} -c{c} "
                  f"-d{args.duration}s ---")
            print(r["text"])
            print(f"-> {row['rps']:.0f} req/s, p50 {row['p50']:.2f} ms, "
                  f"p99 {row['p99']:.2f} ms, non-2xx {non2xx}, "
                  f"actuator CPU {row['cpu_act']:.2f} s "
                  f"({row['cpu_act'] / secs * 100:.0f}% of a core)")
            print(f"-> a fresh connection every 0.25 s (GET /-/healthy): "
                  f"{row['side']}", flush=True)
            # -- integrity of this run
            sock = sum(row["sockerr"].values())
            if non2xx:
                problem(f"-c{c}: {non2xx} non-2xx answers "
                        f"(webhooks_total other results: {delta[1:]})")
            if any(delta[1:]):
                problem(f"-c{c}: webhooks counted as unauthorized/"
                        f"bad_request/too_large/unavailable: {delta[1:]}")
            if accepted < ok2xx:
                problem(f"-c{c}: LOST: wrk got {ok2xx} 2xx answers but the "
                        f"actuator counted only {accepted} accepted")
            elif accepted > ok2xx + c + sock:
                problem(f"-c{c}: actuator counted {accepted} accepted, more "
                        f"than wrk's {ok2xx} 2xx + {c} in flight")
            row["inflight"] = accepted - ok2xx

        # -- after all runs: exactly one switch, nothing lost
        check_alive(world, "after the wrk runs")
        try:
            world.wait_switched_to("eu-central", ADDRESS["eu-central"],
                                   timeout=20)
        except AssertionError as e:
            problem(f"the actuator did not converge on eu-central: {e}")
        time.sleep(1.0)
        keeper.stop()
        m = world.metrics()
        accepted_metric = int(m.value("dr_actuator_webhooks_total",
                                      result="accepted") or 0)
        switches = m.sum("dr_actuator_switches_total")
        switch_samples = [(l, v) for l, v in
                          m.samples("dr_actuator_switches_total") if v]
        dns_ok = m.value("dr_actuator_actions_total", action="dns_update",
                         result="success")
        puts = world.successful_puts()
        ids = {r["id"]: r["name"] for r in world.linode.records("example.com")}
        put_names = sorted(ids.get(int(p["path"].rsplit("/", 1)[1]), "?")
                           for p in puts)
        all_puts = world.linode.put_count()
        events = keeper.events()
        seqs = [e.get("seq") for e in events]
        hooks_journal = sum(1 for e in events if e.get("type") == "webhook")
        hooks_files = count_files_now(state_dir)
        ordered = sorted(seqs)
        gaps = [(a, b) for a, b in zip(ordered, ordered[1:]) if b != a + 1]
        out_of_order = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
        lost_replay = keeper.unreplayable()
        compactions = world.proc.log_text().count("journal compacted")

        print("\n--- intake summary ---")
        print(f"{'conns':>6}{'req/s':>9}{'p50 ms':>8}{'p90 ms':>8}"
              f"{'p99 ms':>8}{'max ms':>8}{'2xx':>8}{'non2xx':>7}"
              f"{'accepted':>9}{'in-flt':>7}{'act CPU s':>10}{'wrk CPU s':>10}"
              f"{'py CPU s':>9}{'other s':>8}{'box busy':>9}")
        for r in rows:
            print(f"{r['c']:>6}{r['rps']:>9.0f}{r['p50']:>8.2f}"
                  f"{r['p90']:>8.2f}{r['p99']:>8.2f}{r['max']:>8.1f}"
                  f"{r['ok']:>8}{r['non2xx']:>7}{r['accepted']:>9}"
                  f"{r['inflight']:>7}{r['cpu_act']:>10.2f}"
                  f"{r['cpu_wrk']:>10.2f}{r['cpu_self']:>9.2f}"
                  f"{r['busy_s'] - r['cpu_act'] - r['cpu_wrk'] - r['cpu_self']:>8.2f}"
                  f"{r['busy'] * 100:>8.0f}%")
        for r in rows:
            errs = ", ".join(f"{k} {v}" for k, v in r["sockerr"].items() if v)
            print(f"  -c{r['c']}: actuator {r['cpu_act'] / r['secs'] * 100:.0f}"
                  f"% of a core, {r['cpu_act'] / max(1, r['accepted']) * 1e6:.0f}"
                  f" us CPU/webhook; reconcile rounds {r['reconciles']:.0f} "
                  f"({r['reconciles'] / r['secs']:.0f}/s), Linode API requests "
                  f"{r['linode']}, health probes {r['probes']}"
                  + (f"; wrk socket errors: {errs}" if errs else ""))
            print(f"         fresh connections: {r['side']}")
        print("  (in-flt: accepted by the actuator minus 2xx seen by wrk: "
              "requests wrk had sent but not seen answered when it stopped "
              "-- in flight, or waiting for a server thread -- that the "
              "actuator answered after wrk closed; py CPU: this driver incl. the fake "
              "Linode and health servers; other: CPU s of everything else "
              "on the machine (kernel threads, other users); box busy: "
              "whole machine)")
        print(f"accounting: accepted (metric) {accepted_metric}; webhook "
              f"lines in the journal {hooks_journal} (every generation, "
              f"{compactions} compaction(s), seq {ordered[0] if seqs else 0}"
              f"..{ordered[-1] if seqs else 0}"
              f"{', no gap, no duplicate' if not gaps else f', GAPS {gaps[:5]}'}"
              f"); in journal.jsonl + .1 now {hooks_files}")
        if out_of_order:
            pairs = [(a, b) for a, b in zip(seqs, seqs[1:]) if b < a][:3]
            print(f"note: {out_of_order} journal line(s) follow a line with a "
                  f"higher seq (file order != seq order), e.g. {pairs}: "
                  "Engine::Append takes the seq under its own lock, the "
                  "journal orders lines under another")
        if lost_replay:
            kinds = {}
            for _, _, e in lost_replay:
                kinds[e["type"]] = kinds.get(e["type"], 0) + 1
            g, s_k, e = lost_replay[0]
            problem(f"{len(lost_replay)} journaled event(s) {kinds} would "
                    "not be replayed by a restart (written across a "
                    f"compaction: e.g. seq {e['seq']} in journal generation "
                    f"{g}, snapshot seq {s_k})")
        print(f"actions: switches_total sum {switches:.0f} "
              f"{[(l.get('from'), l.get('to'), l.get('trigger')) for l, _ in switch_samples]}, "
              f"dns_update success {dns_ok:.0f}, successful PUTs {len(puts)} "
              f"{put_names} (all PUTs {all_puts})")
        if accepted_metric != accepted_total:
            problem(f"accepted metric {accepted_metric} != sum of per-run "
                    f"deltas {accepted_total}")
        if hooks_journal != accepted_metric:
            problem(f"journal holds {hooks_journal} webhook lines but "
                    f"{accepted_metric} were accepted")
        if gaps or len(set(seqs)) != len(seqs):
            problem(f"journal seq numbers not contiguous/unique: {gaps[:5]}"
                    f", {len(seqs) - len(set(seqs))} duplicate(s)")
        if compactions <= 1 and hooks_files != accepted_metric:
            problem(f"journal.jsonl + .1 hold {hooks_files} webhook lines "
                    f"but {accepted_metric} were accepted")
        elif compactions > 1 and hooks_files != accepted_metric:
            print(f"note: journal.jsonl + .1 hold only {hooks_files} of "
                  f"{accepted_metric} webhook lines: {compactions} "
                  "compactions, and each rotation replaces the previous .1 "
                  "(older audit-trail generations are deleted)")
        if switches != 1:
            problem(f"dr_actuator_switches_total sums to {switches:.0f}, "
                    "expected exactly 1")
        if put_names != ["app", "www"]:
            problem(f"successful PUTs {put_names}, expected app and www "
                    "once each")
        head = rows[[r["c"] for r in rows].index(32)] if any(
            r["c"] == 32 for r in rows) else rows[0]
        print(f"target (>= 5000 req/s and p99 < 10 ms, at -c{head['c']}): "
              f"{head['rps']:.0f} req/s, p99 {head['p99']:.2f} ms -> "
              f"{met(head['rps'] >= 5000 and head['p99'] < 10)}")
        for r in rows:
            if r is not head:
                print(f"  at -c{r['c']}: {met(r['rps'] >= 5000 and r['p99'] < 10)}")
        if any(r["side_late"] for r in rows):
            worst = [r["c"] for r in rows if r["side_late"]]
            print(f"  note: at -c{worst}, new connections got no answer until "
                  "wrk closed its connections: the HTTP server serves a kept-"
                  "alive connection with one worker thread for its whole life "
                  "(CivetWeb; 16 threads in dr-actuator), so wrk's figures "
                  "only cover the connections that got a thread")
        print("  (wrk and the actuator share the machine's "
              f"{os.cpu_count()} cores; wrk's latency is not corrected for "
              "coordinated omission)", flush=True)
        api.close()
    finally:
        if keeper is not None and keeper.is_alive():
            keeper.stop()
        world.cleanup()
        clear_pids(args.pidfile)


# ------------------------------------------------------------------ phase 2

def phase_switch(args):
    print(f"\n=== 2. switch latency === (load average {loadavg()})",
          flush=True)
    world = World(hosts_per_site=2, cooldown="0s",
                  confirm={"probes": 3, "interval": "50ms"})
    try:
        world.start()
        record_pids(world, args.pidfile)
        api = Api(world.port)
        st = wait_until(lambda: (lambda s: s if s["converged"] else None)(
            api.json("GET", "/api/v1/status")), 10,
            message="converged at start")
        serving = st["serving_site"]
        if serving != "us-east":
            raise Broken(f"starts serving {serving!r}, expected us-east")
        print(f"2 hosts per site, cooldown 0s, confirm 3 x 50ms, "
              f"{args.rounds} switches alternating, status polled every 5 ms",
              flush=True)
        # The last firing alert per site: (fingerprint, startsAt).
        last_firing = {}
        clock = [time.time()]

        def stamp():
            # Strictly increasing at millisecond resolution, so a new
            # firing always starts after the previous resolution.
            clock[0] = max(time.time(), clock[0] + 0.002)
            return clock[0]

        results = []
        switches0 = world.metrics().sum("dr_actuator_switches_total")
        puts0 = len(world.successful_puts())
        for i in range(args.rounds):
            check_alive(world, f"before round {i + 1}")
            target = OTHER[serving]
            world.sites[target].set_mode("ok")
            world.sites[serving].set_mode("fail")
            seq0 = max((e["seq"] for e in
                        api.json("GET", "/api/v1/events?limit=1")["events"]),
                       default=0)
            alerts = []
            if target in last_firing:
                fp, starts = last_firing.pop(target)
                alerts.append(alert_v4(target, "resolved", starts,
                                       ends=stamp(), fingerprint=fp))
            starts = stamp()
            fp = f"fp-{serving}-{i}"
            last_firing[serving] = (fp, starts)
            alerts.insert(0, alert_v4(serving, "firing", starts,
                                      fingerprint=fp))
            body = json.dumps(notification_v4(*alerts))
            want = ADDRESS[target]
            t0 = time.time()
            p0 = time.perf_counter()
            status, raw = api.request("POST", "/api/v1/alertmanager", body,
                                      token=WEBHOOK_TOKEN)
            p_ack = time.perf_counter()
            if status != 200:
                raise Broken(f"round {i + 1}: webhook HTTP {status} {raw!r}")
            deadline = p0 + 30
            while True:
                targets = set(world.record_targets().values())
                if targets == {want}:
                    s = api.json("GET", "/api/v1/status")
                    if (s["converged"] and s["hosts_pending"] is None
                            and s["serving_site"] == target):
                        break
                if time.perf_counter() > deadline:
                    raise Broken(f"round {i + 1}: no convergence on {target} "
                                 f"within 30 s; records {targets}; status "
                                 f"{api.json('GET', '/api/v1/status')}")
                time.sleep(0.005)
            p1 = time.perf_counter()
            t1 = time.time()
            # -- the journal's view of this round
            evs = [e for e in api.json("GET", "/api/v1/events?limit=200")
                   ["events"] if e["seq"] > seq0]
            evs.sort(key=lambda e: e["seq"])
            hook = next((e for e in evs if e["type"] == "webhook"), None)
            started = [e for e in evs if e["type"] == "switch_started"]
            if len(started) != 1:
                raise Broken(f"round {i + 1}: {len(started)} switch_started "
                             f"events: {started}")
            sid = started[0]["id"]
            dns = [e for e in evs if e["type"] == "dns_updated"
                   and e["id"] == sid]
            hosts = [e for e in evs if e["type"] == "host_reconfigured"
                     and e["id"] == sid]
            failed = [e for e in evs if e["type"] in ("host_failed",
                                                      "dns_failed")]
            if started[0]["to"] != target or len(dns) != 1 or \
                    len({h["host"] for h in hosts}) != 2:
                raise Broken(f"round {i + 1}: unexpected events {evs}")
            ts_hook = parse_ts(hook["ts"])
            ts_start = parse_ts(started[0]["ts"])
            ts_dns = parse_ts(dns[0]["ts"])
            ts_hosts = sorted(parse_ts(h["ts"]) for h in hosts)
            # -- the hosts themselves
            for h in world.all_hosts[target]:
                env = (h.fs / "app" / ".env").read_text()
                if (f"AWS_REGION={REGION[target]}" not in env
                        or f"DR_SITE={target}\n" not in env):
                    raise Broken(f"round {i + 1}: host {h.port} of {target} "
                                 f"not reconfigured:\n{env}")
                reloaded = h.fs / "reloaded"
                if not reloaded.exists() or reloaded.stat().st_mtime < t0 - 1:
                    raise Broken(f"round {i + 1}: host {h.port} of {target} "
                                 "not reloaded")
            results.append({
                "total": p1 - p0, "ack": p_ack - p0,
                "post_hook": ts_hook - t0,
                "decide": ts_start - ts_hook,
                "dns": ts_dns - ts_start,
                "hosts": ts_hosts[-1] - ts_dns,
                "host_spread": ts_hosts[-1] - ts_hosts[0],
                "seen": t1 - ts_hosts[-1],
                "failures": len(failed),
            })
            print(f"  round {i + 1:>2} {serving:>10} -> {target:<10} "
                  f"{ms(p1 - p0):>7} ms  (ack {ms(p_ack - p0)}, decide "
                  f"{ms(ts_start - ts_hook)}, dns {ms(ts_dns - ts_start)}, "
                  f"hosts {ms(ts_hosts[-1] - ts_dns)}"
                  + (f", {len(failed)} failed step(s)" if failed else "")
                  + ")", flush=True)
            serving = target
            time.sleep(args.pause)

        check_alive(world, "after the switch rounds")
        m = world.metrics()
        switches = m.sum("dr_actuator_switches_total") - switches0
        puts = len(world.successful_puts()) - puts0
        hsum = m.sum("dr_actuator_action_duration_seconds_sum",
                     action="host_reconfigure")
        hcount = m.sum("dr_actuator_action_duration_seconds_count",
                       action="host_reconfigure")
        dsum = m.sum("dr_actuator_action_duration_seconds_sum",
                     action="dns_update")
        dcount = m.sum("dr_actuator_action_duration_seconds_count",
                       action="dns_update")
        totals = [r["total"] for r in results]
        med = {k: statistics.median(r[k] for r in results)
               for k in results[0]}
        print("\n--- switch summary ---")
        print(f"end-to-end over {len(totals)} switches: p50 "
              f"{ms(pct(totals, 50))} ms, p90 {ms(pct(totals, 90))} ms, max "
              f"{ms(max(totals))} ms (min {ms(min(totals))} ms)")
        print("breakdown, medians (journal ts; a 'ts' is taken when the "
              "event is created, before its fsync):")
        print(f"  POST -> webhook event            {ms(med['post_hook']):>7} ms"
              f"   (200 answered after {ms(med['ack'])} ms)")
        print(f"  webhook -> switch_started        {ms(med['decide']):>7} ms"
              "   (DNS read + 3 confirmation probes 50 ms apart + decision)")
        print(f"  switch_started -> dns_updated    {ms(med['dns']):>7} ms"
              "   (PUT app, PUT www, read back)")
        print(f"  dns_updated -> last host_reconf  {ms(med['hosts']):>7} ms"
              f"   (2 hosts; spread between the two events "
              f"{ms(med['host_spread'])} ms)")
        print(f"  last host_reconf -> seen by poll {ms(med['seen']):>7} ms")
        if hcount:
            print(f"  per host (dr_actuator_action_duration_seconds): mean "
                  f"{ms(hsum / hcount)} ms over {hcount:.0f} host "
                  f"reconfigurations; dns_update mean "
                  f"{ms(dsum / max(1, dcount))} ms")
        print(f"switches counted {switches:.0f} (expected {len(results)}), "
              f"successful PUTs {puts} (expected {2 * len(results)}), "
              f"failed steps {sum(r['failures'] for r in results)}")
        if switches != len(results):
            problem(f"{switches:.0f} switches counted for {len(results)} "
                    "rounds")
        if puts != 2 * len(results):
            problem(f"{puts} successful PUTs for {len(results)} switches "
                    "(expected 2 each)")
        base = ssh_baseline(world.hosts["us-east"], world.ssh_key)
        if base is not None:
            print(f"context: OpenSSH's own client (connect, auth, run `true`) "
                  f"to the same sshd: median {ms(base)} ms")
        p50 = pct(totals, 50)
        print(f"target (p50 < 300 ms): {ms(p50)} ms -> {met(p50 < 0.3)}",
              flush=True)
        api.close()
    finally:
        world.cleanup()
        clear_pids(args.pidfile)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="scratch directory (from actuator.sh)")
    ap.add_argument("--pidfile", help="started pids are listed here")
    ap.add_argument("--connections", default="8,32,128",
                    help="wrk connection counts, comma-separated "
                    "(default 8,32,128)")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds per wrk run (default 10)")
    ap.add_argument("--threads", type=int, default=2,
                    help="wrk threads (default 2)")
    ap.add_argument("--rounds", type=int, default=20,
                    help="switches in phase 2 (default 20)")
    ap.add_argument("--pause", type=float, default=0.2,
                    help="seconds between two switch rounds (default 0.2)")
    ap.add_argument("--only", choices=("intake", "switch"))
    ap.add_argument("--fake-nagle", action="store_true",
                    help="leave Nagle's algorithm on in the fake Linode and "
                    "health servers (each kept-alive answer then waits ~40 ms "
                    "for the client's delayed ACK)")
    args = ap.parse_args()
    try:
        args.connections = [int(x) for x in args.connections.split(",") if x]
    except ValueError:
        ap.error("--connections: comma-separated integers")
    if not args.connections or min(args.connections) < 1:
        ap.error("--connections: positive integers")
    if args.rounds < 1:
        ap.error("--rounds: at least 1")

    if not args.fake_nagle:
        # The Python fakes write an answer's headers and body in two
        # send()s; with Nagle on, the body waits for the client's delayed
        # ACK (~40 ms) on every kept-alive request. That is the fake's
        # cost, not the actuator's: set TCP_NODELAY on their sockets
        # (socketserver.StreamRequestHandler.disable_nagle_algorithm).
        fake_linode._Handler.disable_nagle_algorithm = True
        health_server._Handler.disable_nagle_algorithm = True

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    ver = subprocess.run([actuator_env.ACTUATOR, "--version"],
                         capture_output=True, text=True)
    ver = (ver.stdout + ver.stderr).strip().splitlines()
    print(f"dr-actuator: {ver[0] if ver else '?'}")
    print(f"machine:     {os.cpu_count()} CPUs; CPU time from /proc/PID/stat "
          f"in {1 / CLK_TCK:.2f} s ticks; load average {loadavg()}")
    print("fakes:       " + ("as they are (Nagle on: ~40 ms per kept-alive "
                             "answer of the fake Linode and health servers)"
                             if args.fake_nagle else
                             "TCP_NODELAY on the fake Linode and health "
                             "servers' sockets (--fake-nagle: leave it off)"),
          flush=True)
    try:
        if args.only in (None, "intake"):
            phase_intake(args)
        if args.only in (None, "switch"):
            phase_switch(args)
    except Broken as e:
        problem(str(e))
    print()
    if PROBLEMS:
        print(f"BROKEN: {len(PROBLEMS)} problem(s):")
        for p in PROBLEMS:
            print(f"  - {p.splitlines()[0]}")
        return 1
    print("OK: nothing lost, nothing acted on twice, no daemon died")
    return 0


if __name__ == "__main__":
    sys.exit(main())
