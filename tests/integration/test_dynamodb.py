#!/usr/bin/python3
"""dr-exporter's DynamoDB collector against real DynamoDB implementations.

Two dynalite instances stand for two AWS regions; a test replicator copies
the heartbeat table between them with a chosen delay (global-table
replication); a SigV4 proxy in front of one region checks every signature
with botocore's signer, as AWS would. Replica status, which dynalite does
not report, comes from recorded AWS answers served by a tiny HTTP server.
Every assertion is on what a user sees: the scraped /metrics, the exit
status and the log.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (Process, build_dir, free_port, repo_root, scrape,
                     start_process, wait_until, write_config)

sys.path.insert(0, str(repo_root() / "tests" / "fakes"))
from dynalite import Dynalite, Replicator  # noqa: E402
from sigv4_proxy import SigV4Proxy  # noqa: E402

TESTDATA = repo_root() / "tests" / "testdata" / "dynamodb"
EXPORTER = build_dir() / "exporter" / "dr-exporter"

AKID = "AKIDDRFAILOVERTEST"
SECRET = "dr/failover+secret+KEY0123456789abcdefgh"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDDRFAILOVERTOKEN+abc="
INTERVAL = 0.5  # probe.interval and heartbeat.interval, seconds
TABLE_STATUSES = ["CREATING", "UPDATING", "DELETING", "ACTIVE",
                  "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVING",
                  "ARCHIVED", "REPLICATION_NOT_AUTHORIZED", "UNKNOWN"]
REPLICA_STATUSES = ["CREATING", "CREATION_FAILED", "UPDATING", "DELETING",
                    "ACTIVE", "REGION_DISABLED",
                    "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVING",
                    "ARCHIVED", "REPLICATION_NOT_AUTHORIZED", "UNKNOWN"]
AWS_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
# A port nothing listens on: health URLs and the Linode API point there (the
# other collectors' business, not this test's).
CLOSED_PORT = free_port()


def credentials_env(secret=SECRET, token=TOKEN):
    env = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_SESSION_TOKEN": token, "LINODE_TOKEN": "linode-test-token"}
    for name in AWS_VARS:
        env[name + "_FILE"] = ""  # empty counts as unset
    return env


def site(name, index, region, endpoint):
    address = f"192.0.2.{10 + index}"
    return {"name": name, "address": address,
            "health_url": f"http://127.0.0.1:{CLOSED_PORT}/health",
            "aws_region": region, "dynamodb_endpoint": endpoint}



def exporter_config(sites, tables=("user_profiles",), heartbeat=True):
    dynamodb = {"tables": list(tables)}
    if heartbeat:
        dynamodb["heartbeat"] = {"table": "dr_heartbeat",
                                 "interval": f"{int(INTERVAL * 1000)}ms"}
    return {
        "sites": sites,
        "probe": {"interval": f"{int(INTERVAL * 1000)}ms",
                  "timeout": "400ms"},
        "dns": {"domain": "example.com", "records": ["app"],
                "api_url": f"http://127.0.0.1:{CLOSED_PORT}/v4"},
        "dynamodb": dynamodb,
    }


def lag(metrics, source, target):
    return metrics.value("dr_dynamodb_replication_lag_seconds",
                         table="dr_heartbeat", source_site=source,
                         target_site=target)


class RecordedDynamoDb:
    """Answers DescribeTable with a recorded AWS answer (switchable).

    Owns its server thread; `serve(name)` and `requests` may be used from
    any thread.
    """

    def __init__(self, name):
        self._lock = threading.Lock()
        self._body = (TESTDATA / name).read_bytes()
        self.requests = []  # (X-Amz-Target, Authorization)
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                with recorded._lock:
                    recorded.requests.append(
                        (target, self.headers.get("Authorization", "")))
                    body = recorded._body
                status = 200
                if target != "DynamoDB_20120810.DescribeTable":
                    status, body = 400, json.dumps({
                        "__type": "com.amazon.coral.service#"
                                  "UnknownOperationException"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever,
                         daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, name):
        with self._lock:
            self._body = (TESTDATA / name).read_bytes()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


class HungEndpoint:
    """A listening socket that is never accepted from: connections complete
    in the kernel's backlog and no answer ever comes."""

    def __init__(self):
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def stop(self):
        self._sock.close()


class HeartbeatWriter:
    """Writes `pk`'s heartbeat item into `region` every 0.2 s, standing in
    for a source site whose own endpoint is down, so that the target
    site's lag shows whether its worker keeps reading."""

    def __init__(self, region, pk):
        self._client = region.client()
        self._pk = pk
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.2):
            self._client.put_item(
                TableName="dr_heartbeat",
                Item={"pk": {"S": self._pk},
                      "ts": {"N": f"{time.time():.3f}"}})

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._client.close()


class DynamoDbCollectorTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.east = Dynalite(region="us-east-1").start()
        cls.west = Dynalite(region="eu-west-1").start()
        for region in (cls.east, cls.west):
            region.create_table("user_profiles")
            region.create_table("dr_heartbeat")
        cls.east_to_west = Replicator(cls.east, cls.west, "dr_heartbeat",
                                      1.0).start()
        cls.west_to_east = Replicator(cls.west, cls.east, "dr_heartbeat",
                                      1.0).start()
        # eu-central's requests go through the signature check.
        cls.proxy = SigV4Proxy(cls.west.endpoint, "eu-west-1", AKID, SECRET,
                               TOKEN).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        for r in (cls.east_to_west, cls.west_to_east):
            r.stop()
        cls.east.stop()
        cls.west.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="drf-dynamodb-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        for r in (self.east_to_west, self.west_to_east):
            r.set_delay(1.0)
            r.resume()

    def two_sites(self):
        return [site("us-east", 0, "us-east-1", self.east.endpoint),
                site("eu-central", 1, "eu-west-1", self.proxy.endpoint)]

    def start_exporter(self, config, env=None):
        port = free_port()
        path = write_config(self.tmp, config)
        proc = start_process(
            [EXPORTER, "--config.file", path,
             "--web.listen-address", f"127.0.0.1:{port}"],
            ready_url=f"http://127.0.0.1:{port}/-/ready",
            env=env or credentials_env(), timeout=15)
        self.addCleanup(proc.stop)
        return proc, f"http://127.0.0.1:{port}/metrics"

    def assert_state_set(self, metrics, name, statuses, current, **labels):
        got = {lbls["status"]: value
               for lbls, value in metrics.samples(name, **labels)}
        self.assertEqual(sorted(got), sorted(statuses), labels)
        self.assertEqual(
            {s: v for s, v in got.items() if v != 0}, {current: 1.0}, labels)

    # ------------------------------------------------------------ tests

    def test_both_regions_up_with_signed_requests_and_table_active(self):
        rejected_before = self.proxy.rejected
        _, url = self.start_exporter(exporter_config(self.two_sites()))
        m = wait_until(
            lambda: (lambda m: m if m.sum("dr_dynamodb_up") == 2 else None)(
                scrape(url)),
            timeout=10, message="both regions up")
        self.assertEqual(m.value("dr_dynamodb_up", site="us-east",
                                 region="us-east-1"), 1)
        self.assertEqual(m.value("dr_dynamodb_up", site="eu-central",
                                 region="eu-west-1"), 1)
        for name in ("us-east", "eu-central"):
            self.assert_state_set(m, "dr_dynamodb_table_status",
                                  TABLE_STATUSES, "ACTIVE", site=name,
                                  table="user_profiles")
        # dynalite's single-region tables report no replicas.
        self.assertEqual(m.samples("dr_dynamodb_replica_status"), [])
        self.assertEqual(m.types["dr_dynamodb_up"], "gauge")
        # Every request of eu-central was signed the way AWS checks it.
        self.assertGreater(self.proxy.verified, 0)
        self.assertEqual(self.proxy.rejected, rejected_before,
                         self.proxy.last_rejection)
        # (No assertion on timeouts: under a sanitizer on a loaded machine
        # a request through the Python proxy may exceed 400 ms.)
        check = subprocess.run(["promtool", "check", "metrics"],
                               input=m.text.encode(), capture_output=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def wait_lag_between(self, url, low, high, timeout):
        def settled():
            m = scrape(url)
            lags = [lag(m, "us-east", "eu-central"),
                    lag(m, "eu-central", "us-east")]
            return lags if all(v is not None and low <= v <= high
                               for v in lags) else None
        return wait_until(settled, timeout=timeout, interval=0.1,
                          message=f"both lags within [{low}, {high}]")

    def assert_lag_stays_between(self, url, low, high, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = scrape(url)
            for source, target in (("us-east", "eu-central"),
                                   ("eu-central", "us-east")):
                v = lag(m, source, target)
                self.assertIsNotNone(v)
                self.assertGreaterEqual(v, low, f"{source}->{target}")
                self.assertLessEqual(v, high, f"{source}->{target}")
            time.sleep(0.2)

    def test_lag_follows_the_replication_delay(self):
        _, url = self.start_exporter(exporter_config(self.two_sites()))
        # The newest item read is at least `delay` old, and is replaced at
        # most 2 intervals later (one to be written, one to be read).
        slack = 0.8  # replicator scan period, scheduling on a busy machine
        self.wait_lag_between(url, 1.0, 1.0 + 2 * INTERVAL + slack, 15)
        self.assert_lag_stays_between(url, 0.95, 1.0 + 2 * INTERVAL + slack,
                                      3)
        for r in (self.east_to_west, self.west_to_east):
            r.set_delay(3.0)
        self.wait_lag_between(url, 3.0, 3.0 + 2 * INTERVAL + slack, 15)
        self.assert_lag_stays_between(url, 2.95, 3.0 + 2 * INTERVAL + slack,
                                      3)

    def test_lag_grows_while_replication_is_paused(self):
        _, url = self.start_exporter(exporter_config(self.two_sites()))
        self.wait_lag_between(url, 1.0, 3.0, 15)
        self.east_to_west.pause()
        time.sleep(0.5)
        first = lag(scrape(url), "us-east", "eu-central")
        time.sleep(3)
        m = scrape(url)
        grown = lag(m, "us-east", "eu-central")
        # It grows with the clock: nothing new arrives at eu-central.
        self.assertGreaterEqual(grown, first + 2.8)
        self.assertGreater(grown, 4)
        # The other direction still replicates.
        self.assertLess(lag(m, "eu-central", "us-east"), 3.0)
        self.east_to_west.resume()
        self.wait_lag_between(url, 1.0, 3.0, 15)

    def test_missing_table_is_not_up_and_counted(self):
        _, url = self.start_exporter(exporter_config(
            self.two_sites(), tables=("user_profiles", "no_such_table")))
        m = wait_until(
            lambda: (lambda m: m if m.value(
                "dr_collector_errors_total", collector="dynamodb",
                reason="ResourceNotFoundException") else None)(scrape(url)),
            timeout=10, message="ResourceNotFoundException counted")
        first = m.value("dr_collector_errors_total", collector="dynamodb",
                        reason="ResourceNotFoundException")
        self.assertEqual(m.value("dr_dynamodb_up", site="us-east"), 0)
        time.sleep(3 * INTERVAL)
        m = scrape(url)
        self.assertGreater(
            m.value("dr_collector_errors_total", collector="dynamodb",
                    reason="ResourceNotFoundException"), first)
        for name in ("us-east", "eu-central"):
            self.assertEqual(m.value("dr_dynamodb_up", site=name), 0)
            # The table that exists is still reported; the missing one not.
            self.assert_state_set(m, "dr_dynamodb_table_status",
                                  TABLE_STATUSES, "ACTIVE", site=name,
                                  table="user_profiles")
            self.assertEqual(m.samples("dr_dynamodb_table_status", site=name,
                                       table="no_such_table"), [])

    def assert_other_site_unaffected(self, url, bad_site, reason):
        writer = HeartbeatWriter(self.east, bad_site)
        self.addCleanup(writer.stop)

        def bad_down():
            m = scrape(url)
            fresh = lag(m, bad_site, "us-east")
            return m if (m.value("dr_dynamodb_up", site=bad_site) == 0 and
                         m.value("dr_collector_errors_total",
                                 collector="dynamodb", reason=reason) and
                         fresh is not None and fresh < 1.5) else None
        first = wait_until(bad_down, timeout=10,
                           message=f"{bad_site} down ({reason})")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            start = time.monotonic()
            m = scrape(url)
            self.assertLess(time.monotonic() - start, 0.5, "slow scrape")
            self.assertEqual(m.value("dr_dynamodb_up", site="us-east"), 1)
            self.assertEqual(m.value("dr_dynamodb_up", site=bad_site), 0)
            self.assert_state_set(m, "dr_dynamodb_table_status",
                                  TABLE_STATUSES, "ACTIVE", site="us-east",
                                  table="user_profiles")
            # us-east keeps reading: what is written into its region every
            # 0.2 s stays fresh there.
            self.assertLess(lag(m, bad_site, "us-east"), 1.5)
            time.sleep(0.2)
        self.assertGreater(
            m.value("dr_collector_errors_total", collector="dynamodb",
                    reason=reason),
            first.value("dr_collector_errors_total", collector="dynamodb",
                        reason=reason))

    def test_stopped_region_does_not_affect_the_other(self):
        south = Dynalite(region="ap-south-1").start()
        self.addCleanup(south.stop)
        south.create_table("user_profiles")
        south.create_table("dr_heartbeat")
        _, url = self.start_exporter(exporter_config(
            [site("us-east", 0, "us-east-1", self.east.endpoint),
             site("ap-south", 1, "ap-south-1", south.endpoint)]))
        wait_until(lambda: scrape(url).sum("dr_dynamodb_up") == 2,
                   timeout=10, message="both regions up")
        south.stop()
        self.assert_other_site_unaffected(url, "ap-south", "connect")

    def test_hung_endpoint_does_not_affect_the_other(self):
        hung = HungEndpoint()
        self.addCleanup(hung.stop)
        started = time.monotonic()
        _, url = self.start_exporter(exporter_config(
            [site("us-east", 0, "us-east-1", self.east.endpoint),
             site("hung", 1, "ap-south-1", hung.endpoint)]))
        # Ready after one round: the hung region's requests time out.
        self.assertLess(time.monotonic() - started, 5)
        self.assert_other_site_unaffected(url, "hung", "timeout")

    def test_replica_status_from_recorded_aws_answers(self):
        recorded = RecordedDynamoDb("describe_table_global.json")
        self.addCleanup(recorded.stop)
        proc, url = self.start_exporter(exporter_config(
            [site("us-east", 0, "us-east-1", self.east.endpoint),
             site("eu-central", 1, "eu-west-1", recorded.endpoint)],
            heartbeat=False))
        m = wait_until(
            lambda: (lambda m: m if m.samples(
                "dr_dynamodb_replica_status") else None)(scrape(url)),
            timeout=10, message="replica series")
        answer = json.loads(
            (TESTDATA / "describe_table_global.json").read_text())
        replicas = {r["RegionName"]: r["ReplicaStatus"]
                    for r in answer["Table"]["Replicas"]}
        self.assertEqual(len(set(replicas.values())), 10)
        for region, status in replicas.items():
            self.assert_state_set(m, "dr_dynamodb_replica_status",
                                  REPLICA_STATUSES, status, site="eu-central",
                                  table="user_profiles",
                                  replica_region=region)
        self.assertEqual(
            {lbls["replica_region"] for lbls, _ in
             m.samples("dr_dynamodb_replica_status")}, set(replicas))
        self.assert_state_set(m, "dr_dynamodb_table_status", TABLE_STATUSES,
                              "ACTIVE", site="eu-central",
                              table="user_profiles")
        self.assertEqual(m.value("dr_dynamodb_up", site="eu-central"), 1)
        target, auth = recorded.requests[0]
        self.assertEqual(target, "DynamoDB_20120810.DescribeTable")
        self.assertIn(f"Credential={AKID}/", auth)
        self.assertIn("/eu-west-1/dynamodb/aws4_request", auth)

        # Replicas no longer reported disappear; the table status follows.
        recorded.serve("describe_table_two_replicas.json")

        def two_replicas():
            m = scrape(url)
            regions = {lbls["replica_region"] for lbls, _ in
                       m.samples("dr_dynamodb_replica_status")}
            return m if regions == {"us-east-1", "us-west-2"} else None
        m = wait_until(two_replicas, timeout=10, message="two replicas")
        self.assert_state_set(m, "dr_dynamodb_replica_status",
                              REPLICA_STATUSES, "CREATING",
                              replica_region="us-west-2")
        self.assert_state_set(m, "dr_dynamodb_table_status", TABLE_STATUSES,
                              "UPDATING", site="eu-central",
                              table="user_profiles")

        # Values this version does not know count as UNKNOWN, and are
        # logged with what was received.
        recorded.serve("describe_table_unknown_status.json")

        def unknown():
            m = scrape(url)
            return m if m.value("dr_dynamodb_replica_status",
                                replica_region="us-west-2",
                                status="UNKNOWN") == 1 else None
        m = wait_until(unknown, timeout=10, message="UNKNOWN replica status")
        self.assert_state_set(m, "dr_dynamodb_replica_status",
                              REPLICA_STATUSES, "UNKNOWN",
                              replica_region="ap-south-1")
        self.assert_state_set(m, "dr_dynamodb_replica_status",
                              REPLICA_STATUSES, "ACTIVE",
                              replica_region="eu-west-1")
        self.assert_state_set(m, "dr_dynamodb_table_status", TABLE_STATUSES,
                              "UNKNOWN", site="eu-central",
                              table="user_profiles")
        log = proc.log_text()
        self.assertIn("QUANTUM_ENTANGLED", log)
        self.assertIn("RESTORING_FROM_THE_FUTURE", log)

    def test_bad_credentials_are_counted_and_never_leak(self):
        wrong_secret = "wrong/secret+KEY9876543210zyxwvutsrqp"
        proc, url = self.start_exporter(
            exporter_config(self.two_sites()),
            env=credentials_env(secret=wrong_secret))
        m = wait_until(
            lambda: (lambda m: m if m.value(
                "dr_collector_errors_total", collector="dynamodb",
                reason="InvalidSignatureException") else None)(scrape(url)),
            timeout=10, message="InvalidSignatureException counted")
        self.assertEqual(m.value("dr_dynamodb_up", site="eu-central"), 0)
        self.assertEqual(m.value("dr_dynamodb_up", site="us-east"), 1)
        self.assertEqual(self.proxy.last_rejection[0],
                         "InvalidSignatureException")
        # AWS's message quotes the canonical request, session token
        # included: the log keeps the message, without the token.
        proc.stop()
        log = proc.log_text()
        self.assertIn("InvalidSignatureException", log)
        self.assertIn("x-amz-security-token:[REDACTED]", log)
        for secret in (wrong_secret, TOKEN, SECRET):
            self.assertNotIn(secret, log)
            self.assertNotIn(secret, m.text)

        # A wrong session token is an unrecognized client.
        proc, url = self.start_exporter(
            exporter_config(self.two_sites()),
            env=credentials_env(token="not-the-token"))
        wait_until(
            lambda: scrape(url).value("dr_collector_errors_total",
                                      collector="dynamodb",
                                      reason="UnrecognizedClientException"),
            timeout=10, message="UnrecognizedClientException counted")

    def run_without_credentials(self, env_changes):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_")}
        env["LINODE_TOKEN"] = "linode-test-token"
        env.update(env_changes)
        path = write_config(self.tmp, exporter_config(self.two_sites()))
        proc = Process([EXPORTER, "--config.file", path,
                        "--web.listen-address",
                        f"127.0.0.1:{free_port()}"], env=env)
        self.addCleanup(proc.stop)
        code = proc.wait(timeout=10)
        return code, proc.log_text()

    def test_missing_credentials_refuse_to_start(self):
        code, log = self.run_without_credentials({})
        self.assertNotEqual(code, 0)
        self.assertIn("AWS_ACCESS_KEY_ID is not set", log)

        secret_file = pathlib.Path(self.tmp) / "secret"
        secret_file.write_text("file-secret-value\n")
        code, log = self.run_without_credentials({
            "AWS_ACCESS_KEY_ID": AKID,
            "AWS_SECRET_ACCESS_KEY": "env-secret-value",
            "AWS_SECRET_ACCESS_KEY_FILE": str(secret_file)})
        self.assertNotEqual(code, 0)
        self.assertIn("AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE",
                      log)
        self.assertNotIn("env-secret-value", log)
        self.assertNotIn("file-secret-value", log)

    def test_credentials_from_files(self):
        files = {}
        for name, value in (("AWS_ACCESS_KEY_ID", AKID),
                            ("AWS_SECRET_ACCESS_KEY", SECRET),
                            ("AWS_SESSION_TOKEN", TOKEN)):
            path = pathlib.Path(self.tmp) / name.lower()
            path.write_text(value + "\n")  # as a Kubernetes secret may be
            files[name + "_FILE"] = str(path)
        env = {name: "" for name in AWS_VARS}
        env.update(files, LINODE_TOKEN="linode-test-token")
        rejected_before = self.proxy.rejected
        _, url = self.start_exporter(exporter_config(self.two_sites()),
                                     env=env)
        wait_until(lambda: scrape(url).value(
            "dr_dynamodb_up", site="eu-central") == 1, timeout=10,
            message="eu-central up with credentials from files")
        self.assertEqual(self.proxy.rejected, rejected_before,
                         self.proxy.last_rejection)


if __name__ == "__main__":
    unittest.main()
