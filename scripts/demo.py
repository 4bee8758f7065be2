#!/usr/bin/python3
"""The local demo: a failover and a failback, end to end, on loopback.

Starts the whole system of the end-to-end tests (tests/e2e/system.py):
two PHP sites (nginx + php-fpm) on 127.0.0.11 and 127.0.0.12 whose hosts
are reached over sshd, two DynamoDB regions (dynalite) with replication,
the fake Linode API holding app.example.com and www.example.com,
dr-exporter and dr-actuator on an embedded default configuration, and real
Prometheus (the rules in alerts/) and Alertmanager (the route in alerts/).
Then it stops the primary's PHP, prints the timeline of the failover, brings
the primary back, prints the failback, and leaves everything running for
you to explore until Ctrl-C.
"""

import json
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" /
                       "e2e"))

from system import System, Timeline  # noqa: E402

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def port_or_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def main():
    ports = {"prometheus": port_or_free(9090),
             "alertmanager": port_or_free(9093),
             "exporter": port_or_free(9731),
             "actuator": port_or_free(9732)}
    say("starting: 2 PHP sites + sshd hosts, 2 DynamoDB regions, the Linode "
        "API fake, dr-exporter, dr-actuator, Prometheus, Alertmanager")
    system = System(ports=ports, failback="auto", failback_after="15s",
                    cooldown="20s")
    try:
        system.start()
        w = system.world
        say(f"Prometheus    http://127.0.0.1:{ports['prometheus']}")
        say(f"Alertmanager  http://127.0.0.1:{ports['alertmanager']}")
        say(f"dr-exporter   http://127.0.0.1:{ports['exporter']}/metrics")
        say(f"dr-actuator   http://127.0.0.1:{ports['actuator']}/metrics "
            f"(API token in {w.tmp / 'api-token'})")
        say(f"config        {w.config_path}")
        say(f"records: {w.record_targets()}; serving "
            f"{w.status()['serving_site']}")

        say("FAULT: php-fpm on us-east is killed (nginx answers 502)")
        t = Timeline(system, "us-east", "eu-central", "127.0.0.12", say)
        w.sites["us-east"].stop_php()
        t.wait()
        say("eu-central's .env now: " + ", ".join(
            line for line in w.env_file("eu-central").splitlines()
            if line.startswith(("AWS_REGION", "DR_SITE"))))

        say("RECOVERY: php-fpm on us-east starts again; failback is auto "
            "after 15s healthy (and the 20s cooldown)")
        w.sites["us-east"].start_php()
        t = Timeline(system, "eu-central", "us-east", "127.0.0.11", say)
        t.wait(180)
        st = w.status()
        say(f"status: serving {st['serving_site']}, converged "
            f"{st['converged']}, last decision "
            f"{json.dumps(st.get('last_decision', {}).get('why'))}")
        say("everything keeps running; try the UIs above, or "
            f"curl -H \"Authorization: Bearer $(cat {w.tmp / 'api-token'})\" "
            f"{w.url}/api/v1/status ; Ctrl-C stops it all")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping")
        system.stop()


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    main()
