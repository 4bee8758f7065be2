#!/usr/bin/python3
"""Switchable health endpoints: one simulated site per address and port.

Each HealthSite is a real HTTP/1.1 server (e.g. on 127.0.0.11:P for one site
and 127.0.0.12:P for another) answering any GET path, normally
`/health.php`, according to a mode that can be switched at any time:

  ok               200 "OK"
  fail             503 "FAIL"
  status:<code>    that status code, e.g. status:500, status:302
  slow:<seconds>   wait, then 200 "OK" (a mode change during the wait is
                   obeyed at once)
  hang             accept, read the request, never answer until the mode
                   changes (then answer as the new mode says) or stop()
  closed           the listening socket is really closed, so connections are
                   refused (ECONNREFUSED) and open ones are cut; any other
                   mode binds the same address:port again

Module use:

    from health_server import HealthSite
    site = HealthSite("127.0.0.11").start()    # port 0: a free port is picked
    site.url                             # http://127.0.0.11:P/health.php
    site.set_mode("closed"); site.set_mode("ok")
    site.requests                               # requests answered so far
    site.stop()

CLI, for shell scripts:

    health_server.py --site a=127.0.0.11:0 --site b=127.0.0.12:0 \\
                     --control 127.0.0.1:0

prints `site NAME http://ADDR:PORT/health.php` per site, then
`control http://127.0.0.1:P` (flushed), and serves until SIGTERM/SIGINT.
Control API: `POST /mode/<name>` with the mode string as the body switches
a site (400 for a bad mode, 404 for an unknown site); `GET /modes` answers
`{"NAME": {"mode": ..., "url": ..., "requests": N}}`.
"""

import argparse
import json
import pathlib
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from http_base import ClosableServer  # noqa: E402

_REBIND_SECONDS = 5.0


def parse_mode(mode):
    """Validates a mode string; returns (kind, argument). Raises ValueError."""
    kind, _, arg = str(mode).strip().partition(":")
    if kind in ("ok", "fail", "hang", "closed") and not arg:
        return kind, None
    if kind == "status" and arg.isdigit() and 100 <= int(arg) <= 599:
        return kind, int(arg)
    if kind == "slow":
        try:
            seconds = float(arg)
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            return kind, seconds
    raise ValueError(f"bad health mode {mode!r}: expected ok, fail, "
                     "status:<code>, slow:<seconds>, hang or closed")


_Server = ClosableServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-health"
    # Headers and body go out in separate writes; without this, Nagle and
    # delayed ACKs add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    timeout = 60

    def do_GET(self):
        answer = self.server.owner._await_answer()
        if answer is None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, text = answer
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if 300 <= status < 400:
            self.send_header("Location", "/")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass


class HealthSite:
    """One simulated site's health endpoint. Thread-safe.

    The mode is guarded by a condition variable that requests waiting in
    `slow` or `hang` sleep on; binding and closing the listener is
    serialized by a second lock.
    """

    def __init__(self, addr="127.0.0.1", port=0, name=None,
                 path="/health.php"):
        self.addr, self.name, self.path = addr, name or addr, path
        self._port = port
        self._cond = threading.Condition()
        self._mode, self._mode_text = ("ok", None), "ok"
        self._requests = 0
        self._running = False
        self._life = threading.Lock()
        self._server = self._thread = None

    # -- lifecycle

    def start(self):
        with self._life:
            self._running = True
            if self._mode[0] != "closed":
                self._bind()
        return self

    def stop(self):
        with self._cond:
            self._running = False
            self._cond.notify_all()
        with self._life:
            self._unbind()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _bind(self):
        """Listens on addr:port (the same port again after `closed`)."""
        deadline = time.monotonic() + _REBIND_SECONDS
        while True:
            try:
                self._server = _Server((self.addr, self._port), _Handler, self)
                break
            except OSError:
                # The port can be briefly held by a closing socket.
                if self._port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"health:{self.name}", daemon=True)
        self._thread.start()

    def _unbind(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(5)
        self._server = self._thread = None

    # -- mode

    def set_mode(self, mode):
        """Switches the mode (see the module docstring). Raises ValueError."""
        parsed = parse_mode(mode)
        with self._life:
            with self._cond:
                self._mode, self._mode_text = parsed, str(mode).strip()
                self._cond.notify_all()
            if not self._running:
                return
            if parsed[0] == "closed":
                self._unbind()
            elif self._server is None:
                self._bind()

    @property
    def mode(self):
        with self._cond:
            return self._mode_text

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return f"http://{self.addr}:{self._port}{self.path}"

    @property
    def requests(self):
        """How many requests this site has answered."""
        with self._cond:
            return self._requests

    def _await_answer(self):
        """Waits as the mode says; returns (status, text) or None to drop."""
        started = time.monotonic()
        with self._cond:
            while True:
                kind, arg = self._mode
                if not self._running or kind == "closed":
                    return None
                if kind == "hang":
                    self._cond.wait()
                    continue
                if kind == "slow":
                    remaining = started + arg - time.monotonic()
                    if remaining > 0:
                        self._cond.wait(remaining)
                        continue
                self._requests += 1
                if kind == "fail":
                    return 503, "FAIL"
                if kind == "status":
                    return arg, f"STATUS {arg}"
                return 200, "OK"


# ---------------------------------------------------------------- CLI

def _split_hostport(value):
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _site_spec(value):
    name, sep, hostport = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"expected NAME=HOST:PORT, got {value!r}")
    return name, _split_hostport(hostport)


def _control_handler(sites):
    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status, obj):
            payload = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path.rstrip("/") != "/modes":
                return self._send(404, {"error": "not found"})
            self._send(200, {name: {"mode": s.mode, "url": s.url,
                                    "requests": s.requests}
                             for name, s in sites.items()})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            prefix = "/mode/"
            if not self.path.startswith(prefix):
                return self._send(404, {"error": "not found"})
            site = sites.get(self.path[len(prefix):])
            if site is None:
                return self._send(404, {"error": "unknown site"})
            try:
                site.set_mode(body)
            except ValueError as e:
                return self._send(400, {"error": str(e)})
            self._send(200, {"site": site.name, "mode": site.mode})

        def log_message(self, fmt, *args):
            pass

    return Control


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Switchable health endpoints for simulated sites.")
    parser.add_argument("--site", type=_site_spec, action="append",
                        required=True, help="NAME=HOST:PORT (port 0 = pick)")
    parser.add_argument("--control", type=_split_hostport,
                        default=("127.0.0.1", 0),
                        help="HOST:PORT of the control API")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sites = {}
    for name, (host, port) in args.site:
        sites[name] = HealthSite(host, port, name=name).start()
        print(f"site {name} {sites[name].url}", flush=True)
    control = ThreadingHTTPServer(args.control, _control_handler(sites))
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    host, port = control.server_address[:2]
    print(f"control http://{host}:{port}", flush=True)
    stop.wait()
    control.shutdown()
    control.server_close()
    for site in sites.values():
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
