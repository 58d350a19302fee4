"""A Stripe peer of these tests' own: they send what Stripe refuses on purpose, and the session's
peer records every request for the contract test, which must see only the gateway's."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from devtools.embedded import EmbeddedLocalstripe, free_port

SECRET_KEY = "sk_test_peer_tests"


@pytest.fixture(scope="module")
def peer_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("peer") / "peer.log"
    server = EmbeddedLocalstripe(free_port(), log_path=log, webhook_delay=0.05)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def peer(peer_server):
    peer_server.flush()
    return peer_server


@pytest.fixture
def client(peer) -> stripe.StripeClient:
    return stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": peer.api_base},
        max_network_retries=0,
        stripe_version=stripe.api_version,
    )


def raw(peer, method: str, path: str, params: dict | None = None, *, headers=None):
    """One request as sent on the wire, and Stripe's answer as (status, headers, JSON body)."""
    data = urllib.parse.urlencode(params or {}).encode()
    url = f"{peer.api_base}{path}"
    if method == "GET" and params:
        url, data = f"{url}?{data.decode()}", None
    request = urllib.request.Request(
        url,
        data=data if method == "POST" else None,
        method=method,
        headers={"Authorization": f"Bearer {SECRET_KEY}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


class Receiver:
    """An HTTP endpoint that keeps every webhook delivery it gets."""

    def __init__(self):
        self.deliveries: list[tuple[str, dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.deliveries.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, path: str = "") -> list[dict]:
        return [json.loads(body) for at, _, body in self.deliveries if at.startswith(path)]

    def wait_for(self, event_type: str, *, path: str = "", timeout: float = 5) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(path):
                if event["type"] == event_type:
                    return event
            time.sleep(0.02)
        pytest.fail(f"no {event_type} reached {path or '/'}: {[e['type'] for e in self.events()]}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
