"""What the HTTP fakes share: a threading server that can cut its open
keep-alive connections (so a stopped or "closed" fake is really gone).
"""

import socket
import sys
import threading
from http.server import ThreadingHTTPServer


class ClosableServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that tracks its open connections. `owner` is
    whatever object the handlers call back into."""
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, owner):
        self.owner = owner
        self._open = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a bug: print it
