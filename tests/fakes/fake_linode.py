#!/usr/bin/python3
"""A fake of the Linode API v4 DNS endpoints, with fault injection.

It stands in for https://api.linode.com/v4 in tests. It is a real HTTP/1.1
server (keep-alive, Content-Length on every answer) that behaves like Linode
for what dr-failover uses, as the OpenAPI document describes it:

  GET    /v4/domains                          paginated, X-Filter
  GET    /v4/domains/{id}
  GET    /v4/domains/{id}/records             paginated, X-Filter
  POST   /v4/domains/{id}/records             create a record
  GET    /v4/domains/{id}/records/{rid}       the record itself, not wrapped
  PUT    /v4/domains/{id}/records/{rid}       update; answers the new record
  DELETE /v4/domains/{id}/records/{rid}

(`/v4beta/...` is served the same way.)

Behaviour copied from Linode:
  * Auth: `Authorization: Bearer <token>`; otherwise 401
    `{"errors": [{"reason": "Invalid Token"}]}`.
  * Unknown ids or paths: 404 `{"errors": [{"reason": "Not found"}]}`.
  * Errors are always `{"errors": [{"reason": ..., "field": ...}]}`.
  * Pagination: `page` (default 1, >= 1) and `page_size` (default 100,
    25..500; outside that: 400). Answer `{"data", "page", "pages", "results"}`.
    A page past the end answers empty `data` with the page asked for. An empty
    result set answers `page: 0, pages: 0, results: 0` (as a recorded answer
    of the real API shows).
  * X-Filter: a JSON object. `{"field": value}` is equality (membership for
    list fields such as `tags`), several keys are ANDed, `+and`/`+or` take
    lists of filters, a field may take an operator object (`+contains`, `+neq`,
    `+gt`, `+gte`, `+lt`, `+lte`), `+order_by`/`+order` sort. Only fields the
    OpenAPI marks __Filterable__ may be used (domains: domain, group, tags;
    records: name, target, type, tag), else 400
    `{"errors": [{"reason": "Cannot filter on foo", "field": "X-Filter"}]}`.
  * Records carry every field of the OpenAPI schema. `ttl_sec` is rounded UP
    to the next of 0, 30, 120, 300, 3600, ..., 2419200 (0 stays 0 and means
    "the domain's default"), the list the OpenAPI gives for domains. (The
    record schema's own text lists only 300..2419200 and says "rounded to
    the nearest"; the fake follows the longer list, which has the 30 s TTL a
    failover record needs.) An A record's target must be an IPv4 address
    (`[remote_addr]` means the caller's address), AAAA an IPv6 one; else 400
    with `field: "target"`. Names are stored relative to the domain: an A
    name given as an FQDN inside it (`app.example.com`) is stored as `app`.

Use as a module:

    from fake_linode import FakeLinode
    with FakeLinode(token="t0k3n") as fake:       # 127.0.0.1, a free port
        dom = fake.add_domain("example.com")
        rid = fake.add_record(dom, "A", "app", "192.0.2.10", ttl_sec=30)
        fake.url                                   # http://127.0.0.1:PORT/v4
        fake.fail("429", count=2, retry_after=1)   # next 2 API requests: 429
        ...
        fake.records("example.com"); fake.put_count(); fake.requests("PUT")

Fault injection, `fail(mode, count=1, path_regex=None, method=None,
retry_after=1, delay=1.0, status=None, reason=None)`:
  * mode "500", "502", "503", "400", or any other HTTP error code: answer that
    code with an errors body (`reason` overrides the text);
  * "429": `Retry-After: <retry_after>` and reason "Too Many Requests";
  * "slow": sleep `delay` seconds, then answer normally (or with `status`,
    when one is given: a slow error);
  * "drop": read the request, then close the connection with no answer.
  `count` matching requests get the fault (-1: until `clear_faults()`);
  `path_regex` (searched in the path, query excluded) and `method` narrow it.
  Faults are checked before authentication, in the order they were added.

Every API request is logged (method, path, query, headers with the
Authorization value redacted, body, answered status (None if dropped), the
fault applied, time); see `requests()`.

Use as a process (for shell scripts and tests in other languages):

    fake_linode.py --listen 127.0.0.1:0 --token T [--seed seed.yml|json]
                   [--port-file F] [--verbose]

prints `listening on http://127.0.0.1:PORT/v4` (flushed) and serves until
SIGTERM/SIGINT. The same port serves a control API, without auth:

    POST   /__fake/faults    JSON object with the fail() arguments -> {"id": n}
    GET    /__fake/faults    the active faults
    DELETE /__fake/faults    clear_faults()
    GET    /__fake/requests  the request log (?method=PUT&path_regex=...)
    DELETE /__fake/requests  forget the log
    GET    /__fake/records   {"example.com": [records...]} (?domain=NAME|ID)
    POST   /__fake/seed      a seed document (below) -> the ids it created

A seed document (YAML or JSON):

    domains:
      - domain: example.com
        records:
          - {type: A, name: app, target: 192.0.2.10, ttl_sec: 30}
          - {type: A, name: "", target: 192.0.2.10}
"""

import argparse
import dataclasses
import http
import ipaddress
import json
import math
import pathlib
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from http_base import ClosableServer  # noqa: E402

# The valid TTLs, from the OpenAPI text; any other value is rounded up.
TTL_VALUES = (0, 30, 120, 300, 3600, 7200, 14400, 28800, 57600, 86400,
              172800, 345600, 604800, 1209600, 2419200)

RECORD_TYPES = ("A", "AAAA", "NS", "MX", "CNAME", "TXT", "SRV", "PTR", "CAA")
CAA_TAGS = ("issue", "issuewild", "iodef")

# Fields each collection may be filtered on (marked __Filterable__ in the
# OpenAPI document).
DOMAIN_FILTERABLE = frozenset({"domain", "group", "tags"})
RECORD_FILTERABLE = frozenset({"name", "target", "type", "tag"})

PAGE_SIZE_DEFAULT, PAGE_SIZE_MIN, PAGE_SIZE_MAX = 100, 25, 500
MAX_BODY = 1 << 20
# /v4/domains[/{id}[/records[/{rid}]]]; ids are matched loosely so that a
# bad id answers 404 like Linode, not a routing error.
_API_PATH = re.compile(
    r"^/v4(?:beta)?/(domains)(?:/([^/]+)(?:/(records)(?:/([^/]+))?)?)?/?$")
CONTROL_PREFIX = "/__fake/"


def round_ttl(value):
    """Rounds a TTL up to the next valid value, the way Linode does."""
    for valid in TTL_VALUES:
        if value <= valid:
            return valid
    return TTL_VALUES[-1]


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


class ApiError(Exception):
    """An answer in Linode's error format: `{"errors": [...]}`."""

    def __init__(self, status, reason, field=None, errors=None):
        super().__init__(reason)
        self.status = status
        if errors is None:
            errors = [_error(reason, field)]
        self.errors = errors

    def body(self):
        return {"errors": self.errors}


def _error(reason, field=None):
    error = {"reason": reason}
    if field is not None:
        error["field"] = field
    return error


def _not_found():
    return ApiError(404, "Not found")


# ---------------------------------------------------------------- X-Filter

def _contains(have, want):
    return isinstance(have, str) and str(want) in have


_OPERATORS = {
    "+contains": _contains,
    "+neq": lambda have, want: have != want,
    "+gt": lambda have, want: have is not None and have > want,
    "+gte": lambda have, want: have is not None and have >= want,
    "+lt": lambda have, want: have is not None and have < want,
    "+lte": lambda have, want: have is not None and have <= want,
}


def _filter_error(reason):
    return ApiError(400, reason, field="X-Filter")


def _compile_condition(spec, filterable):
    """Turns one filter object into a predicate over a resource dict."""
    if not isinstance(spec, dict):
        raise _filter_error("Filter must be an object")
    predicates = []
    for key, want in spec.items():
        if key in ("+order_by", "+order"):
            continue
        if key in ("+and", "+or"):
            if not isinstance(want, list) or not want:
                raise _filter_error(f"{key} must be a non-empty list")
            parts = [_compile_condition(s, filterable) for s in want]
            combine = all if key == "+and" else any
            predicates.append(
                lambda obj, parts=parts, combine=combine:
                combine(p(obj) for p in parts))
        elif key.startswith("+"):
            raise _filter_error(f"Unknown operator {key}")
        elif key not in filterable:
            raise _filter_error(f"Cannot filter on {key}")
        else:
            predicates.append(_compile_field(key, want))
    return lambda obj: all(p(obj) for p in predicates)


def _compile_field(field, want):
    if isinstance(want, dict):
        checks = []
        for op, operand in want.items():
            if op not in _OPERATORS:
                raise _filter_error(f"Unknown operator {op}")
            checks.append((_OPERATORS[op], operand))

        def check_ops(obj):
            try:
                return all(fn(obj.get(field), operand)
                           for fn, operand in checks)
            except TypeError:  # comparing a string to a number
                return False
        return check_ops
    if isinstance(want, list):
        raise _filter_error(f"Cannot filter {field} by a list")

    def equals(obj):
        have = obj.get(field)
        return want in have if isinstance(have, list) else have == want
    return equals


def parse_x_filter(header, filterable):
    """Parses an X-Filter header value.

    Returns (predicate, sort_key_or_None, descending). Raises ApiError(400)
    for malformed JSON, unknown fields or operators.
    """
    if header is None or header.strip() == "":
        return (lambda obj: True), None, False
    try:
        spec = json.loads(header)
    except ValueError:
        raise _filter_error("The X-Filter header is not valid JSON") from None
    predicate = _compile_condition(spec, filterable)
    order_by = spec.get("+order_by")
    order = spec.get("+order", "asc")
    if order_by is not None and order_by not in filterable:
        raise _filter_error(f"Cannot order by {order_by}")
    if order not in ("asc", "desc"):
        raise _filter_error("+order must be asc or desc")
    return predicate, order_by, order == "desc"


def paginate(items, query):
    """Slices `items` per the page/page_size query, in Linode's envelope."""
    page = _int_param(query, "page", 1, 1, None)
    size = _int_param(query, "page_size", PAGE_SIZE_DEFAULT,
                      PAGE_SIZE_MIN, PAGE_SIZE_MAX)
    results = len(items)
    if results == 0:
        return {"data": [], "page": 0, "pages": 0, "results": 0}
    start = (page - 1) * size
    return {"data": items[start:start + size], "page": page,
            "pages": math.ceil(results / size), "results": results}


def _int_param(query, name, default, low, high):
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high else f"at least {low}"
        raise ApiError(400, f"{name} must be a number {bound}", field=name)
    return value


# ---------------------------------------------------------------- records

def _validate_int(body, field, low, high, errors):
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, int) or \
            not low <= value <= high:
        errors.append(_error(f"{field} must be an integer between "
                             f"{low} and {high}", field))
        return None
    return value


def apply_record_fields(record, body, domain_name, remote_addr="127.0.0.1"):
    """Validates `body` and applies it onto `record` (a dict) in place.

    Read-only fields (id, created, updated) and `type` of an existing record
    are ignored, as are unknown fields. Raises ApiError(400) listing every
    invalid field; `record` is left unchanged then.
    """
    errors, changes = [], {}
    rtype = record.get("type")
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or len(name) > 100:
            errors.append(_error("name must be a string of at most 100 "
                                 "characters", "name"))
        else:
            changes["name"] = _relative_name(name, domain_name)
    if "target" in body:
        target = body["target"]
        if target == "[remote_addr]" and rtype == "A":
            target = remote_addr
        reason = _target_error(rtype, target)
        if reason:
            errors.append(_error(reason, "target"))
        else:
            changes["target"] = target
    if "ttl_sec" in body:
        ttl = _validate_int(body, "ttl_sec", 0, 2**31 - 1, errors)
        if ttl is not None:
            changes["ttl_sec"] = round_ttl(ttl)
    for field, high in (("priority", 255), ("weight", 65535),
                        ("port", 65535)):
        if field in body:
            value = _validate_int(body, field, 0, high, errors)
            if value is not None:
                changes[field] = value
    for field in ("service", "protocol"):
        if field in body:
            if body[field] is not None and not isinstance(body[field], str):
                errors.append(_error(f"{field} must be a string", field))
            else:
                changes[field] = body[field]
    if "tag" in body:
        if body["tag"] is not None and body["tag"] not in CAA_TAGS:
            errors.append(_error("tag must be one of issue, issuewild, iodef",
                                 "tag"))
        else:
            changes["tag"] = body["tag"]
    if errors:
        raise ApiError(400, errors[0]["reason"], errors=errors)
    record.update(changes)


def _target_error(rtype, target):
    if not isinstance(target, str):
        return "target must be a string"
    if rtype == "A":
        try:
            ipaddress.IPv4Address(target)
        except ValueError:
            return "Must be a valid IPv4 address"
    elif rtype == "AAAA":
        try:
            ipaddress.IPv6Address(target)
        except ValueError:
            return "Must be a valid IPv6 address"
    elif rtype in ("NS", "CNAME", "PTR", "SRV") and not target:
        return "target is required"
    if len(target) > 65535:
        return "target is too long"
    return None


def _relative_name(name, domain_name):
    """Linode stores names relative to the domain; FQDNs are shortened."""
    fqdn = name.rstrip(".").lower()
    if fqdn == domain_name.lower():
        return ""
    suffix = "." + domain_name.lower()
    if fqdn.endswith(suffix):
        return name.rstrip(".")[:-len(suffix)]
    return name


def new_record(record_id, rtype):
    """A record with every field of the OpenAPI schema, at its default."""
    stamp = _now()
    return {"id": record_id, "type": rtype, "name": "", "target": "",
            "priority": 0, "weight": 0, "port": 0, "service": None,
            "protocol": None, "ttl_sec": 0, "tag": None,
            "created": stamp, "updated": stamp}


def new_domain(domain_id, name):
    """A master domain with every field of the OpenAPI schema."""
    return {"id": domain_id, "type": "master", "domain": name, "tags": [],
            "group": "", "status": "active", "description": "",
            "soa_email": f"admin@{name}", "retry_sec": 0, "master_ips": [],
            "axfr_ips": [], "expire_sec": 0, "refresh_sec": 0, "ttl_sec": 0}


# ---------------------------------------------------------------- faults

@dataclasses.dataclass
class Fault:
    """One fault rule; `count` is how many more requests it applies to."""
    mode: str
    count: int = 1
    path_regex: str = None
    method: str = None
    retry_after: int = 1
    delay: float = 1.0
    status: int = None
    reason: str = None
    id: int = 0

    def __post_init__(self):
        self.mode = str(self.mode)
        if self.mode not in ("slow", "drop"):
            code = self.status if self.status is not None else self.mode
            try:
                self.status = int(code)
            except ValueError:
                raise ValueError(f"unknown fault mode {self.mode!r}") from None
        if self.status is not None and not 400 <= int(self.status) <= 599:
            raise ValueError(f"fault status {self.status} is not an error")
        if self.path_regex is not None:
            re.compile(self.path_regex)
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method, path):
        return (self.count != 0
                and (self.method is None or self.method == method)
                and (self.path_regex is None
                     or re.search(self.path_regex, path) is not None))


# ---------------------------------------------------------------- server

TrackingHTTPServer = ClosableServer


class _Handler(BaseHTTPRequestHandler):
    """Parses one request and hands it to the FakeLinode that owns it."""
    protocol_version = "HTTP/1.1"
    server_version = "fake-linode"
    # Headers and body go out in separate writes; without this, Nagle and
    # delayed ACKs add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this

    def do_GET(self):
        self.server.owner._handle(self)

    do_PUT = do_POST = do_DELETE = do_PATCH = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "Request body too large")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY:
                raise ApiError(413, "Request body too large")

    def send_json(self, status, obj, extra_headers=()):
        payload = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        return status

    def log_message(self, fmt, *args):
        if self.server.owner.verbose:
            super().log_message(fmt, *args)


class FakeLinode:
    """The fake Linode API server. Thread-safe; one lock guards all state.

    The domains and records, the fault rules and the request log live here;
    every public method may be called from any thread while it serves.
    """

    def __init__(self, host="127.0.0.1", port=0, token="test-token",
                 verbose=False):
        self.host, self._want_port, self.token = host, port, token
        self.verbose = verbose
        self._lock = threading.RLock()
        self._domains = {}   # id -> domain dict
        self._records = {}   # domain id -> {record id -> record dict}
        self._next_domain_id, self._next_record_id = 1000, 100000
        self._faults, self._next_fault_id = [], 1
        self._log = []
        self._stopping = threading.Event()
        self._server = self._thread = None

    # -- lifecycle

    def start(self):
        """Listens and serves; after a stop(), on the same port as before."""
        self._stopping.clear()
        self._server = TrackingHTTPServer((self.host, self._want_port),
                                          _Handler, self)
        self._want_port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fake-linode:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops serving and cuts open connections (slow answers included)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        """The port served (kept across stop/start); 0 before start()."""
        return self._want_port

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def url(self):
        """The API base URL, as `dns.api_url` takes it."""
        return self.base_url + "/v4"

    # -- seeding

    def add_domain(self, name, domain_id=None, **fields):
        """Adds a master domain; returns its id."""
        with self._lock:
            if domain_id is None:
                domain_id = self._next_domain_id
            if domain_id in self._domains:
                raise ValueError(f"domain id {domain_id} exists")
            self._next_domain_id = max(self._next_domain_id, domain_id + 1)
            domain = new_domain(domain_id, name)
            domain.update(fields)
            self._domains[domain_id] = domain
            self._records[domain_id] = {}
            return domain_id

    def add_record(self, domain_id, type, name, target, ttl_sec=0,
                   record_id=None, **fields):
        """Adds a record, validated and rounded like a POST; returns its id.

        `domain_id` may also be the domain name. Raises ValueError when the
        record would be refused by the API.
        """
        with self._lock:
            domain = self._domain(domain_id)
            if domain is None:
                raise ValueError(f"no domain {domain_id!r}")
            try:
                record = self._create_record(
                    domain, dict(fields, type=type, name=name, target=target,
                                 ttl_sec=ttl_sec), record_id=record_id)
            except ApiError as e:
                raise ValueError(json.dumps(e.body())) from None
            return record["id"]

    def seed(self, document):
        """Loads a seed document (see the module docstring); returns ids."""
        if not isinstance(document, dict):
            raise ValueError("a seed document is a mapping with `domains`")
        created = []
        for entry in document.get("domains", []):
            entry = dict(entry)
            records = entry.pop("records", [])
            name = entry.pop("domain")
            domain_id = self.add_domain(name, entry.pop("id", None), **entry)
            ids = []
            for rec in records:
                rec = dict(rec)
                ids.append(self.add_record(
                    domain_id, rec.pop("type"), rec.pop("name", ""),
                    rec.pop("target"), rec.pop("ttl_sec", 0),
                    record_id=rec.pop("id", None), **rec))
            created.append({"domain": name, "id": domain_id, "records": ids})
        return {"domains": created}

    # -- faults

    def fail(self, mode, count=1, path_regex=None, method=None,
             retry_after=1, delay=1.0, status=None, reason=None):
        """Adds a fault rule (see the module docstring); returns its id."""
        with self._lock:
            fault = Fault(mode, count, path_regex, method, retry_after, delay,
                          status, reason, id=self._next_fault_id)
            self._next_fault_id += 1
            self._faults.append(fault)
            return fault.id

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def faults(self):
        with self._lock:
            return [dataclasses.asdict(f) for f in self._faults]

    def _take_fault(self, method, path):
        """The first rule matching the request, used up by one; or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.count > 0:
                        fault.count -= 1
                    taken = dataclasses.replace(fault)
                    self._faults = [f for f in self._faults if f.count != 0]
                    return taken
            return None

    # -- inspection

    def requests(self, method=None, path_regex=None):
        """The logged API requests, oldest first, optionally filtered."""
        with self._lock:
            return [dict(e) for e in self._log
                    if (method is None or e["method"] == method.upper())
                    and (path_regex is None
                         or re.search(path_regex, e["path"]))]

    def clear_requests(self):
        with self._lock:
            self._log.clear()

    def put_count(self, ok_only=False):
        """How many PUTs reached the fake (only the 2xx ones if ok_only)."""
        return sum(1 for e in self.requests("PUT")
                   if not ok_only or (e["status"] or 0) // 100 == 2)

    def records(self, domain):
        """Copies of the records of a domain (id or name), by id."""
        with self._lock:
            found = self._domain(domain)
            if found is None:
                raise KeyError(domain)
            recs = self._records[found["id"]]
            return [dict(recs[rid]) for rid in sorted(recs)]

    def record(self, domain, name, type="A"):
        """The first record with that relative name and type, or None."""
        return next((r for r in self.records(domain)
                     if r["name"] == name and r["type"] == type), None)

    def domains(self):
        with self._lock:
            return [dict(self._domains[d]) for d in sorted(self._domains)]

    # -- request handling

    def _domain(self, key):
        """A domain by id (int or digit string) or name; caller holds lock."""
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            return self._domains.get(int(key))
        return next((d for d in self._domains.values()
                     if d["domain"] == key), None)

    def _handle(self, req):
        url = urllib.parse.urlsplit(req.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._handle_control(req, url)
            return
        entry = {"time": time.time(), "method": req.command, "path": url.path,
                 "query": url.query, "headers": self._redacted(req.headers),
                 "body": "", "status": None, "fault": None}
        try:
            try:
                body = req.read_body()
                entry["body"] = body.decode("utf-8", "replace")
            except ValueError:
                req.close_connection = True
                raise ApiError(400, "Malformed request body") from None
            fault = self._take_fault(req.command, url.path)
            if fault is not None:
                entry["fault"] = fault.mode
            answer = self._answer(req, url, body, fault)
        except ApiError as e:
            req.close_connection |= e.status == 413
            answer = e.status, e.body(), ()
        # Logged before the answer leaves, so a client that has its answer
        # always finds the request in the log.
        entry["status"] = answer[0] if answer else None
        with self._lock:
            self._log.append(entry)
        if answer is None:
            self._drop(req)
        else:
            req.send_json(*answer)

    def _answer(self, req, url, body, fault):
        """(status, body, headers) for an API request, or None to drop it."""
        if fault is None:
            return self._api(req, url, body)
        if fault.mode == "drop":
            return None
        if fault.mode == "slow":
            if self._stopping.wait(fault.delay):
                return None  # stopping: cut the connection
            if fault.status is None:
                return self._api(req, url, body)
        headers = []
        if fault.status == 429:
            headers.append(("Retry-After", str(fault.retry_after)))
        reason = fault.reason or http.HTTPStatus(fault.status).phrase
        return fault.status, {"errors": [{"reason": reason}]}, headers

    @staticmethod
    def _redacted(headers):
        return {name: "<redacted>" if name.lower() == "authorization"
                else value for name, value in headers.items()}

    @staticmethod
    def _drop(req):
        req.close_connection = True
        try:
            req.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _api(self, req, url, body):
        """Serves one authenticated API call: (status, body, headers).

        Works on the state under the lock, but answers outside it, so a slow
        client never holds up the others.
        """
        if not self._authorized(req.headers.get("Authorization")):
            raise ApiError(401, "Invalid Token")
        match = _API_PATH.match(url.path)
        if not match:
            raise _not_found()
        parts = [p for p in match.groups() if p is not None]
        query = urllib.parse.parse_qs(url.query)
        method, x_filter = req.command, req.headers.get("X-Filter")
        with self._lock:
            if len(parts) == 1:
                self._allow(method, "GET")
                return 200, self._list(self._domains.values(), x_filter,
                                       query, DOMAIN_FILTERABLE), ()
            domain = self._lookup(self._domains, parts[1])
            if len(parts) == 2:
                self._allow(method, "GET")
                return 200, dict(domain), ()
            records = self._records[domain["id"]]
            if len(parts) == 3:
                self._allow(method, "GET", "POST")
                if method == "GET":
                    return 200, self._list(records.values(), x_filter, query,
                                           RECORD_FILTERABLE), ()
                return 200, self._create_record(
                    domain, self._json_object(body), req.client_address[0]), ()
            record = self._lookup(records, parts[3])
            self._allow(method, "GET", "PUT", "DELETE")
            if method == "PUT":
                updated = dict(record)
                apply_record_fields(updated, self._json_object(body),
                                    domain["domain"], req.client_address[0])
                updated["updated"] = _now()
                records[record["id"]] = updated
                return 200, dict(updated), ()
            if method == "DELETE":
                del records[record["id"]]
                return 200, {}, ()
            return 200, dict(record), ()

    def _authorized(self, header):
        if not header or not header.startswith("Bearer "):
            return False
        return header[len("Bearer "):].strip() == self.token

    @staticmethod
    def _allow(method, *allowed):
        if method not in allowed:
            raise ApiError(405, "Method not allowed")

    @staticmethod
    def _lookup(table, segment):
        """table[int(segment)], or ApiError(404) like Linode."""
        found = table.get(int(segment)) if segment.isdigit() else None
        if found is None:
            raise _not_found()
        return found

    @staticmethod
    def _json_object(body):
        try:
            obj = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "Malformed JSON") from None
        if not isinstance(obj, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return obj

    @staticmethod
    def _list(items, x_filter, query, filterable):
        """Filters, sorts (by id unless +order_by) and paginates copies."""
        predicate, order_by, desc = parse_x_filter(x_filter, filterable)
        items = sorted((dict(i) for i in items if predicate(i)),
                       key=lambda i: i["id"])
        if order_by is not None:
            items.sort(key=lambda i: (i.get(order_by) is None,
                                      i.get(order_by) or ""), reverse=desc)
        return paginate(items, query)

    def _create_record(self, domain, body, remote_addr="127.0.0.1",
                       record_id=None):
        """Validates and stores a new record; caller holds the lock."""
        rtype = body.get("type")
        if rtype not in RECORD_TYPES:
            raise ApiError(400, "type must be one of " +
                           ", ".join(RECORD_TYPES), field="type")
        if "target" not in body:
            raise ApiError(400, "target is required", field="target")
        if record_id is None:
            record_id = self._next_record_id
        records = self._records[domain["id"]]
        if any(record_id in recs for recs in self._records.values()):
            raise ApiError(400, f"record id {record_id} exists", field="id")
        self._next_record_id = max(self._next_record_id, record_id + 1)
        record = new_record(record_id, rtype)
        apply_record_fields(record, body, domain["domain"], remote_addr)
        records[record_id] = record
        return dict(record)

    # -- control API

    def _handle_control(self, req, url):
        route = url.path[len(CONTROL_PREFIX):].strip("/")
        query = urllib.parse.parse_qs(url.query)
        arg = {k: v[-1] for k, v in query.items()}
        try:
            body = req.read_body()
            if (req.command, route) == ("POST", "faults"):
                spec = self._json_object(body)
                try:
                    fault_id = self.fail(**spec)
                except (TypeError, ValueError) as e:
                    raise ApiError(400, str(e)) from None
                req.send_json(200, {"id": fault_id})
            elif (req.command, route) == ("GET", "faults"):
                req.send_json(200, self.faults())
            elif (req.command, route) == ("DELETE", "faults"):
                self.clear_faults()
                req.send_json(200, {})
            elif (req.command, route) == ("GET", "requests"):
                req.send_json(200, self.requests(arg.get("method"),
                                                 arg.get("path_regex")))
            elif (req.command, route) == ("DELETE", "requests"):
                self.clear_requests()
                req.send_json(200, {})
            elif (req.command, route) == ("GET", "records"):
                req.send_json(200, self._records_document(arg.get("domain")))
            elif (req.command, route) == ("POST", "seed"):
                try:
                    req.send_json(200, self.seed(self._json_object(body)))
                except (AttributeError, KeyError, TypeError, ValueError) as e:
                    raise ApiError(400, f"bad seed: {e!r}") from None
            else:
                raise _not_found()
        except ApiError as e:
            req.send_json(e.status, e.body())
        except ValueError:  # an unreadable body
            req.close_connection = True
            req.send_json(400, {"errors": [{"reason": "Malformed body"}]})

    def _records_document(self, domain=None):
        with self._lock:
            if domain is not None:
                found = self._domain(domain)
                if found is None:
                    raise _not_found()
                names = [found["domain"]]
            else:
                names = [d["domain"] for d in self.domains()]
            return {name: self.records(name) for name in names}


# ---------------------------------------------------------------- CLI

def load_seed_file(path):
    """Reads a seed document from a .json or YAML file."""
    text = pathlib.Path(path).read_text()
    if path.endswith(".json"):
        return json.loads(text)
    import yaml  # only the CLI with a YAML seed needs it
    return yaml.safe_load(text) or {}


def _split_hostport(value):
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Fake Linode API v4 (DNS) with fault injection.")
    parser.add_argument("--listen", type=_split_hostport,
                        default=("127.0.0.1", 0), help="HOST:PORT (0 = pick)")
    parser.add_argument("--token", required=True,
                        help="the bearer token the fake accepts")
    parser.add_argument("--seed", help="seed document, .yml/.yaml or .json")
    parser.add_argument("--port-file", help="write the chosen port here")
    parser.add_argument("--verbose", action="store_true",
                        help="log every request to stderr")
    args = parser.parse_args(argv)

    fake = FakeLinode(*args.listen, token=args.token, verbose=args.verbose)
    if args.seed:
        fake.seed(load_seed_file(args.seed))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    fake.start()
    if args.port_file:
        tmp = pathlib.Path(args.port_file + ".tmp")
        tmp.write_text(f"{fake.port}\n")
        tmp.replace(args.port_file)
    print(f"listening on {fake.url}", flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
