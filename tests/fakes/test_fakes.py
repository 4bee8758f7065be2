#!/usr/bin/python3
"""Self-tests of the fakes and the integration harness, over real sockets.

Run from the repository root:
    /usr/bin/python3 -m unittest tests/fakes/test_fakes.py -v
"""

import http.client
import http.server
import json
import os
import pathlib
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import dynalite  # noqa: E402
from alertmanager import AlertmanagerCluster  # noqa: E402
import fake_linode  # noqa: E402
import harness  # noqa: E402
from dynalite import Dynalite, Replicator  # noqa: E402
from fake_linode import FakeLinode  # noqa: E402
from health_server import HealthSite, parse_mode  # noqa: E402

TOKEN = "s3cr3t-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _json(response):
    status, headers, body = response
    return status, headers, json.loads(body) if body else None


class FakeLinodeTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeLinode(token=TOKEN).start()
        self.addCleanup(self.fake.stop)
        self.domain = self.fake.add_domain("example.com")
        self.app = self.fake.add_record(self.domain, "A", "app", "192.0.2.10",
                                        ttl_sec=30)

    def api(self, method, path, body=None, headers=None, auth=True):
        all_headers = dict(AUTH if auth else {}, **(headers or {}))
        return _json(harness.http(method, self.fake.url + path, body,
                                  all_headers))

    def records_path(self, record_id=None):
        path = f"/domains/{self.domain}/records"
        return path if record_id is None else f"{path}/{record_id}"

    # -- reading

    def test_url_is_the_v4_base(self):
        self.assertEqual(self.fake.url,
                         f"http://127.0.0.1:{self.fake.port}/v4")

    def test_record_list_paginates_600_records_over_3_pages(self):
        for i in range(599):
            self.fake.add_record(self.domain, "A", f"h{i}", "192.0.2.1")
        ids, pages = [], []
        for page in (1, 2, 3):
            status, _, body = self.api(
                "GET", self.records_path() + f"?page={page}&page_size=250")
            self.assertEqual(status, 200)
            self.assertEqual((body["page"], body["pages"], body["results"]),
                             (page, 3, 600))
            pages.append(len(body["data"]))
            ids += [r["id"] for r in body["data"]]
        self.assertEqual(pages, [250, 250, 100])
        self.assertEqual(ids, sorted(set(ids)))
        self.assertEqual(len(ids), 600)

    def test_default_page_size_is_100(self):
        for i in range(149):
            self.fake.add_record(self.domain, "A", f"h{i}", "192.0.2.1")
        _, _, body = self.api("GET", self.records_path())
        self.assertEqual((len(body["data"]), body["page"], body["pages"],
                          body["results"]), (100, 1, 2, 150))

    def test_page_past_the_end_is_empty_with_that_page_number(self):
        _, _, body = self.api("GET", self.records_path() + "?page=7")
        self.assertEqual(body, {"data": [], "page": 7, "pages": 1,
                                "results": 1})

    def test_empty_result_answers_page_0_of_0(self):
        _, _, body = self.api("GET", self.records_path(),
                              headers={"X-Filter": '{"name": "nope"}'})
        self.assertEqual(body, {"data": [], "page": 0, "pages": 0,
                                "results": 0})

    def test_page_size_out_of_range_is_400(self):
        for query in ("page_size=24", "page_size=501", "page_size=x",
                      "page=0"):
            status, _, body = self.api("GET", self.records_path() + "?" +
                                       query)
            self.assertEqual(status, 400, query)
            self.assertIn("reason", body["errors"][0])

    def test_x_filter_selects_by_equality_and_and_or(self):
        self.fake.add_record(self.domain, "A", "www", "192.0.2.20")
        self.fake.add_record(self.domain, "TXT", "app", "hello")
        cases = [({"name": "app"}, 2),
                 ({"name": "app", "type": "A"}, 1),
                 ({"+and": [{"name": "app"}, {"type": "TXT"}]}, 1),
                 ({"+or": [{"name": "www"}, {"type": "TXT"}]}, 2),
                 ({"target": {"+contains": "192.0.2"}}, 2)]
        for spec, expected in cases:
            status, _, body = self.api(
                "GET", self.records_path(),
                headers={"X-Filter": json.dumps(spec)})
            self.assertEqual((status, body["results"]), (200, expected), spec)

    def test_x_filter_on_domains(self):
        self.fake.add_domain("example.org")
        x_filter = {"X-Filter": '{"domain": "example.org"}'}
        _, _, body = self.api("GET", "/domains", headers=x_filter)
        self.assertEqual([d["domain"] for d in body["data"]], ["example.org"])

    def test_malformed_x_filter_is_400(self):
        for header in ("{not json", '{"foo": "bar"}', '{"+and": {}}'):
            status, _, body = self.api("GET", self.records_path(),
                                       headers={"X-Filter": header})
            self.assertEqual(status, 400, header)
            self.assertEqual(body["errors"][0]["field"], "X-Filter")
        _, _, body = self.api("GET", self.records_path(),
                              headers={"X-Filter": '{"foo": "bar"}'})
        self.assertEqual(body["errors"][0]["reason"], "Cannot filter on foo")

    def test_missing_or_wrong_token_is_401(self):
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": TOKEN}):
            status, _, body = self.api("GET", "/domains", headers=headers,
                                       auth=False)
            self.assertEqual(status, 401)
            self.assertEqual(body, {"errors": [{"reason": "Invalid Token"}]})

    def test_unknown_ids_are_404(self):
        for path in ("/domains/999", "/domains/999/records",
                     self.records_path(999), self.records_path("abc"),
                     "/linode/instances"):
            status, _, body = self.api("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(body, {"errors": [{"reason": "Not found"}]})

    def test_get_record_is_the_record_object_with_every_field(self):
        status, _, body = self.api("GET", self.records_path(self.app))
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"id", "type", "name", "target",
                                     "priority", "weight", "port", "service",
                                     "protocol", "tag", "ttl_sec", "created",
                                     "updated"})
        self.assertEqual(
            (body["id"], body["name"], body["target"], body["ttl_sec"]),
            (self.app, "app", "192.0.2.10", 30))

    # -- writing

    def test_put_updates_target_and_rounds_ttl_up(self):
        for asked, stored in ((31, 120), (0, 0), (29, 30), (300, 300),
                              (301, 3600), (10**7, 2419200)):
            status, _, body = self.api(
                "PUT", self.records_path(self.app),
                {"target": "198.51.100.10", "ttl_sec": asked})
            self.assertEqual(status, 200)
            self.assertEqual((body["target"], body["ttl_sec"]),
                             ("198.51.100.10", stored), asked)
        self.assertEqual(self.fake.record("example.com", "app")["target"],
                         "198.51.100.10")
        self.assertEqual(self.fake.put_count(), 6)

    def test_put_bad_target_is_400_and_changes_nothing(self):
        for target in ("not-an-ip", "192.0.2", "2001:db8::1", 17):
            status, _, body = self.api("PUT", self.records_path(self.app),
                                       {"target": target, "ttl_sec": 300})
            self.assertEqual(status, 400, target)
            self.assertEqual(body["errors"][0]["field"], "target")
        record = self.fake.record("example.com", "app")
        self.assertEqual((record["target"], record["ttl_sec"]),
                         ("192.0.2.10", 30))
        self.assertEqual(self.fake.put_count(ok_only=True), 0)

    def test_put_malformed_json_is_400(self):
        for body in (b"{", b"[1, 2]"):
            status, _, answer = self.api("PUT", self.records_path(self.app),
                                         body)
            self.assertEqual(status, 400)
            self.assertTrue(answer["errors"][0]["reason"])

    def test_fqdn_name_is_stored_relative(self):
        _, _, body = self.api("PUT", self.records_path(self.app),
                              {"name": "api.example.com"})
        self.assertEqual(body["name"], "api")

    def test_post_creates_a_record(self):
        status, _, body = self.api("POST", self.records_path(),
                                   {"type": "A", "name": "new",
                                    "target": "192.0.2.99", "ttl_sec": 45})
        self.assertEqual(status, 200)
        self.assertEqual(body["ttl_sec"], 120)
        self.assertEqual(self.fake.record(self.domain, "new")["id"],
                         body["id"])

    def test_connection_is_kept_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port,
                                          timeout=5)
        self.addCleanup(conn.close)
        sockets = set()
        for _ in range(3):
            conn.request("GET", "/v4/domains", headers=AUTH)
            response = conn.getresponse()
            self.assertIsNotNone(response.getheader("Content-Length"))
            response.read()
            sockets.add(id(conn.sock))
        self.assertEqual(len(sockets), 1)

    def test_requests_are_logged_without_the_token(self):
        self.api("PUT", self.records_path(self.app), {"ttl_sec": 300})
        [entry] = self.fake.requests("PUT", r"/records/\d+$")
        self.assertEqual(entry["status"], 200)
        self.assertEqual(json.loads(entry["body"]), {"ttl_sec": 300})
        self.assertEqual(entry["headers"]["Authorization"], "<redacted>")
        self.assertNotIn(TOKEN, json.dumps(self.fake.requests()))

    # -- faults

    def test_fault_500_applies_count_times_then_stops(self):
        self.fake.fail("500", count=2)
        statuses = [self.api("GET", "/domains")[0] for _ in range(3)]
        self.assertEqual(statuses, [500, 500, 200])
        self.assertEqual(self.fake.faults(), [])

    def test_fault_5xx_has_an_errors_body(self):
        for mode in ("502", "503"):
            self.fake.fail(mode)
            status, _, body = self.api("GET", "/domains")
            self.assertEqual(status, int(mode))
            self.assertTrue(body["errors"][0]["reason"])

    def test_fault_429_sends_retry_after(self):
        self.fake.fail("429", retry_after=7)
        status, headers, body = self.api("GET", "/domains")
        self.assertEqual(status, 429)
        self.assertEqual(headers.get("Retry-After"), "7")
        self.assertEqual(body, {"errors": [{"reason": "Too Many Requests"}]})

    def test_fault_400_uses_the_reason_given(self):
        self.fake.fail("400", reason="Domain is locked", method="PUT")
        self.assertEqual(self.api("GET", "/domains")[0], 200)
        status, _, body = self.api("PUT", self.records_path(self.app), {})
        self.assertEqual((status, body["errors"][0]["reason"]),
                         (400, "Domain is locked"))

    def test_fault_slow_delays_then_answers_normally(self):
        self.fake.fail("slow", delay=0.4)
        started = time.monotonic()
        status, _, _ = self.api("GET", "/domains")
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.assertEqual(status, 200)

    def test_fault_drop_closes_the_connection_without_an_answer(self):
        self.fake.fail("drop")
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port,
                                          timeout=5)
        self.addCleanup(conn.close)
        conn.request("GET", "/v4/domains", headers=AUTH)
        with self.assertRaises(http.client.RemoteDisconnected):
            conn.getresponse()
        self.assertEqual(self.fake.requests()[-1]["fault"], "drop")
        self.assertIsNone(self.fake.requests()[-1]["status"])
        self.assertEqual(self.api("GET", "/domains")[0], 200)

    def test_fault_matches_path_and_method(self):
        self.fake.fail("503", count=-1, path_regex=r"/records/\d+$",
                       method="PUT")
        self.assertEqual(self.api("GET", self.records_path(self.app))[0], 200)
        for _ in range(3):
            self.assertEqual(self.api("PUT", self.records_path(self.app),
                                      {})[0], 503)
        self.fake.clear_faults()
        self.assertEqual(self.api("PUT", self.records_path(self.app), {})[0],
                         200)

    def test_unknown_fault_mode_is_refused(self):
        with self.assertRaises(ValueError):
            self.fake.fail("explode")

    def test_restart_serves_the_same_port_and_state(self):
        port = self.fake.port
        self.fake.stop()
        with self.assertRaises(ConnectionRefusedError):
            harness.http("GET", self.fake.base_url + "/v4/domains")
        self.fake.start()
        self.assertEqual(self.fake.port, port)
        self.assertEqual(self.api("GET", self.records_path(self.app))[0], 200)

    def test_stop_cuts_keep_alive_connections(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.fake.port,
                                          timeout=5)
        self.addCleanup(conn.close)
        conn.request("GET", "/v4/domains", headers=AUTH)
        conn.getresponse().read()
        self.fake.stop()
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            conn.request("GET", "/v4/domains", headers=AUTH)
            conn.getresponse()


class FakeLinodeProcessTest(unittest.TestCase):

    def test_cli_serves_a_seed_and_the_control_api(self):
        tmp = pathlib.Path(tempfile.mkdtemp())
        seed = tmp / "seed.yml"
        seed.write_text("domains:\n  - domain: example.com\n    records:\n"
                        "      - {type: A, name: app, target: 192.0.2.10,"
                        " ttl_sec: 31}\n")
        proc = harness.start_process(
            [sys.executable, HERE / "fake_linode.py", "--listen",
             "127.0.0.1:0", "--token", TOKEN, "--seed", seed,
             "--port-file", tmp / "port"],
            ready_line=r"listening on (http://\S+/v4)\n")
        self.addCleanup(proc.stop)
        url = proc.ready_match.group(1)
        base = url[:-len("/v4")]
        self.assertEqual((tmp / "port").read_text().strip(),
                         base.rsplit(":", 1)[1])

        status, _, body = _json(harness.http("GET", url + "/domains",
                                             headers=AUTH))
        self.assertEqual(body["data"][0]["domain"], "example.com")
        status, _, _ = harness.http("POST", base + "/__fake/faults",
                                    {"mode": "503", "count": 1})
        self.assertEqual(status, 200)
        self.assertEqual(harness.http("GET", url + "/domains",
                                      headers=AUTH)[0], 503)
        _, _, log = _json(harness.http("GET", base + "/__fake/requests"))
        self.assertEqual([e["status"] for e in log], [200, 503])
        _, _, records = _json(harness.http("GET", base + "/__fake/records"))
        self.assertEqual(records["example.com"][0]["ttl_sec"], 120)
        status, _, created = _json(harness.http(
            "POST", base + "/__fake/seed", {"domains": [
                {"domain": "example.org", "records": [
                    {"type": "A", "name": "", "target": "192.0.2.1"}]}]}))
        self.assertEqual(created["domains"][0]["domain"], "example.org")
        self.assertEqual(harness.http("DELETE", base + "/__fake/faults")[0],
                         200)
        self.assertEqual(proc.stop(), 0)


class HealthSiteTest(unittest.TestCase):

    def setUp(self):
        self.site = HealthSite("127.0.0.11").start()
        self.addCleanup(self.site.stop)

    def get(self, timeout=5):
        status, _, body = harness.http("GET", self.site.url, timeout=timeout)
        return status, body

    def test_modes_answer_as_named(self):
        cases = [("ok", 200, b"OK"), ("fail", 503, b"FAIL"),
                 ("status:500", 500, b"STATUS 500"), ("ok", 200, b"OK")]
        for mode, status, body in cases:
            self.site.set_mode(mode)
            self.assertEqual(self.get(), (status, body), mode)
        self.assertEqual(self.site.requests, 4)

    def test_slow_answers_after_the_delay(self):
        self.site.set_mode("slow:0.3")
        started = time.monotonic()
        self.assertEqual(self.get()[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_hang_answers_nothing_until_the_mode_changes(self):
        self.site.set_mode("hang")
        with self.assertRaises(socket.timeout):
            self.get(timeout=0.3)
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=self.get()))
        thread.start()
        time.sleep(0.2)
        self.assertEqual(result, {})
        self.site.set_mode("ok")
        thread.join(5)
        self.assertEqual(result["r"], (200, b"OK"))

    def test_closed_refuses_connections_then_reopens_on_the_same_port(self):
        port = self.site.port
        self.site.set_mode("closed")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.11", port), timeout=2)
        self.site.set_mode("ok")
        self.assertEqual(self.site.port, port)
        self.assertEqual(self.get(), (200, b"OK"))

    def test_two_sites_on_distinct_addresses(self):
        other = HealthSite("127.0.0.12", name="b").start()
        self.addCleanup(other.stop)
        other.set_mode("fail")
        self.assertEqual(self.get()[0], 200)
        self.assertEqual(harness.http("GET", other.url)[0], 503)

    def test_bad_modes_are_refused(self):
        for mode in ("down", "status:abc", "status:42", "slow:-1", "slow:x",
                     "ok:1"):
            with self.assertRaises(ValueError, msg=mode):
                parse_mode(mode)
            with self.assertRaises(ValueError, msg=mode):
                self.site.set_mode(mode)

    def test_cli_switches_modes_through_the_control_api(self):
        proc = harness.start_process(
            [sys.executable, HERE / "health_server.py",
             "--site", "a=127.0.0.11:0", "--site", "b=127.0.0.12:0",
             "--control", "127.0.0.1:0"],
            ready_line=r"control (http://\S+)\n")
        self.addCleanup(proc.stop)
        log = proc.log_text()
        urls = dict(line.split()[1:] for line in log.splitlines()
                    if line.startswith("site "))
        control = proc.ready_match.group(1)
        self.assertEqual(harness.http("POST", control + "/mode/a", "fail")[0],
                         200)
        self.assertEqual(harness.http("GET", urls["a"])[0], 503)
        self.assertEqual(harness.http("GET", urls["b"])[0], 200)
        self.assertEqual(harness.http("POST", control + "/mode/a", "bogus")[0],
                         400)
        self.assertEqual(harness.http("POST", control + "/mode/zz", "ok")[0],
                         404)
        _, _, modes = _json(harness.http("GET", control + "/modes"))
        self.assertEqual(modes["a"]["mode"], "fail")
        self.assertEqual(modes["b"]["requests"], 1)
        self.assertEqual(proc.stop(), 0)


class DynaliteTest(unittest.TestCase):
    TABLE = "dr_heartbeat"

    @classmethod
    def setUpClass(cls):
        cls.east = Dynalite(region="us-east-1").start()
        cls.west = Dynalite(region="eu-west-1").start()
        for region in (cls.east, cls.west):
            region.create_table(cls.TABLE)
        cls.east_client, cls.west_client = cls.east.client(), cls.west.client()

    @classmethod
    def tearDownClass(cls):
        cls.east_client.close()
        cls.west_client.close()
        cls.east.stop()
        cls.west.stop()

    def replicate(self, src, dst, delay):
        replicator = Replicator(src, dst, self.TABLE, delay).start()
        self.addCleanup(replicator.stop)
        return replicator

    def get(self, client, pk):
        item = client.get_item(TableName=self.TABLE, Key={"pk": {"S": pk}},
                               ConsistentRead=True).get("Item")
        return None if item is None else item["v"]["S"]

    def put(self, client, pk, value):
        client.put_item(TableName=self.TABLE,
                        Item={"pk": {"S": pk}, "v": {"S": value}})

    def test_table_is_active_and_put_get_works(self):
        table = self.east_client.describe_table(TableName=self.TABLE)["Table"]
        self.assertEqual(table["TableStatus"], "ACTIVE")
        self.put(self.east_client, "direct", "1")
        self.assertEqual(self.get(self.east_client, "direct"), "1")
        self.assertIsNone(self.get(self.west_client, "direct"))

    def test_replicator_applies_a_change_after_the_delay(self):
        self.replicate(self.east, self.west, 1.0)
        time.sleep(0.3)  # let the first scan take its snapshot
        self.put(self.east_client, "delayed", "x")
        written = time.monotonic()
        arrived = harness.wait_until(
            lambda: self.get(self.west_client, "delayed") and
            time.monotonic(), timeout=3, interval=0.02,
            message="item never replicated")
        self.assertGreaterEqual(arrived - written, 1.0)
        self.assertLess(arrived - written, 1.6)

    def test_pause_holds_changes_until_resume(self):
        replicator = self.replicate(self.east, self.west, 0.1)
        replicator.pause()
        self.put(self.east_client, "paused", "y")
        time.sleep(0.5)
        self.assertIsNone(self.get(self.west_client, "paused"))
        replicator.resume()
        harness.wait_until(lambda: self.get(self.west_client, "paused"),
                           timeout=2, message="not replicated after resume")

    def test_pair_of_replicators_does_not_echo_old_values(self):
        there = self.replicate(self.east, self.west, 0.2)
        back = self.replicate(self.west, self.east, 0.2)
        for value in ("1", "2", "3"):
            self.put(self.east_client, "echo", value)
            time.sleep(0.15)
        harness.wait_until(lambda: self.get(self.west_client, "echo") == "3",
                           timeout=3, message="last value never arrived")
        time.sleep(0.5)
        self.assertEqual(self.get(self.east_client, "echo"), "3")
        self.assertEqual(back.applied, 0)
        self.assertGreaterEqual(there.applied, 1)

    def test_cli_runs_regions_with_replication(self):
        proc = harness.start_process(
            [sys.executable, HERE / "dynalite.py", "--region", "r1",
             "--region", "r2", "--table", "t_other", "--replicate", "t_hb",
             "--delay", "0.2", "--control", "127.0.0.1:0"],
            ready_line=r"control (http://\S+)\n", timeout=20)
        self.addCleanup(proc.stop)
        regions = dict(line.split()[1:]
                       for line in proc.log_text().splitlines()
                       if line.startswith("region "))
        self.assertEqual(set(regions), {"r1", "r2"})
        c1 = dynalite.client(regions["r1"], "r1")
        c2 = dynalite.client(regions["r2"], "r2")
        self.addCleanup(c1.close)
        self.addCleanup(c2.close)
        self.assertEqual(sorted(c2.list_tables()["TableNames"]),
                         ["t_hb", "t_other"])
        c1.put_item(TableName="t_hb", Item={"pk": {"S": "r1"}})
        harness.wait_until(
            lambda: "Item" in c2.get_item(TableName="t_hb",
                                          Key={"pk": {"S": "r1"}}),
            timeout=3, message="CLI replication")
        control = proc.ready_match.group(1)
        self.assertEqual(harness.http("POST", control + "/pause")[0], 200)
        _, _, status = _json(harness.http("GET", control + "/status"))
        self.assertTrue(all(r["paused"] for r in status))
        proc.signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        r1_port = int(regions["r1"].rsplit(":", 1)[1])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", r1_port), timeout=1)


class AlertmanagerClusterTest(unittest.TestCase):
    """Two real Alertmanagers on loopback: they cluster, silences gossip,
    alerts do not, and the DR route calls the webhook with the token."""

    DR = {"alertname": "DRSiteDown", "dr_action": "traffic_failover",
          "site": "a"}

    @classmethod
    def setUpClass(cls):
        cls.hooks = []
        hooks = cls.hooks

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.append((self.headers.get("Authorization"),
                              json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                       Receiver)
        threading.Thread(target=cls.receiver.serve_forever,
                         daemon=True).start()
        url = f"http://127.0.0.1:{cls.receiver.server_port}/api/v1/alertmanager"
        cls.am = AlertmanagerCluster(members=2, webhook_url=url,
                                     bearer_token=TOKEN).start(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.am.stop()
        cls.receiver.shutdown()
        cls.receiver.server_close()

    def test_members_see_each_other(self):
        for member in (0, 1):
            self.assertEqual(self.am.peers(member), 2)
            self.assertEqual(self.am.status(member)["cluster"]["status"],
                             "ready")

    def test_alert_posted_to_every_member_is_listed_by_each(self):
        labels = dict(self.DR, site="listed")
        self.am.post_alert(labels, {"summary": "listed is down"})
        for member in (0, 1):
            alerts = harness.wait_until(
                lambda: [a for a in self.am.list(member)
                         if a["labels"]["site"] == "listed"],
                timeout=5, message=f"alert on member {member}")
            self.assertEqual(alerts[0]["status"]["state"], "active")
            self.assertEqual(alerts[0]["annotations"]["summary"],
                             "listed is down")
        # Not DR: not in the pull query's answer.
        self.am.post_alert({"alertname": "Other", "site": "listed"})
        self.assertFalse([a for a in self.am.list(0)
                          if a["labels"]["alertname"] == "Other"])
        self.am.resolve_alert(labels)
        harness.wait_until(
            lambda: not [a for a in self.am.list(1)
                         if a["labels"]["site"] == "listed"],
            timeout=5, message="resolved alert gone from the list")

    def test_silence_on_one_member_gossips_to_the_other(self):
        labels = dict(self.DR, site="silenced")
        self.am.post_alert(labels)
        harness.wait_until(lambda: any(
            a["labels"]["site"] == "silenced" for a in self.am.list(1)),
            timeout=5, message="alert listed")
        sid = self.am.silence({"site": "silenced"}, duration=120, member=0)
        harness.wait_until(
            lambda: any(s["id"] == sid and s["status"]["state"] == "active"
                        for s in self.am.silences(1)),
            timeout=10, message="silence gossiped to member 1")
        harness.wait_until(
            lambda: not [a for a in self.am.list(1)
                         if a["labels"]["site"] == "silenced"],
            timeout=10, message="silenced alert out of member 1's list")
        self.am.expire_silence(sid, member=1)
        harness.wait_until(lambda: any(
            a["labels"]["site"] == "silenced" for a in self.am.list(0)),
            timeout=10, message="listed again once the silence expired")
        self.am.resolve_alert(labels)

    def test_dr_route_calls_the_webhook_with_the_token(self):
        labels = dict(self.DR, site="hooked")
        self.am.post_alert(labels)
        auth, body = harness.wait_until(
            lambda: next((h for h in self.hooks
                          if h[1]["commonLabels"].get("site") == "hooked"),
                         None),
            timeout=10, message="webhook notification")
        self.assertEqual(auth, f"Bearer {TOKEN}")
        self.assertEqual(body["version"], "4")
        self.assertEqual(body["status"], "firing")
        self.am.resolve_alert(labels)

    def test_killed_member_restarts_and_rejoins(self):
        self.am.kill(1)
        self.assertFalse(self.am.running(1))
        self.am.post_alert(dict(self.DR, site="survivor"))
        self.assertTrue(any(a["labels"]["site"] == "survivor"
                            for a in self.am.list(0)))
        with self.assertRaises(OSError):
            self.am.list(1)
        self.am.start_member(1, timeout=60)
        self.assertEqual(self.am.peers(1), 2)
        self.am.resolve_alert(dict(self.DR, site="survivor"))


class HarnessTest(unittest.TestCase):
    EXPOSITION = (
        "# HELP dr_site_up 1 if the last probe passed\n"
        "# TYPE dr_site_up gauge\n"
        'dr_site_up{site="a"} 1\n'
        'dr_site_up{site="b"} 0\n'
        "# TYPE dr_site_probes_total counter\n"
        'dr_site_probes_total{site="a",result="success"} 5\n'
        'dr_site_probes_total{site="a",result="failure"} 2\n'
        "# TYPE dr_actuator_action_duration_seconds histogram\n"
        'dr_actuator_action_duration_seconds_bucket{action="dns_update",'
        'le="+Inf"} 3\n'
        'dr_actuator_action_duration_seconds_count{action="dns_update"} 3\n'
        'dr_actuator_action_duration_seconds_sum{action="dns_update"} 0.5\n')

    def test_metrics_are_queried_by_sample_name_and_labels(self):
        m = harness.Metrics(self.EXPOSITION)
        self.assertEqual(m.value("dr_site_up", site="a"), 1)
        self.assertEqual(m.value("dr_site_up", site="b"), 0)
        self.assertIsNone(m.value("dr_site_up", site="c"))
        self.assertEqual(m.value("dr_site_probes_total", site="a",
                                 result="failure"), 2)
        self.assertEqual(m.sum("dr_site_probes_total", site="a"), 7)
        self.assertEqual(len(m.samples("dr_site_up")), 2)
        self.assertEqual(m.value("dr_actuator_action_duration_seconds_count",
                                 action="dns_update"), 3)
        with self.assertRaises(AssertionError):
            m.value("dr_site_up")

    def test_wait_until_returns_the_truthy_value(self):
        answers = iter([0, None, ValueError("not yet"), 42])

        def pred():
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer
        self.assertEqual(harness.wait_until(pred, timeout=2, interval=0), 42)

    def test_wait_until_reports_the_last_value(self):
        with self.assertRaisesRegex(AssertionError,
                                    "never up.*last value: ValueError"):
            harness.wait_until(lambda: int("x"), timeout=0.1,
                               message="never up")

    def test_start_process_reports_an_early_exit(self):
        with self.assertRaisesRegex(AssertionError, "exited with 3"):
            harness.start_process(
                [sys.executable, "-c", "import sys; print('boom'); "
                 "sys.exit(3)"], ready_line="never")

    def test_write_config_dumps_yaml(self):
        directory = tempfile.mkdtemp()
        path = harness.write_config(directory, {"probe": {"interval": "2s"}})
        self.assertEqual(path.read_text(), "probe:\n  interval: 2s\n")

    def test_build_dir_is_repo_build_unless_overridden(self):
        with mock.patch.dict(os.environ, {"DRF_BUILD_DIR": ""}):
            self.assertEqual(harness.build_dir(),
                             harness.repo_root() / "build")
        with mock.patch.dict(os.environ, {"DRF_BUILD_DIR": "out/b"}):
            self.assertEqual(harness.build_dir(), pathlib.Path("out/b"))
        self.assertTrue((harness.repo_root() / "tests" / "fakes").is_dir())

    def test_round_ttl_follows_the_openapi_list(self):
        self.assertEqual([fake_linode.round_ttl(v) for v in
                          (0, 1, 30, 31, 121, 86401, 3000000)],
                         [0, 30, 30, 120, 300, 172800, 2419200])


if __name__ == "__main__":
    unittest.main()
