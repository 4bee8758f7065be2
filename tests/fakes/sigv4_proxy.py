#!/usr/bin/python3
"""An HTTP proxy that checks AWS SigV4 signatures the way AWS does.

dynalite accepts any signature. Put this proxy in front of it and every
request is verified first: the signature is recomputed with botocore's own
signer (`botocore.auth.SigV4Auth`) over the headers the request says it
signed, and a request that fails gets AWS's error answer (HTTP 400, JSON
1.0 `__type`) instead of reaching dynalite:

    MissingAuthenticationTokenException  no Authorization header
    IncompleteSignatureException         malformed Authorization, or host /
                                         x-amz-date not signed
    UnrecognizedClientException          unknown access key id, or a wrong or
                                         missing session token
    InvalidSignatureException            wrong region/service scope, stale
                                         date, or a signature mismatch (the
                                         message quotes the canonical request
                                         and string to sign, as AWS does)

Module use:

    from sigv4_proxy import SigV4Proxy
    proxy = SigV4Proxy(upstream=dynalite.endpoint, region="eu-west-1",
                       access_key_id="AKID", secret_access_key="SECRET",
                       session_token="TOKEN").start()
    ... point the client at proxy.endpoint ...
    proxy.verified, proxy.rejected, proxy.last_rejection
    proxy.stop()

CLI: `sigv4_proxy.py --upstream URL --region R` with the keys in the
environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN);
prints `proxy http://127.0.0.1:P` and runs until SIGTERM/SIGINT.
"""

import argparse
import datetime
import hmac
import http.client
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/,\s]+)/(?P<date>\d{8})/"
    r"(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$")
_MAX_SKEW = datetime.timedelta(minutes=15)
_MAX_BODY = 1 << 20
# Hop-by-hop headers are not forwarded.
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "te", "trailer", "upgrade"}


class Rejected(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type, self.message = error_type, message


class SigV4Proxy:
    """Verifies SigV4 on each request, then forwards it to `upstream`.

    Owns its listening socket and serving thread. Counters are updated under
    a lock and may be read from any thread.
    """

    def __init__(self, upstream, region, access_key_id, secret_access_key,
                 session_token=None, service="dynamodb", host="127.0.0.1",
                 port=0):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.region, self.service = region, service
        self._credentials = Credentials(access_key_id, secret_access_key,
                                        session_token or None)
        self._address = (host, port)
        self._lock = threading.Lock()
        self.verified = 0
        self.rejected = 0
        self.last_rejection = None  # (error type, message)
        self._server = None
        self._thread = None

    @property
    def endpoint(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._server = ThreadingHTTPServer(self._address, self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True, name="sigv4-proxy")
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ checks

    def verify(self, method, path, headers, body, now=None):
        """Raises Rejected unless the request is validly signed.

        `headers` is a list of (name, value) as received.
        """
        by_name = {}
        for name, value in headers:
            by_name.setdefault(name.lower(), []).append(value)
        auth = by_name.get("authorization")
        if not auth:
            raise Rejected("MissingAuthenticationTokenException",
                           "Missing Authentication Token")
        m = _AUTH_RE.match(auth[0].strip())
        if m is None:
            raise Rejected("IncompleteSignatureException",
                           "Authorization header requires 'Credential', "
                           "'Signature' and 'SignedHeaders' parameters.")
        if m["akid"] != self._credentials.access_key:
            raise Rejected("UnrecognizedClientException",
                           "The security token included in the request is "
                           "invalid.")
        token = by_name.get("x-amz-security-token", [None])[0]
        if token != self._credentials.token:
            raise Rejected("UnrecognizedClientException",
                           "The security token included in the request is "
                           "invalid.")
        if m["region"] != self.region or m["service"] != self.service:
            raise Rejected("InvalidSignatureException",
                           f"Credential should be scoped to a valid region "
                           f"and service: expected {self.region}/"
                           f"{self.service}, not {m['region']}/"
                           f"{m['service']}.")
        signed = m["signed"].split(";")
        for required in ("host", "x-amz-date"):
            if required not in signed:
                raise Rejected("IncompleteSignatureException",
                               f"'{required}' must be a signed header.")
        if token is not None and "x-amz-security-token" not in signed:
            raise Rejected("IncompleteSignatureException",
                           "'x-amz-security-token' must be a signed header.")
        for name in signed:
            if name not in by_name:
                raise Rejected("IncompleteSignatureException",
                               f"Signed header '{name}' is missing.")
        amz_date = by_name["x-amz-date"][0]
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise Rejected("IncompleteSignatureException",
                           f"Invalid X-Amz-Date '{amz_date}'.") from None
        now = now or datetime.datetime.utcnow()
        if abs(now - when) > _MAX_SKEW:
            raise Rejected("InvalidSignatureException",
                           "Signature expired: the request time is more "
                           "than 15 minutes from the server time.")
        if m["date"] != amz_date[:8]:
            raise Rejected("InvalidSignatureException",
                           "Credential date does not match X-Amz-Date.")

        # botocore signs whatever headers the AWSRequest holds: give it
        # exactly the signed ones.
        request = AWSRequest(
            method=method,
            url=f"http://{by_name['host'][0]}{path}",
            data=body,
            headers={name: ",".join(by_name[name]) for name in signed})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(self._credentials, self.service, self.region)
        if signer.signed_headers(signer.headers_to_sign(request)) != \
                m["signed"]:
            raise Rejected("IncompleteSignatureException",
                           f"SignedHeaders '{m['signed']}' holds a header "
                           "the verifier cannot sign.")
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, m["signature"]):
            raise Rejected(
                "InvalidSignatureException",
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key "
                "and signing method. Consult the service documentation for "
                "details.\n\nThe Canonical String for this request should "
                f"have been\n'{canonical}'\n\nThe String-to-Sign should "
                f"have been\n'{string_to_sign}'\n")

    # ----------------------------------------------------------- serving

    def _count(self, ok, rejection=None):
        with self._lock:
            if ok:
                self.verified += 1
            else:
                self.rejected += 1
                self.last_rejection = rejection

    def _forward(self, method, path, headers, body):
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP and \
                        name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return (response.status, response.getheader("Content-Type"),
                    response.read())
        finally:
            connection.close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status, content_type, payload):
                self.send_response(status)
                self.send_header("Content-Type",
                                 content_type or "application/octet-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amzn-RequestId", "sigv4-proxy")
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self.close_connection = True
                    return self._answer(413, "text/plain", b"too large\n")
                body = self.rfile.read(length)
                headers = list(self.headers.items())
                try:
                    proxy.verify(self.command, self.path, headers, body)
                except Rejected as e:
                    proxy._count(False, (e.error_type, e.message))
                    payload = json.dumps({
                        "__type": "com.amazon.coral.service#" + e.error_type,
                        "message": e.message}).encode()
                    return self._answer(400, "application/x-amz-json-1.0",
                                        payload)
                proxy._count(True)
                try:
                    status, content_type, payload = proxy._forward(
                        self.command, self.path, headers, body)
                except OSError as e:
                    return self._answer(502, "text/plain",
                                        f"upstream: {e}\n".encode())
                self._answer(status, content_type, payload)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, fmt, *args):
                pass

        return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    proxy = SigV4Proxy(args.upstream, args.region,
                       os.environ["AWS_ACCESS_KEY_ID"],
                       os.environ["AWS_SECRET_ACCESS_KEY"],
                       os.environ.get("AWS_SESSION_TOKEN"),
                       host=host, port=int(port)).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"proxy {proxy.endpoint}", flush=True)
    stop.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
