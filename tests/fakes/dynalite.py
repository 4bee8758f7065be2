#!/usr/bin/python3
"""Simulated DynamoDB regions (dynalite) and global-table replication.

dynalite (npm, see the repo's package.json; `npm ci` in the repo root) is a
real DynamoDB implementation on LevelDB. One instance stands for one AWS
region. It does not replicate and its DescribeTable has no `Replicas`, so
a Replicator thread copies a table's items from one instance to another
with a chosen delay; two of them (a->b, b->a) make a global table.

Module use:

    from dynalite import Dynalite, Replicator
    east = Dynalite(region="us-east-1").start()
    west = Dynalite(region="eu-west-1").start()
    for region in (east, west):
        region.create_table("dr_heartbeat")          # partition key "pk" (S)
    repl = [Replicator(east, west, "dr_heartbeat", 1.0).start(),
            Replicator(west, east, "dr_heartbeat", 1.0).start()]
    east.client().put_item(TableName="dr_heartbeat",
                           Item={"pk": {"S": "us-east"}, "ts": {"N": "1"}})
    # ... the item is at `west` about 1 s later
    repl[0].set_delay(30); repl[0].pause(); repl[0].resume()
    for r in repl: r.stop()
    east.stop(); west.stop()

Replication: the replicator scans the source table every `interval`
(0.1 s); each change it sees (a new or changed item, or a deleted one) is
applied at the destination `delay` seconds after it was first seen, in the
order seen. Writes made by a replicator are not replicated back by the
replicator going the other way (as in a DynamoDB global table), so a pair
never echoes old values over new ones. There is no conflict resolution:
tests write each item in one region only (as the heartbeat does).

CLI, for shell scripts:

    dynalite.py --region us-east-1 --region eu-west-1 \\
                --table dr_heartbeat --table user_profiles \\
                --replicate dr_heartbeat --delay 1.0 [--control 127.0.0.1:0]

creates every table in every region, replicates each `--replicate` table
between every pair of regions, prints `region NAME http://127.0.0.1:P` per
region (and `control http://HOST:P` with --control), flushed, and runs until
SIGTERM/SIGINT, then stops its node children. The control API:
`POST /delay` (body: seconds), `POST /pause`, `POST /resume` (all
replicators, or only `?table=NAME`), `GET /status`.
"""

import argparse
import atexit
import collections
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.config
import botocore.exceptions

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DYNALITE_CLI = REPO_ROOT / "node_modules" / "dynalite" / "cli.js"
_START_ATTEMPTS = 5
_START_TIMEOUT = 10.0

_CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})


# Instances started and not yet stopped; stopped at interpreter exit so that
# a test that dies early leaves no node process behind.
_live = set()


@atexit.register
def _stop_leftovers():
    for instance in list(_live):
        instance.stop()


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def client(endpoint, region):
    """A new boto3 DynamoDB client for `endpoint`, with dummy credentials."""
    session = boto3.session.Session()  # sessions are not thread-safe
    return session.client(
        "dynamodb", endpoint_url=endpoint, region_name=region,
        aws_access_key_id="fake", aws_secret_access_key="fake",
        config=_CLIENT_CONFIG)


class Dynalite:
    """One dynalite process: a simulated DynamoDB region on loopback.

    Owns the node child process and its log file. `client()` may be called
    from any thread; each call returns a new boto3 client.
    """

    def __init__(self, port=0, region="us-east-1", host="127.0.0.1",
                 path=None, create_table_ms=50, update_table_ms=None,
                 delete_table_ms=None):
        self.region, self.host, self.path = region, host, path
        self._want_port, self.create_table_ms = port, create_table_ms
        # How long tables stay UPDATING / DELETING (None: dynalite's 500 ms).
        self.update_table_ms = update_table_ms
        self.delete_table_ms = delete_table_ms
        self.port = None
        self._proc = None
        self._log = None
        self._client = None

    def start(self):
        """Starts node; retries on a port collision; waits until it answers."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        if not DYNALITE_CLI.exists():
            raise RuntimeError(f"{DYNALITE_CLI} is missing: run `npm ci` in "
                               "the repository root")
        self._log = tempfile.NamedTemporaryFile(
            prefix=f"dynalite-{self.region}-", suffix=".log", delete=False)
        for _ in range(_START_ATTEMPTS):
            port = self._want_port or _free_port(self.host)
            argv = [node, str(DYNALITE_CLI), "--host", self.host,
                    "--port", str(port),
                    "--createTableMs", str(self.create_table_ms)]
            if self.path:
                argv += ["--path", str(self.path)]
            if self.update_table_ms is not None:
                argv += ["--updateTableMs", str(self.update_table_ms)]
            if self.delete_table_ms is not None:
                argv += ["--deleteTableMs", str(self.delete_table_ms)]
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT)
            if self._wait_listening(port):
                self.port = port
                _live.add(self)
                return self
            self._kill()
            if self._want_port:
                break  # a fixed port that is taken will stay taken
        raise RuntimeError(f"dynalite did not start:\n{self.log_text()}")

    def _wait_listening(self, port):
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False  # e.g. EADDRINUSE: the port was taken meanwhile
            try:
                with socket.create_connection((self.host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._kill()
            self._proc = None
        _live.discard(self)
        if self._log is not None:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None

    def _kill(self):
        self._proc.kill()
        self._proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint(self):
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    def log_text(self):
        if self._log is None:
            return ""
        return pathlib.Path(self._log.name).read_text(errors="replace")

    def client(self, region=None):
        """A new boto3 DynamoDB client for this instance (dummy keys)."""
        return client(self.endpoint, region or self.region)

    def create_table(self, name, pk="pk", timeout=5.0):
        """Creates a table keyed by the string `pk`; waits until ACTIVE."""
        if self._client is None:
            self._client = self.client()
        self._client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": pk, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": pk, "KeyType": "HASH"}])
        deadline = time.monotonic() + timeout
        while True:
            table = self._client.describe_table(TableName=name)["Table"]
            if table["TableStatus"] == "ACTIVE":
                return table
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {name} is still "
                                   f"{table['TableStatus']}")
            time.sleep(0.02)


# Content last written by a replicator, by (endpoint, table, key): the
# reverse replicator skips those writes instead of echoing them back.
_replicated = {}
_replicated_lock = threading.Lock()


def _canonical(item):
    return None if item is None else json.dumps(item, sort_keys=True,
                                                default=repr)


class Replicator:
    """Copies one table's changes from `src` to `dst` after a delay.

    `src` and `dst` are Dynalite objects (anything with `.client()` and
    `.endpoint`). Runs in its own daemon thread; set_delay, pause, resume
    and stop may be called from any thread.
    """

    def __init__(self, src, dst, table, delay_seconds=1.0, interval=0.1):
        self.src, self.dst, self.table = src, dst, table
        self.interval = interval
        self._delay = float(delay_seconds)
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.applied = 0     # changes written at dst
        self.errors = 0      # failed scans or writes (retried)
        self._thread = None

    def start(self):
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name=f"replicate:{self.table}:{self.src.region}->"
                 f"{getattr(self.dst, 'region', '?')}")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def set_delay(self, seconds):
        """Applies to queued changes too: each is due at seen + delay."""
        with self._lock:
            self._delay = float(seconds)

    @property
    def delay(self):
        with self._lock:
            return self._delay

    def pause(self):
        """Breaks replication: nothing is read or written until resume()."""
        self._paused.set()

    def resume(self):
        self._paused.clear()

    @property
    def paused(self):
        return self._paused.is_set()

    def _run(self):
        src, dst = self.src.client(), self.dst.client()
        try:
            self._replicate(src, dst)
        finally:
            src.close()
            dst.close()

    def _replicate(self, src, dst):
        key_names = None
        seen = {}                       # key -> canonical item at src
        queue = collections.deque()     # (seen_at, key, item or None)
        while not self._stop.wait(self.interval):
            if self._paused.is_set():
                continue
            try:
                if key_names is None:
                    schema = src.describe_table(
                        TableName=self.table)["Table"]["KeySchema"]
                    key_names = [k["AttributeName"] for k in schema]
                self._scan_changes(src, key_names, seen, queue)
                self._apply_due(dst, queue)
            except (botocore.exceptions.BotoCoreError,
                    botocore.exceptions.ClientError):
                self.errors += 1  # a region is down: retry next round

    def _scan_changes(self, src, key_names, seen, queue):
        now = time.monotonic()
        current = {}
        for page in src.get_paginator("scan").paginate(TableName=self.table,
                                                       ConsistentRead=True):
            for item in page["Items"]:
                key = _canonical({k: item[k] for k in key_names})
                current[key] = item
        for key, item in current.items():
            content = _canonical(item)
            if seen.get(key) != content:
                seen[key] = content
                if not self._is_echo(key, content):
                    queue.append((now, key, item))
        for key in [k for k in seen if k not in current]:
            del seen[key]
            if not self._is_echo(key, None):
                queue.append((now, key, None))

    def _is_echo(self, key, content):
        with _replicated_lock:
            return _replicated.get((self.src.endpoint, self.table, key),
                                   "absent") == content

    def _apply_due(self, dst, queue):
        while queue and queue[0][0] + self.delay <= time.monotonic():
            _, key, item = queue[0]
            with _replicated_lock:
                _replicated[(self.dst.endpoint, self.table, key)] = \
                    _canonical(item)
            if item is None:
                dst.delete_item(TableName=self.table, Key=json.loads(key))
            else:
                dst.put_item(TableName=self.table, Item=item)
            queue.popleft()
            self.applied += 1


# ---------------------------------------------------------------- CLI

def _split_hostport(value):
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _control_handler(replicators):
    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status, obj):
            payload = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _selected(self):
            path, _, query = self.path.partition("?")
            table = dict(p.partition("=")[::2]
                         for p in query.split("&") if p).get("table")
            return path.rstrip("/"), [r for r in replicators
                                      if table in (None, r.table)]

        def do_GET(self):
            path, selected = self._selected()
            if path != "/status":
                return self._send(404, {"error": "not found"})
            self._send(200, [{"table": r.table, "from": r.src.region,
                              "to": r.dst.region, "delay": r.delay,
                              "paused": r.paused, "applied": r.applied}
                             for r in selected])

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace").strip()
            path, selected = self._selected()
            if path == "/delay":
                try:
                    seconds = float(body)
                except ValueError:
                    return self._send(400, {"error": "body: seconds"})
                for r in selected:
                    r.set_delay(seconds)
            elif path == "/pause":
                for r in selected:
                    r.pause()
            elif path == "/resume":
                for r in selected:
                    r.resume()
            else:
                return self._send(404, {"error": "not found"})
            self._send(200, {"replicators": len(selected)})

        def log_message(self, fmt, *args):
            pass

    return Control


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Simulated DynamoDB regions with replication.")
    parser.add_argument("--region", action="append", required=True,
                        help="a region name; one dynalite per region")
    parser.add_argument("--table", action="append", default=[],
                        help="created in every region, key 'pk' (S)")
    parser.add_argument("--replicate", action="append", default=[],
                        help="a table replicated between all regions")
    parser.add_argument("--delay", type=float, default=1.0,
                        help="replication delay in seconds")
    parser.add_argument("--control", type=_split_hostport,
                        help="HOST:PORT of a control API (port 0 = pick)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    regions, replicators, control = {}, [], None
    try:
        for name in args.region:
            regions[name] = Dynalite(region=name).start()
            for table in dict.fromkeys(args.table + args.replicate):
                regions[name].create_table(table)
        for table in args.replicate:
            for src in regions.values():
                for dst in regions.values():
                    if src is not dst:
                        replicators.append(
                            Replicator(src, dst, table, args.delay).start())
        for name, region in regions.items():
            print(f"region {name} {region.endpoint}", flush=True)
        if args.control:
            control = ThreadingHTTPServer(args.control,
                                          _control_handler(replicators))
            control.daemon_threads = True
            threading.Thread(target=control.serve_forever, daemon=True).start()
            host, port = control.server_address[:2]
            print(f"control http://{host}:{port}", flush=True)
        stop.wait()
    finally:
        if control is not None:
            control.shutdown()
            control.server_close()
        for replicator in replicators:
            replicator.stop()
        for region in regions.values():
            region.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
