#!/usr/bin/python3
"""Benchmark: dr-exporter vs prometheus-blackbox-exporter on the same sites.

Run through bench/exporter_vs_blackbox.sh (which finds the binaries, makes a
temporary directory and cleans up). This is a benchmark, not a test: it prints
figures and compares them with the targets without asserting them. It exits
non-zero only when something is broken: a daemon does not start or dies, a
probe fails, a /probe or /metrics request errors.

For each scenario (N sites) it starts, side by side:
  * one nginx answering `GET /health.php` with 200 "OK\n" on 127.0.1.1..N
    (one port, N listen addresses: each site is a separate address);
  * dr-exporter probing those N health URLs every 1 s (timeout 800 ms), with a
    fake Linode API (tests/fakes/fake_linode.py) for its DNS collector;
  * blackbox_exporter with an http_2xx module (timeout 800 ms), driven the way
    Prometheus drives it: every 1 s one `GET /probe?module=http_2xx&target=URL`
    per site, all N at once, over keep-alive connections.
Over one common window it reads each exporter's CPU time (utime+stime of
/proc/PID/stat), its probe count and its peak RSS (VmHWM). dr-exporter is
also scraped once a second during the window, as Prometheus would. After
the window, with blackbox idle and dr-exporter still probing, wrk hammers
dr-exporter's /metrics to measure scrape latency.

Standard library only.
"""

import argparse
import asyncio
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")
KIB_PER_MIB = 1024.0


class Broken(Exception):
    """Something the benchmark depends on is not working: exit non-zero."""


# --------------------------------------------------------------------------
# Processes


class Daemon:
    """A child process in its own process group, logging to a file."""

    def __init__(self, name, argv, workdir, pidfile, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env, cwd=cwd or workdir,
            start_new_session=True)
        self.pid = self.proc.pid
        # The shell wrapper's trap kills these process groups if we cannot.
        with open(pidfile, "a") as f:
            f.write(f"{self.pid}\n")

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])

    def check(self):
        rc = self.proc.poll()
        if rc is not None:
            raise Broken(f"{self.name} (pid {self.pid}) exited with status "
                         f"{rc}; last lines of {self.log_path}:\n"
                         f"{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (nginx workers, if the master died).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid):
    """utime+stime of pid and its direct children (nginx master+workers)."""
    total = cpu_seconds(pid)
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except OSError:
        kids = []
    for k in kids:
        try:
            total += cpu_seconds(int(k))
        except OSError:
            pass
    return total


def sched_cpu_seconds(pid):
    """On-CPU time summed over the live threads (/proc/PID/task/*/schedstat,
    nanoseconds). Finer than /proc/PID/stat, but threads that exited are
    missing: context only, for windows too short for clock ticks."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise Broken(f"no {key} in /proc/{pid}/status")


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_port_all_addresses():
    """A port free on every local address (bound on 0.0.0.0 a moment ago)."""
    return free_port("0.0.0.0")


def wait_until(pred, timeout, what, daemons=()):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for d in daemons:
            d.check()
        try:
            if pred():
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.05)
    for d in daemons:
        d.check()
    raise Broken(f"timed out after {timeout} s waiting for {what}"
                 + (f" (last error: {last!r})" if last else ""))


def http_get(host, port, path, timeout=5.0):
    """A one-shot GET; returns (status, body bytes)."""
    import http.client
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# --------------------------------------------------------------------------
# Prometheus text format (only what we need)

_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] for every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def probe_totals(samples):
    """{'success': x, 'failure': y} summed over sites."""
    tot = {"success": 0.0, "failure": 0.0}
    for name, labels, value in samples:
        if name == "dr_site_probes_total":
            tot[labels.get("result", "?")] = tot.get(labels.get("result"), 0.0) + value
    return tot


# --------------------------------------------------------------------------
# The Linode API: the project's fake (tests/fakes/fake_linode.py)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent /
                       "tests" / "fakes"))
from fake_linode import FakeLinode  # noqa: E402

LINODE_TOKEN = "bench"


def start_linode(record_target):
    linode = FakeLinode(token=LINODE_TOKEN).start()
    domain = linode.add_domain("example.com")
    linode.add_record(domain, "A", "app", record_target, ttl_sec=30)
    return linode


# --------------------------------------------------------------------------
# Minimal asyncio HTTP/1.1 keep-alive client


class KeepAlive:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port)
        try:
            self.writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"User-Agent: drf-bench\r\n\r\n".encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if "content-length" in headers:
                body = await self.reader.readexactly(
                    int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n"))
                               .split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                body = b"".join(parts)
            else:
                body = await self.reader.read()
                self.close()
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, body
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def percentile(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(q / 100.0 * len(v)) - 1))
    return v[k]


# --------------------------------------------------------------------------
# One scenario


def write_nginx(workdir, n, port):
    root = os.path.join(workdir, "nginx")
    for sub in ("", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    listens = "\n".join(f"    listen 127.0.1.{i}:{port};"
                        for i in range(1, n + 1))
    conf = f"""daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  server {{
{listens}
    location /health.php {{
      default_type text/plain;
      return 200 "OK\\n";
    }}
  }}
}}
"""
    path = os.path.join(root, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return root, path


def write_exporter_config(workdir, n, port, api_url):
    lines = ["sites:"]
    for i in range(1, n + 1):
        lines += [f"  - name: s{i}",
                  f"    address: 127.0.1.{i}",
                  f"    health_url: http://127.0.1.{i}:{port}/health.php"]
    lines += ["probe:",
              "  interval: 1s",
              "  timeout: 800ms",
              "dns:",
              "  provider: linode",
              f"  api_url: {api_url}",
              "  domain: example.com",
              "  records: [app]",
              "  ttl: 30",
              ""]
    path = os.path.join(workdir, f"dr-exporter-{n}.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def write_blackbox_config(workdir):
    path = os.path.join(workdir, "blackbox.yml")
    with open(path, "w") as f:
        f.write("modules:\n"
                "  http_2xx:\n"
                "    prober: http\n"
                "    timeout: 800ms\n"
                "    http:\n"
                "      preferred_ip_protocol: ip4\n"
                "      valid_status_codes: [200]\n")
    return path


async def drive(n, hc_port, bb_port, dr_port, interval, warmup, duration,
                daemons, dr, bb, nginx):
    """Drives blackbox (and scrapes dr-exporter once per interval, as
    Prometheus would) for warmup+duration seconds; snapshots both exporters
    at the edges of the measurement window. dr may be None."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2
    w0 = t0 + warmup - interval / 2   # window edges fall between ticks
    w1 = w0 + duration
    results = []          # (t_done, latency_s, ok, detail)
    scrapes = []          # (t_done, latency_s, status)
    snaps = {}

    async def site(i):
        path = ("/probe?module=http_2xx&target=" +
                urllib.parse.quote(f"http://127.0.1.{i}:{hc_port}/health.php",
                                   safe=""))
        c = KeepAlive("127.0.0.1", bb_port)
        k = 0
        try:
            while True:
                tick = t0 + k * interval
                if tick >= w1:
                    return
                await asyncio.sleep(max(0.0, tick - loop.time()))
                start = loop.time()
                try:
                    status, body = await asyncio.wait_for(c.get(path), 10)
                    ok = status == 200 and re.search(
                        rb"(?m)^probe_success 1$", body) is not None
                    detail = "" if ok else f"status {status}: " + \
                        body.decode("utf-8", "replace")[-300:]
                except (OSError, asyncio.TimeoutError,
                        asyncio.IncompleteReadError, ValueError) as e:
                    ok, detail = False, f"request error: {e!r}"
                end = loop.time()
                results.append((end, end - start, ok, f"s{i}: {detail}"))
                # Like a Prometheus scrape loop: an overrun skips ticks.
                k = max(k + 1, math.floor((loop.time() - t0) / interval) + 1)
        finally:
            c.close()

    async def scraper():
        c = KeepAlive("127.0.0.1", dr_port)
        k = 0
        try:
            while True:
                tick = t0 + k * interval + interval / 4
                if tick >= w1:
                    return
                await asyncio.sleep(max(0.0, tick - loop.time()))
                start = loop.time()
                try:
                    status, _ = await asyncio.wait_for(c.get("/metrics"), 10)
                except (OSError, asyncio.TimeoutError,
                        asyncio.IncompleteReadError, ValueError) as e:
                    status = f"error {e!r}"
                end = loop.time()
                if w0 <= end < w1:
                    scrapes.append((end, end - start, status))
                k += 1
        finally:
            c.close()

    async def snapshot(at, key):
        await asyncio.sleep(max(0.0, at - loop.time()))
        snap = {"t": loop.time(), "bb_cpu": cpu_seconds(bb.pid),
                "bb_sched": sched_cpu_seconds(bb.pid),
                "nginx_cpu": tree_cpu_seconds(nginx.pid),
                "self_cpu": time.process_time()}
        snaps[key] = snap
        if dr is None:
            return
        snap["dr_cpu"] = cpu_seconds(dr.pid)
        snap["dr_sched"] = sched_cpu_seconds(dr.pid)
        c = KeepAlive("127.0.0.1", dr_port)
        try:
            status, body = await asyncio.wait_for(c.get("/metrics"), 10)
        finally:
            c.close()
        if status != 200:
            raise Broken(f"dr-exporter /metrics answered {status}")
        snap["dr_probes"] = probe_totals(
            parse_metrics(body.decode("utf-8", "replace")))

    async def watchdog():
        while loop.time() < w1 + 0.5:
            for d in daemons:
                d.check()
            await asyncio.sleep(0.25)

    tasks = [asyncio.create_task(site(i)) for i in range(1, n + 1)]
    tasks += [asyncio.create_task(snapshot(w0, "start")),
              asyncio.create_task(snapshot(w1, "end")),
              asyncio.create_task(watchdog())]
    if dr is not None:
        tasks.append(asyncio.create_task(scraper()))
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    return results, scrapes, snaps, (w0, w1)


def parse_wrk_ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", s)
    if not m:
        raise Broken(f"cannot parse wrk latency {s!r}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
    return float(m.group(1)) * scale[m.group(2)]


def run_wrk(port, seconds, connections, extra=(), closing=False):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
            *extra, f"http://127.0.0.1:{port}/metrics"]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=seconds + 30)
    out = p.stdout
    if p.returncode != 0:
        raise Broken(f"wrk failed ({p.returncode}): {p.stderr}{out}")
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    if "50" not in dist or "99" not in dist:
        raise Broken(f"no latency distribution in wrk output:\n{out}")
    reqs = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res = {"p50": parse_wrk_ms(dist["50"]), "p99": parse_wrk_ms(dist["99"]),
           "requests": int(reqs.group(1)) if reqs else 0,
           "rps": float(rps.group(1)) if rps else 0.0, "raw": out,
           "problems": []}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), "
                       r"write (\d+), timeout (\d+)", out)
    what = "wrk" + ("" if not extra else f" ({' '.join(extra[1:])})")
    if non2xx:
        res["problems"].append(f"{what}: {non2xx.group(1)} non-2xx answers "
                               "from /metrics")
    if errors:
        c, r, w, t = (int(x) for x in errors.groups())
        # With "Connection: close" wrk counts every close by the server as a
        # read error; only the other kinds mean something there.
        if c or w or t or (r and not closing):
            res["problems"].append(f"{what}: {errors.group(0)}")
    if res["requests"] == 0:
        raise Broken(f"wrk made no requests:\n{out}")
    return res


def dr_sites_up(port, n):
    """(ok, [sites not up]) from one /metrics scrape."""
    st, body = http_get("127.0.0.1", port, "/metrics", 5)
    ups = {labels.get("site"): v for name, labels, v in
           parse_metrics(body.decode("utf-8", "replace"))
           if name == "dr_site_up"}
    down = sorted(s for s, v in ups.items() if v != 1)
    return st == 200 and len(ups) == n and not down, down


def scenario(args, n, linode, pidfile):
    wd = os.path.join(args.workdir, f"n{n}")
    os.makedirs(wd, exist_ok=True)
    row = {"n": n, "problems": [], "dr": None, "dr_refused": None}
    problems = row["problems"]
    daemons = []
    try:
        # -- health endpoints
        hc_port = free_port_all_addresses()
        ngx_root, ngx_conf = write_nginx(wd, n, hc_port)
        nginx = Daemon("nginx", ["nginx", "-c", ngx_conf, "-p", ngx_root + "/",
                                 "-e", os.path.join(ngx_root, "error.log")],
                       wd, pidfile)
        daemons.append(nginx)

        def all_listening():
            for i in range(1, n + 1):
                with socket.create_connection((f"127.0.1.{i}", hc_port), 1):
                    pass
            return True
        wait_until(all_listening, 15, f"nginx on 127.0.1.1-{n}:{hc_port}",
                   daemons)
        st, body = http_get(f"127.0.1.{n}", hc_port, "/health.php")
        if st != 200 or body != b"OK\n":
            raise Broken(f"nginx health answered {st} {body!r}")

        # -- dr-exporter (unless it refuses the config)
        dr = None
        dr_port = free_port()
        dr_conf = write_exporter_config(wd, n, hc_port, linode.url)
        env = dict(os.environ, LINODE_TOKEN=LINODE_TOKEN)
        chk = subprocess.run([args.exporter, "--config.file", dr_conf,
                              "--check-config"], capture_output=True,
                             text=True, env=env, timeout=30)
        if chk.returncode != 0:
            msg = (chk.stderr + chk.stdout).strip().replace(dr_conf, "<config>")
            row["dr_refused"] = msg
            problems.append(f"dr-exporter refuses the {n}-site config "
                            f"(--check-config exit {chk.returncode}): {msg}")
        else:
            dr = Daemon("dr-exporter",
                        [args.exporter, "--config.file", dr_conf,
                         "--web.listen-address", f"127.0.0.1:{dr_port}",
                         "--log.level", "warn"], wd, pidfile, env=env)
            daemons.append(dr)

        # -- blackbox_exporter
        bb_port = free_port()
        bb_conf = write_blackbox_config(wd)
        bb = Daemon("blackbox_exporter",
                    [args.blackbox, f"--config.file={bb_conf}",
                     f"--web.listen-address=127.0.0.1:{bb_port}",
                     "--log.level=warn"], wd, pidfile)
        daemons.append(bb)

        if dr is not None:
            wait_until(lambda: http_get("127.0.0.1", dr_port, "/-/ready",
                                        1)[0] == 200,
                       20, "dr-exporter /-/ready", daemons)
        wait_until(lambda: http_get("127.0.0.1", bb_port, "/-/healthy",
                                    1)[0] == 200,
                   20, "blackbox_exporter /-/healthy", daemons)
        if dr is not None:
            try:
                wait_until(lambda: dr_sites_up(dr_port, n)[0], 10,
                           f"dr_site_up == 1 for all {n} sites", daemons)
            except Broken:
                down = dr_sites_up(dr_port, n)[1]
                raise Broken(f"dr-exporter reports sites not up: {down[:20]}"
                             f" (log: {dr.log_tail()})")
        # One blackbox probe by hand, so a broken module fails early.
        st, body = http_get(
            "127.0.0.1", bb_port, "/probe?module=http_2xx&target=" +
            urllib.parse.quote(f"http://127.0.1.1:{hc_port}/health.php",
                               safe=""), 5)
        if st != 200 or b"\nprobe_success 1\n" not in body:
            raise Broken(f"blackbox probe failed: {st} {body[-400:]!r}")

        print(f"  [N={n}] nginx pid {nginx.pid} :{hc_port}, "
              + (f"dr-exporter pid {dr.pid} :{dr_port}, " if dr else
                 "dr-exporter NOT RUNNING (refused config), ")
              + f"blackbox pid {bb.pid} :{bb_port}; "
              f"warm-up {args.warmup:g} s, window {args.duration:g} s",
              flush=True)

        # -- the common CPU/RSS window
        results, scrapes, snaps, (w0, w1) = asyncio.run(drive(
            n, hc_port, bb_port, dr_port if dr else None, args.interval,
            args.warmup, args.duration, daemons, dr, bb, nginx))
        for d in daemons:
            d.check()
        s, e = snaps["start"], snaps["end"]
        row["window"] = e["t"] - s["t"]
        row["nginx_cpu"] = e["nginx_cpu"] - s["nginx_cpu"]
        row["self_cpu"] = e["self_cpu"] - s["self_cpu"]

        in_win = [r for r in results if w0 <= r[0] < w1]
        bb_fail = [r for r in results if not r[2]]   # warm-up failures too
        bb_lat = [r[1] * 1e3 for r in in_win]
        row["bb"] = {"probes": len(in_win), "failures": len(bb_fail),
                     "cpu": e["bb_cpu"] - s["bb_cpu"],
                     "sched": e["bb_sched"] - s["bb_sched"],
                     "rss": proc_status_kib(bb.pid, "VmHWM") / KIB_PER_MIB,
                     "anon": proc_status_kib(bb.pid, "RssAnon") / KIB_PER_MIB,
                     "file": proc_status_kib(bb.pid, "RssFile") / KIB_PER_MIB,
                     "p50": percentile(bb_lat, 50),
                     "p99": percentile(bb_lat, 99)}
        if bb_fail:
            problems.append(f"blackbox: {len(bb_fail)} failed /probe "
                            f"requests, first: {bb_fail[0][3]}")
        if not in_win:
            problems.append("blackbox: no probes answered in the window")

        if dr is None:
            return row

        dr_ok = e["dr_probes"]["success"] - s["dr_probes"]["success"]
        dr_fail = e["dr_probes"]["failure"] - s["dr_probes"]["failure"]
        sl = [x[1] * 1e3 for x in scrapes if x[2] == 200]
        row["dr"] = {"probes": dr_ok + dr_fail, "failures": dr_fail,
                     "cpu": e["dr_cpu"] - s["dr_cpu"],
                     "sched": e["dr_sched"] - s["dr_sched"],
                     "rss": proc_status_kib(dr.pid, "VmHWM") / KIB_PER_MIB,
                     "anon": proc_status_kib(dr.pid, "RssAnon") / KIB_PER_MIB,
                     "file": proc_status_kib(dr.pid, "RssFile") / KIB_PER_MIB,
                     "window_scrapes": len(scrapes),
                     "window_scrape_p50": percentile(sl, 50),
                     "window_scrape_max": max(sl) if sl else float("nan")}
        scrape_bad = [x for x in scrapes if x[2] != 200]
        if dr_fail:
            problems.append(f"dr-exporter: {dr_fail:.0f} failed probes in the "
                            f"window (log: {dr.log_tail(5)})")
        if dr_ok + dr_fail == 0:
            problems.append("dr-exporter: no probes counted in the window")
        if scrape_bad:
            problems.append(f"dr-exporter: {len(scrape_bad)} bad /metrics "
                            f"scrapes in the window, first: {scrape_bad[0][2]}")

        # -- scrape latency: blackbox idle, dr-exporter still probing
        st, body = http_get("127.0.0.1", dr_port, "/metrics", 5)
        before = probe_totals(parse_metrics(body.decode()))
        metrics_bytes = len(body)
        series = len(parse_metrics(body.decode()))
        dr_cpu0 = cpu_seconds(dr.pid)
        t_wrk = time.monotonic()
        wrk = run_wrk(dr_port, args.scrape_duration, args.wrk_connections)
        t_wrk = time.monotonic() - t_wrk
        dr_cpu1 = cpu_seconds(dr.pid)
        rss_after_wrk = proc_status_kib(dr.pid, "VmHWM") / KIB_PER_MIB
        for d in daemons:
            d.check()
        st, body = http_get("127.0.0.1", dr_port, "/metrics", 5)
        samples = parse_metrics(body.decode())
        after = probe_totals(samples)
        rounds = [v for name, labels, v in samples
                  if name == "dr_collector_duration_seconds"
                  and labels.get("collector") == "site_health"]
        wrk_probes = (after["success"] + after["failure"]
                      - before["success"] - before["failure"])
        wrk_fail = after["failure"] - before["failure"]
        if wrk_fail:
            problems.append(f"dr-exporter: {wrk_fail:.0f} failed probes "
                            f"during the wrk phase")
        problems.extend(wrk["problems"])
        # The same load without keep-alive: separates per-request cost from
        # connection reuse effects. Context only.
        wrk_close = run_wrk(dr_port, args.close_duration,
                            args.wrk_connections, ("-H", "Connection: close"),
                            closing=True)
        problems.extend(wrk_close["problems"])
        for d in daemons:
            d.check()
        row["dr"].update({
            "p50": wrk["p50"], "p99": wrk["p99"], "rps": wrk["rps"],
            "scrapes": wrk["requests"], "metrics_bytes": metrics_bytes,
            "series": series, "wrk_probes": wrk_probes,
            "wrk_seconds": t_wrk, "wrk_cpu": dr_cpu1 - dr_cpu0,
            "rss_after_wrk": rss_after_wrk,
            "round_s": rounds[0] if rounds else float("nan"),
            "close_p50": wrk_close["p50"], "close_p99": wrk_close["p99"],
            "close_rps": wrk_close["rps"],
        })
        return row
    finally:
        for d in reversed(daemons):
            d.stop()


# --------------------------------------------------------------------------
# Report


def verdict(ok):
    return "MET" if ok else "NOT MET"


def per_1000(x):
    return x["cpu"] / x["probes"] * 1000 if x and x["probes"] else float("nan")


def report(row, args):
    n, dr, bb = row["n"], row["dr"], row["bb"]
    print()
    print(f"=== N = {n} sites: probe every {args.interval:g} s, timeout 800 ms,"
          f" common window {row['window']:.1f} s ===")
    hdr = (f"{'exporter':<19}{'probes':>8}{'CPU s':>9}"
           f"{'CPU s/1000 probes':>19}{'peak RSS MiB':>14}"
           f"{'scrape p50 ms':>15}{'scrape p99 ms':>15}")
    print(hdr)
    print("-" * len(hdr))
    if dr:
        print(f"{'dr-exporter':<19}{dr['probes']:>8.0f}{dr['cpu']:>9.2f}"
              f"{per_1000(dr):>19.3f}{dr['rss']:>14.1f}{dr['p50']:>15.3f}"
              f"{dr['p99']:>15.3f}")
    else:
        print(f"{'dr-exporter':<19}  did not run: {row['dr_refused']}")
    print(f"{'blackbox_exporter':<19}{bb['probes']:>8.0f}{bb['cpu']:>9.2f}"
          f"{per_1000(bb):>19.3f}{bb['rss']:>14.1f}{'-':>15}{'-':>15}")
    row["cpu_ratio"] = row["rss_ratio"] = float("nan")
    if dr:
        cpu_ratio = (per_1000(dr) / per_1000(bb) if bb["cpu"] > 0
                     else float("nan"))
        rss_ratio = dr["rss"] / bb["rss"]
        row["cpu_ratio"], row["rss_ratio"] = cpu_ratio, rss_ratio
        print(f"ratios (dr-exporter / blackbox): CPU per probe "
              f"{cpu_ratio:.3f}x, peak RSS {rss_ratio:.3f}x")
        print(f"targets: CPU per probe <= 0.5x: "
              f"{verdict(cpu_ratio <= 0.5) if cpu_ratio == cpu_ratio else 'n/a (no CPU ticks)'}; "
              f"peak RSS <= 0.5x: {verdict(rss_ratio <= 0.5)}", end="")
        if n >= 200:
            print(f"; scrape p99 < 5 ms at {n} sites: "
                  f"{verdict(dr['p99'] < 5)}")
        else:
            print(" (the scrape p99 < 5 ms target is for 200 sites)")
        ticks = min(dr["cpu"], bb["cpu"]) * CLK_TCK
        if ticks < 100:
            sr = (dr["sched"] / dr["probes"]) / (bb["sched"] / bb["probes"]) \
                if dr["probes"] and bb["probes"] and bb["sched"] > 0 \
                else float("nan")
            print(f"note: only {ticks:.0f} clock ticks of CPU in the smaller "
                  f"figure, so CPU s is +-{1 / CLK_TCK:.2f} and the ratio is "
                  f"coarse; per-thread schedstat (ns) over the same window: "
                  f"dr-exporter {dr['sched'] * 1e3:.1f} ms, blackbox "
                  f"{bb['sched'] * 1e3:.1f} ms, CPU per probe ratio "
                  f"{sr:.3f}x")
    else:
        print("targets: cannot be evaluated, dr-exporter did not run")
    print(f"context: blackbox /probe latency p50 {bb['p50']:.2f} ms, "
          f"p99 {bb['p99']:.2f} ms ({bb['probes']} requests, {n} at once "
          f"per tick); in the window nginx used {row['nginx_cpu']:.2f} CPU s, "
          f"this driver {row['self_cpu']:.2f} CPU s")
    print("context: RSS at the end of the window, anonymous + file-backed "
          "(mapped binary and shared libraries): "
          + (f"dr-exporter {dr['anon']:.1f} + {dr['file']:.1f} MiB, " if dr
             else "")
          + f"blackbox {bb['anon']:.1f} + {bb['file']:.1f} MiB")
    if dr:
        print(f"context: dr-exporter /metrics {dr['metrics_bytes'] / 1024:.1f}"
              f" KiB, {dr['series']} samples; scraped {dr['window_scrapes']}x"
              f" (1/s, keep-alive, like Prometheus) in the window: p50 "
              f"{dr['window_scrape_p50']:.2f} ms, max "
              f"{dr['window_scrape_max']:.2f} ms")
        print(f"context: wrk -t1 -c{args.wrk_connections} "
              f"{args.scrape_duration:g} s keep-alive: {dr['scrapes']} "
              f"scrapes ({dr['rps']:.0f}/s), exporter CPU "
              f"{dr['wrk_cpu']:.2f} s, {dr['wrk_probes']:.0f} probes "
              f"meanwhile (expected ~{n * dr['wrk_seconds'] / args.interval:.0f}"
              f"), VmHWM after {dr['rss_after_wrk']:.1f} MiB; "
              f"last site_health round {dr['round_s'] * 1e3:.1f} ms")
        print(f"context: same with 'Connection: close' ({args.close_duration} "
              f"s): p50 {dr['close_p50']:.3f} ms, p99 {dr['close_p99']:.3f} "
              f"ms, {dr['close_rps']:.0f}/s")
    for p in row["problems"]:
        print(f"PROBLEM: {p}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exporter", required=True, help="dr-exporter binary")
    ap.add_argument("--blackbox", default=shutil.which(
        "prometheus-blackbox-exporter") or "prometheus-blackbox-exporter")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--pidfile", help="process groups are listed here")
    ap.add_argument("--sites", default="2,200",
                    help="comma-separated scenario sizes, 2..254 "
                    "(default 2,200)")
    ap.add_argument("--duration", type=float, default=30.0,
                    help="CPU/RSS measurement window, seconds (default 30)")
    ap.add_argument("--warmup", type=float, default=3.0,
                    help="seconds of driving before the window (default 3)")
    ap.add_argument("--scrape-duration", type=int, default=10,
                    help="wrk keep-alive phase against /metrics, seconds "
                    "(default 10)")
    ap.add_argument("--close-duration", type=int, default=3,
                    help="wrk 'Connection: close' phase, seconds (default 3)")
    ap.add_argument("--wrk-connections", type=int, default=4)
    ap.add_argument("--interval", type=float, default=1.0,
                    help=argparse.SUPPRESS)  # must match probe.interval
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.sites.split(",") if x]
    except ValueError:
        ap.error("--sites: a comma-separated list of integers")
    if not sizes or any(not 2 <= s <= 254 for s in sizes):
        ap.error("--sites: each size must be in 2..254")
    pidfile = args.pidfile or os.path.join(args.workdir, "pids")

    ver = subprocess.run([args.blackbox, "--version"], capture_output=True,
                         text=True)
    ver = (ver.stdout + ver.stderr).strip().splitlines()
    dver = subprocess.run([args.exporter, "--version"], capture_output=True,
                          text=True)
    dver = (dver.stdout + dver.stderr).strip().splitlines()
    print(f"dr-exporter: {dver[0] if dver else '?'}")
    print(f"blackbox:    {ver[0] if ver else '?'}")
    print(f"machine:     {os.cpu_count()} CPUs; CPU time from /proc/PID/stat "
          f"in {1 / CLK_TCK:.2f} s ticks", flush=True)

    linode = start_linode("127.0.1.1")
    rows = []
    try:
        for n in sizes:
            row = scenario(args, n, linode, pidfile)
            report(row, args)
            rows.append(row)
    finally:
        linode.stop()

    if len(rows) > 1:
        print()
        print("=== summary ===")
        print(f"{'N':>4}{'dr CPU s/1k':>13}{'bb CPU s/1k':>13}{'CPU ratio':>11}"
              f"{'dr MiB':>9}{'bb MiB':>9}{'RSS ratio':>11}"
              f"{'scrape p99 ms':>15}")
        for r in rows:
            dr, bb = r["dr"], r["bb"]
            if dr is None:
                print(f"{r['n']:>4}{'-':>13}{per_1000(bb):>13.3f}{'-':>11}"
                      f"{'-':>9}{bb['rss']:>9.1f}{'-':>11}{'-':>15}"
                      "   (dr-exporter refused the config)")
                continue
            print(f"{r['n']:>4}{per_1000(dr):>13.3f}{per_1000(bb):>13.3f}"
                  f"{r['cpu_ratio']:>10.3f}x{dr['rss']:>9.1f}{bb['rss']:>9.1f}"
                  f"{r['rss_ratio']:>10.3f}x{dr['p99']:>15.3f}")
    if any(r["problems"] for r in rows):
        print("\nFAILED: see the PROBLEM lines above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # SIGTERM from the wrapper: unwind through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except Broken as e:
        print(f"\nBROKEN: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
