#!/usr/bin/python3
"""The local demo: dr-exporter watching a simulated two-region deployment.

Starts, all on loopback:
  - two PHP "sites" (health endpoints) on 127.0.0.11 and 127.0.0.12,
  - two DynamoDB "regions" (dynalite) with a replicator copying the
    heartbeat table between them after a delay (AWS's global-table
    replication cannot run here),
  - the fake Linode API holding the DNS record app.example.com,
  - dr-exporter on an embedded default configuration,
  - a real Prometheus scraping it (UI on http://127.0.0.1:9090).
Then injects faults one after another and prints what the exporter reports,
and leaves everything running until Ctrl-C.
"""

import os
import signal
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakes"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from dynalite import Dynalite, Replicator  # noqa: E402
from fake_linode import FakeLinode  # noqa: E402
from harness import (build_dir, free_port, http, scrape,  # noqa: E402
                     start_process, wait_until, write_config)
from health_server import HealthSite  # noqa: E402

TOKEN = "demo-linode-token"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDDEMO", "AWS_SECRET_ACCESS_KEY": "demo"}
T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def port_or_free(port):
    """The conventional port if it is free, else any free one."""
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            return free_port()


def default_config(sites, regions, linode_url):
    """The embedded default configuration (SPEC.md §4)."""
    return {
        "sites": [
            {"name": "us-east", "address": "127.0.0.11",
             "health_url": sites[0].url, "aws_region": "us-east-1",
             "dynamodb_endpoint": regions[0].endpoint},
            {"name": "eu-central", "address": "127.0.0.12",
             "health_url": sites[1].url, "aws_region": "eu-west-1",
             "dynamodb_endpoint": regions[1].endpoint},
        ],
        "probe": {"interval": "1s", "timeout": "800ms",
                  "expect_status": [200]},
        "dns": {"api_url": linode_url, "domain": "example.com",
                "records": ["app"], "ttl": 30},
        "dynamodb": {"tables": ["user_profiles"],
                     "heartbeat": {"table": "dr_heartbeat",
                                   "interval": "1s"}},
    }


def status_line(url):
    m = scrape(url)

    def v(name, **labels):
        x = m.value(name, **labels)
        return "-" if x is None else f"{x:g}"

    serving = [labels["site"] for labels, value in
               m.samples("dr_dns_serving_site", record="app") if value == 1]
    lag = m.value("dr_dynamodb_replication_lag_seconds", table="dr_heartbeat",
                  source_site="us-east", target_site="eu-central")
    return (f"up us-east={v('dr_site_up', site='us-east')} "
            f"eu-central={v('dr_site_up', site='eu-central')} | "
            f"http us-east={v('dr_site_probe_http_status_code', site='us-east')}"
            f" | dns app -> {','.join(serving) or '?'} | "
            f"dynamodb up us-east={v('dr_dynamodb_up', site='us-east', region='us-east-1')}"
            f" eu-central={v('dr_dynamodb_up', site='eu-central', region='eu-west-1')}"
            f" | lag us-east->eu-central="
            f"{'-' if lag is None else f'{lag:.1f}s'}")


def watch(url, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        say(status_line(url))
        time.sleep(2)


def main():
    stack = []
    try:
        say("starting two sites, two DynamoDB regions, the Linode API fake")
        sites = [HealthSite("127.0.0.11", name="us-east").start(),
                 HealthSite("127.0.0.12", name="eu-central").start()]
        stack += sites
        regions = [Dynalite(region="us-east-1").start(),
                   Dynalite(region="eu-west-1").start()]
        stack += regions
        for r in regions:
            r.create_table("user_profiles")
            r.create_table("dr_heartbeat")
        replicators = [
            Replicator(regions[0], regions[1], "dr_heartbeat", 1.0).start(),
            Replicator(regions[1], regions[0], "dr_heartbeat", 1.0).start()]
        stack += replicators
        linode = FakeLinode(token=TOKEN).start()
        stack.append(linode)
        domain = linode.add_domain("example.com")
        linode.add_record(domain, "A", "app", "127.0.0.11", ttl_sec=30)

        tmp = tempfile.mkdtemp(prefix="dr-demo-")
        config = write_config(tmp, default_config(sites, regions, linode.url))
        exporter_port = port_or_free(9731)
        exporter_url = f"http://127.0.0.1:{exporter_port}"
        exporter = start_process(
            [str(build_dir() / "exporter" / "dr-exporter"),
             "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{exporter_port}"],
            env={"LINODE_TOKEN": TOKEN, **AWS_ENV},
            ready_url=f"{exporter_url}/-/ready", timeout=20)
        stack.append(exporter)
        say(f"dr-exporter serving {exporter_url}/metrics "
            f"(config {config}, log {exporter.log_path})")

        prom_port = port_or_free(9090)
        prom_cfg = write_config(tmp, {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "dr-exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"],
                                    "labels": {"vantage": "demo"}}]}],
        }, name="prometheus.yml")
        prometheus = start_process(
            ["prometheus", f"--config.file={prom_cfg}",
             f"--storage.tsdb.path={tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            ready_url=f"http://127.0.0.1:{prom_port}/-/ready", timeout=30)
        stack.append(prometheus)
        say(f"Prometheus UI on http://127.0.0.1:{prom_port}")

        metrics = f"{exporter_url}/metrics"
        wait_until(lambda: scrape(metrics).value(
            "dr_dynamodb_replication_lag_seconds", table="dr_heartbeat",
            source_site="us-east", target_site="eu-central") is not None,
            30, message="first replicated heartbeat")
        watch(metrics, 4)

        say("FAULT: us-east's PHP answers 503")
        sites[0].set_mode("fail")
        watch(metrics, 6)
        say("FAULT: us-east stops accepting connections")
        sites[0].set_mode("closed")
        watch(metrics, 4)
        say("RECOVERY: us-east healthy again")
        sites[0].set_mode("ok")
        watch(metrics, 4)

        say("FAULT: replication us-east -> eu-central stalls")
        replicators[0].pause()
        watch(metrics, 6)
        say("RECOVERY: replication resumes")
        replicators[0].resume()
        watch(metrics, 4)

        say("FAULT: the DNS record is moved to eu-central by hand at Linode")
        record = linode.record("example.com", "app")
        status, _, _ = http(
            "PUT", f"{linode.url}/domains/{domain}/records/{record['id']}",
            body={"target": "127.0.0.12"},
            headers={"Authorization": f"Bearer {TOKEN}"})
        watch(metrics, 4)

        q = urllib.parse.quote("avg by (site) (dr_site_up)")
        say(f"try in Prometheus: http://127.0.0.1:{prom_port}/graph?g0.expr={q}")
        say("everything keeps running; press Ctrl-C to stop")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping")
        for item in reversed(stack):
            try:
                item.stop()
            except Exception as e:  # noqa: BLE001 - best effort shutdown
                print(f"  stop {item!r}: {e}", file=sys.stderr)


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    main()
