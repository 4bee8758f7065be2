"""Shared helpers for the integration and end-to-end tests.

    from harness import (free_port, start_process, wait_until, scrape, http,
                         repo_root, build_dir, write_config)

    proc = start_process([str(build_dir() / "exporter" / "dr-exporter"),
                          "--config.file", cfg,
                          "--web.listen-address", f"127.0.0.1:{port}"],
                         ready_url=f"http://127.0.0.1:{port}/-/ready")
    m = wait_until(lambda: scrape(url).value("dr_site_up", site="a") == 1,
                   timeout=5, message="site a never came up")
    proc.stop()

Everything binds to loopback; nothing here talks to another machine.
"""

import atexit
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from http.client import HTTPException

import yaml
from prometheus_client.parser import text_string_to_metric_families


def repo_root():
    """The repository's top directory (found from this file's place)."""
    return pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    """The CMake build tree: $DRF_BUILD_DIR, else <repo>/build."""
    return pathlib.Path(os.environ.get("DRF_BUILD_DIR")
                        or repo_root() / "build")


def free_port(host="127.0.0.1"):
    """A TCP port that was free on `host` a moment ago (bind to 0)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, message=""):
    """Calls pred() until it returns something truthy; returns that value.

    An exception raised by pred counts as a falsy try (a server that is not
    up yet). After `timeout` seconds raises AssertionError naming `message`
    and the last value or exception.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried, then reported
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message or 'condition'} not met within {timeout}s; "
                f"last value: {last!r}")
        time.sleep(interval)


# ---------------------------------------------------------------- processes

_live = set()
# The processes' logs, one directory per test run; removed at exit unless
# DRF_KEEP_LOGS is set (to read them after a failure).
_log_dir = None


def _logs():
    global _log_dir
    if _log_dir is None:
        _log_dir = pathlib.Path(tempfile.mkdtemp(prefix="dr-test-logs-"))
    return _log_dir


@atexit.register
def _stop_leftovers():
    for proc in list(_live):
        proc.stop(timeout=2)
    if _log_dir is not None and not os.environ.get("DRF_KEEP_LOGS"):
        shutil.rmtree(_log_dir, ignore_errors=True)


class Process:
    """A child process with its stdout and stderr in one temp log file.

    Owns the process and the log file; stop() or kill9() ends it (by pid,
    never by name), and any left running are stopped when Python exits.
    """

    def __init__(self, argv, env=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self._log = tempfile.NamedTemporaryFile(
            prefix=pathlib.Path(self.argv[0]).name + "-", suffix=".log",
            dir=_logs(), delete=False)
        self.log_path = pathlib.Path(self._log.name)
        self._popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.ready_match = None  # the re.Match of ready_line, if one was used
        _live.add(self)

    @property
    def pid(self):
        return self._popen.pid

    @property
    def returncode(self):
        return self._popen.poll()

    def running(self):
        return self._popen.poll() is None

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def signal(self, signum):
        if self.running():
            self._popen.send_signal(signum)

    def wait(self, timeout=None):
        """Waits for exit; returns the exit code (-N for signal N)."""
        return self._popen.wait(timeout)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
        if self.running():
            self._popen.terminate()
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._log.close()
        _live.discard(self)
        return self._popen.returncode

    def kill9(self):
        """SIGKILL: no chance to clean up (crash tests)."""
        if self.running():
            self._popen.send_signal(signal.SIGKILL)
        self._popen.wait()
        self._log.close()
        _live.discard(self)
        return self._popen.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<Process pid={self.pid} {' '.join(self.argv)!r}>"


def start_process(argv, ready_url=None, ready_line=None, timeout=10,
                  env=None, cwd=None):
    """Starts argv and waits until it is ready.

    ready_url: ready once a GET answers 2xx. ready_line: a regular
    expression searched in the output; the match is kept as
    `proc.ready_match` (e.g. r"listening on (\\S+)" -> group(1)). `env` is
    added to the current environment. Raises AssertionError with the log
    when the process exits or is not ready within `timeout` seconds.
    """
    full_env = dict(os.environ, **env) if env else None
    proc = Process(argv, env=full_env, cwd=cwd)
    pattern = re.compile(ready_line) if ready_line else None
    deadline = time.monotonic() + timeout
    while proc.running() and time.monotonic() < deadline:
        if pattern is not None and proc.ready_match is None:
            proc.ready_match = pattern.search(proc.log_text())
        if _is_ready(proc, pattern, ready_url):
            return proc
        time.sleep(0.02)
    code = proc.returncode
    proc.stop(timeout=2)
    state = f"exited with {code}" if code is not None else \
        f"not ready within {timeout}s"
    raise AssertionError(f"{proc.argv[0]} {state}; log:\n{proc.log_text()}")


def _is_ready(proc, pattern, ready_url):
    if pattern is not None and proc.ready_match is None:
        return False
    if ready_url is None:
        return True
    try:
        status, _, _ = http("GET", ready_url, timeout=1)
    except OSError:
        return False
    return 200 <= status < 300


# ---------------------------------------------------------------- HTTP

def http(method, url, body=None, headers=None, timeout=5):
    """One HTTP request; returns (status, headers, body bytes).

    4xx and 5xx are returned, not raised; connection errors raise OSError.
    `body` may be bytes, str, or a dict/list (sent as JSON). The returned
    headers are an http.client.HTTPMessage (case-insensitive .get()).
    """
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    request = urllib.request.Request(url, data=body, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()
    except urllib.error.URLError as e:
        if isinstance(e.reason, OSError):
            raise e.reason from None
        raise OSError(str(e.reason)) from None
    except HTTPException as e:
        raise OSError(f"{type(e).__name__}: {e}") from None


# ---------------------------------------------------------------- metrics

class Metrics:
    """A parsed Prometheus text exposition, queried by sample name.

    Sample names are as exposed: `dr_site_probes_total`, `x_bucket`,
    `x_count`. Label arguments select samples whose labels include them.
    """

    def __init__(self, text):
        self.text = text
        self._samples = []  # (name, labels, value)
        self.types = {}     # family name -> type
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self._samples.append((sample.name, dict(sample.labels),
                                      sample.value))

    def samples(self, name, **labels):
        """[(labels dict, value)] of the samples named `name`."""
        return [(lbls, value) for n, lbls, value in self._samples
                if n == name and all(lbls.get(k) == str(v)
                                     for k, v in labels.items())]

    def value(self, name, **labels):
        """The value of the one matching sample; None if there is none.

        Raises AssertionError if the labels select more than one sample.
        """
        found = self.samples(name, **labels)
        if len(found) > 1:
            raise AssertionError(f"{name}{labels} matches {len(found)} "
                                 f"samples: {found}")
        return found[0][1] if found else None

    def sum(self, name, **labels):
        """The sum over all matching samples (0 if none)."""
        return sum(value for _, value in self.samples(name, **labels))

    def names(self):
        return sorted({n for n, _, _ in self._samples})


def scrape(url, timeout=5):
    """GETs a /metrics URL and parses it; raises AssertionError unless 200."""
    status, _, body = http("GET", url, timeout=timeout)
    if status != 200:
        raise AssertionError(f"scrape {url}: HTTP {status}: {body[:500]!r}")
    return Metrics(body.decode())


def wait_metric(url, name, value, timeout=5, **labels):
    """Scrapes `url` until the sample `name`{labels} equals `value`; returns
    that scrape (AssertionError after `timeout` s)."""
    def matched():
        m = scrape(url)
        return m if m.value(name, **labels) == value else None
    return wait_until(matched, timeout, message=f"{name}{labels} == {value}")


# ---------------------------------------------------------------- config

def write_config(directory, config, name="config.yml"):
    """Writes a config (a dict as YAML, or text as is); returns its path."""
    path = pathlib.Path(directory) / name
    if isinstance(config, str):
        path.write_text(config)
    else:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
