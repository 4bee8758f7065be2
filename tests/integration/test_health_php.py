#!/usr/bin/python3
"""examples/php/health.php, the shipped file, under real nginx + PHP-FPM.

The site's DynamoDB replica is dynalite behind a SigV4 proxy that recomputes
every signature with botocore's signer, as AWS does, so a 200 proves the
request health.php signed was accepted. Its settings come the way the file
documents: keys from the pool's `env[...]` lines, the rest from the .env
file named by DR_ENV_FILE, which wins, and which each test rewrites without
reloading PHP-FPM (as dr-actuator's failover rewrites it). Outages are real:
a frozen dynalite (SIGSTOP) and a stopped one. Error answers that dynalite
cannot produce come from a server replaying them.
"""

import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import repo_root

sys.path.insert(0, str(repo_root() / "tests" / "fakes"))
from dynalite import Dynalite  # noqa: E402
from php_site import PhpSite  # noqa: E402
from sigv4_proxy import SigV4Proxy  # noqa: E402

HEALTH_PHP = repo_root() / "examples" / "php" / "health.php"
REGION = "eu-west-1"
POOL_REGION = "us-east-1"  # the pool's AWS_REGION, which the .env overrides
TABLE = "dr_health_app"    # not health.php's default: the setting must be read
AKID = "AKIDHEALTHPHPTEST"
SECRET = "health/php+secret+KEY0123456789abcdefgh"
TOKEN = "FwoGZXIvYXdzEHEALTHPHP//////////wEaDTOKEN+xyz="
WRONG_SECRET = "not/the+secret+KEY0123456789abcdefghij"
# Time PHP-FPM, nginx and the test client may add to health.php's own
# DynamoDB timeout. Measured on a 2-core machine under a parallel build:
# about 10 ms; the bound is generous so that a loaded machine does not fail.
SLACK = 1.5


class ReplayServer:
    """Answers every request with one recorded (status, type, body)."""

    def __init__(self):
        self.answer = (500, "text/plain", b"")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, content_type, body = owner.answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


class HealthPhpTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not HEALTH_PHP.exists():
            raise AssertionError(f"{HEALTH_PHP} is missing")
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dr-health-php-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        fs = cls.tmp / "host"
        (fs / "app").mkdir(parents=True)
        cls.env_file = fs / "app" / ".env"
        cls.env_file.write_text("")

        # Tables stay UPDATING and DELETING for the whole run.
        cls.dynamo = Dynalite(region=REGION, update_table_ms=600_000,
                              delete_table_ms=600_000).start()
        cls.addClassCleanup(cls.dynamo.stop)
        cls.dynamo.create_table(TABLE)
        cls.proxy = SigV4Proxy(cls.dynamo.endpoint, REGION, AKID, SECRET,
                               TOKEN).start()
        cls.addClassCleanup(cls.proxy.stop)
        cls.site = PhpSite("127.0.0.1", fs, health_php=HEALTH_PHP.read_text(),
                           fpm_env={"AWS_ACCESS_KEY_ID": AKID,
                                    "AWS_SECRET_ACCESS_KEY": SECRET,
                                    "AWS_SESSION_TOKEN": TOKEN,
                                    "AWS_REGION": POOL_REGION}).start()
        cls.addClassCleanup(cls.site.stop)

    # ------------------------------------------------------------ helpers

    def write_env(self, **settings):
        """Rewrites the .env: the defaults, updated by `settings` (None
        removes a key). Written the way dr-actuator writes it."""
        values = {"AWS_REGION": REGION,
                  "DYNAMODB_ENDPOINT": self.proxy.endpoint,
                  "DR_HEALTH_TABLE": TABLE,
                  "DR_HEALTH_TIMEOUT_MS": "1000"}
        values.update(settings)
        lines = ["# application settings (rewritten on failover)"]
        lines += [f"{k}={v}" for k, v in values.items() if v is not None]
        tmp = self.env_file.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.chmod(tmp, 0o644)
        tmp.rename(self.env_file)

    def get(self, extra_secrets=()):
        """GETs health.php; checks what every answer must hold; returns
        (status, decoded JSON body, seconds taken)."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.site.url, timeout=30) as r:
                status, headers, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, e.headers, e.read()
        elapsed = time.monotonic() - started
        self.assertEqual(headers.get("Content-Type"), "application/json", raw)
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        text = raw.decode()
        for secret in (SECRET, TOKEN, AKID, *extra_secrets):
            self.assertNotIn(secret, text)
        body = json.loads(text)
        self.assertIsInstance(body, dict)
        self.assertEqual(body["status"], "ok" if status == 200 else "down",
                         body)
        return status, body, elapsed

    def replica_with_table(self, name=TABLE):
        """A separate dynalite holding `name`, stopped after the test."""
        instance = Dynalite(region=REGION).start()
        self.addCleanup(instance.stop)
        instance.create_table(name)
        return instance

    # -------------------------------------------------------------- tests

    def test_active_table_answers_200_with_a_verified_signature(self):
        self.write_env()
        verified, rejected = self.proxy.verified, self.proxy.rejected
        status, body, _ = self.get()
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"status": "ok", "region": REGION,
                                "table": TABLE, "table_status": "ACTIVE",
                                "latency_ms": body["latency_ms"]})
        self.assertIsInstance(body["latency_ms"], int)
        # The DescribeTable went through botocore's signature check.
        self.assertEqual(self.proxy.verified, verified + 1)
        self.assertEqual(self.proxy.rejected, rejected)

    def test_wrong_secret_key_is_503_invalid_signature(self):
        # The .env's key wins over the pool's correct one.
        self.write_env(AWS_SECRET_ACCESS_KEY=WRONG_SECRET)
        status, body, _ = self.get(extra_secrets=[WRONG_SECRET])
        self.assertEqual(status, 503, body)
        self.assertEqual(body["aws_error"], "InvalidSignatureException")
        self.assertTrue(body["reason"].startswith(
            "dynamodb: InvalidSignatureException: The request signature we "
            "calculated does not match"), body)
        self.assertEqual(self.proxy.last_rejection[0],
                         "InvalidSignatureException")
        # AWS's message goes on to quote the canonical request (with the
        # session token): only its first line may be passed on.
        self.assertIn("Canonical String", self.proxy.last_rejection[1])
        self.assertNotIn("Canonical", body["reason"])
        # And with the right key again, the same site is healthy.
        self.write_env()
        self.assertEqual(self.get()[0], 200)

    def test_region_comes_from_the_pool_when_the_env_file_lacks_it(self):
        # The request is then signed for us-east-1, which this eu-west-1
        # endpoint refuses, as AWS would.
        self.write_env(AWS_REGION=None)
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["region"], POOL_REGION)
        self.assertEqual(body["aws_error"], "InvalidSignatureException")
        self.assertIn(f"expected {REGION}/dynamodb, not {POOL_REGION}/"
                      "dynamodb", body["reason"])

    def test_missing_table_is_503_naming_the_aws_error(self):
        self.write_env(DR_HEALTH_TABLE="no_such_table")
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["table"], "no_such_table")
        self.assertEqual(body["aws_error"], "ResourceNotFoundException")
        self.assertIn("dynamodb: ResourceNotFoundException", body["reason"])
        self.assertIn("no_such_table", body["reason"])

    def test_deleting_table_is_503_with_its_status(self):
        client = self.dynamo.client()
        self.addCleanup(client.close)
        self.dynamo.create_table("dr_health_deleting")
        client.delete_table(TableName="dr_health_deleting")
        self.write_env(DR_HEALTH_TABLE="dr_health_deleting")
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["table_status"], "DELETING")
        self.assertEqual(body["reason"],
                         "dynamodb: table dr_health_deleting is DELETING")

    def test_updating_table_still_serves_unless_configured_otherwise(self):
        client = self.dynamo.client()
        self.addCleanup(client.close)
        self.dynamo.create_table("dr_health_updating")
        client.update_table(TableName="dr_health_updating",
                            BillingMode="PROVISIONED",
                            ProvisionedThroughput={"ReadCapacityUnits": 5,
                                                   "WriteCapacityUnits": 5})
        self.assertEqual(client.describe_table(
            TableName="dr_health_updating")["Table"]["TableStatus"],
            "UPDATING")
        self.write_env(DR_HEALTH_TABLE="dr_health_updating")
        status, body, _ = self.get()
        self.assertEqual(status, 200, body)
        self.assertEqual(body["table_status"], "UPDATING")
        self.write_env(DR_HEALTH_TABLE="dr_health_updating",
                       DR_HEALTH_OK_STATUSES="ACTIVE")
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["table_status"], "UPDATING")

    def test_frozen_dynamodb_is_503_within_the_timeout(self):
        replica = self.replica_with_table()
        self.write_env(DYNAMODB_ENDPOINT=replica.endpoint,
                       DR_HEALTH_TIMEOUT_MS="700")
        self.assertEqual(self.get()[0], 200)
        os.kill(replica.pid, signal.SIGSTOP)  # accepts, never answers
        self.addCleanup(os.kill, replica.pid, signal.SIGCONT)
        status, body, elapsed = self.get()
        print(f"\n  frozen DynamoDB: 503 after {elapsed * 1000:.0f} ms "
              f"(timeout 700 ms)", file=sys.stderr)
        self.assertEqual(status, 503, body)
        self.assertTrue(body["reason"].startswith(
            "dynamodb: timeout after 700 ms (no answer from 127.0.0.1:"),
            body)
        self.assertLess(elapsed, 0.7 + SLACK)

    def test_stopped_dynamodb_is_503_connection_refused(self):
        replica = self.replica_with_table()
        self.write_env(DYNAMODB_ENDPOINT=replica.endpoint)
        self.assertEqual(self.get()[0], 200)
        port = replica.port
        replica.stop()
        status, body, elapsed = self.get()
        print(f"\n  stopped DynamoDB: 503 after {elapsed * 1000:.0f} ms",
              file=sys.stderr)
        self.assertEqual(status, 503, body)
        self.assertEqual(body["reason"],
                         f"dynamodb: connection refused (127.0.0.1:{port})")
        self.assertLess(elapsed, 1.0 + SLACK)

    def test_aws_error_messages_are_scrubbed_of_credentials(self):
        replay = ReplayServer()
        self.addCleanup(replay.stop)
        replay.answer = (400, "application/x-amz-json-1.0", json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
            "message": f"User with key {AKID} and token {TOKEN} is not "
                       "authorized to perform: dynamodb:DescribeTable"})
            .encode())
        self.write_env(DYNAMODB_ENDPOINT=replay.endpoint)
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["aws_error"], "AccessDeniedException")
        self.assertEqual(body["reason"],
                         "dynamodb: AccessDeniedException: User with key "
                         "[redacted] and token [redacted] is not authorized "
                         "to perform: dynamodb:DescribeTable")

    def test_non_json_error_answer_is_503_with_the_http_status(self):
        replay = ReplayServer()
        self.addCleanup(replay.stop)
        replay.answer = (502, "text/html", b"<html>Bad Gateway</html>")
        self.write_env(DYNAMODB_ENDPOINT=replay.endpoint)
        status, body, _ = self.get()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["reason"], "dynamodb: HTTP 502")

    def test_bad_settings_are_503_naming_the_setting(self):
        cases = {
            "DR_HEALTH_TIMEOUT_MS": "1s",
            "DYNAMODB_ENDPOINT": "ftp://127.0.0.1/",
            "AWS_REGION": "eu west 1",
        }
        verified = self.proxy.verified
        for name, value in cases.items():
            with self.subTest(name):
                self.write_env(**{name: value})
                status, body, _ = self.get()
                self.assertEqual(status, 503, body)
                self.assertTrue(body["reason"].startswith(f"config: {name} "),
                                body)
        self.assertEqual(self.proxy.verified, verified)  # nothing was sent


if __name__ == "__main__":
    unittest.main()
