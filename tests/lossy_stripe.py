"""A Stripe whose answers are lost on the way back: a proxy in front of localstripe that drops
the answer to chosen PaymentIntent calls, after Stripe acted on them (or before, if told)."""

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class _LosingProxy(BaseHTTPRequestHandler):
    upstream = ""
    lose = "/confirm"  # a POST to a PaymentIntent path ending in this loses its answer
    acts = True  # whether Stripe gets the call whose answer is lost
    status = 0  # answer the lost call with this HTTP status (a Stripe error) instead of nothing

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        lost = self.command == "POST" and (
            path == "/v1/payment_intents"  # a create
            if self.lose == "create"
            else path.startswith("/v1/payment_intents/") and path.endswith(self.lose)
        )
        if lost and not self.acts:
            self._lose()  # the call never reached Stripe
            return
        # Stripe replays its saved answer for a key it has seen (localstripe ignores keys, and
        # the SDK retries a lost call once with the same key): so does the proxy.
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        with self.replayed_lock:
            answer = self.replayed.get(key) if key else None
        if answer is None:
            answer = self._upstream(body)
            if key:
                with self.replayed_lock:
                    answer = self.replayed.setdefault(key, answer)
        if lost:
            self._lose()  # Stripe did it
            return
        status, response_headers, data = answer
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _upstream(self, body: bytes) -> tuple[int, list, bytes]:
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()

    def _lose(self):
        self.close_connection = True
        if not self.status:
            return  # we never hear back
        # What Stripe sends for a server error (500) or a rate limit (429).
        kind = "rate_limit_error" if self.status == 429 else "api_error"
        body = json.dumps({"error": {"type": kind, "message": "Lost on the way."}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, *args):
        pass


@contextmanager
def answers_lost(
    settings, localstripe, *, lose: str, acts: bool = True, status: int = 0
) -> Iterator:
    """Point the SDK at a proxy that loses the answers to PaymentIntent calls ending in `lose`
    (`/confirm`, `/cancel`, `/capture`, or "create" for the create itself); `acts=False` loses
    the call itself too; `status` answers with that Stripe error (500, 503, 429) instead of
    closing the connection. A key seen before gets Stripe's saved answer, as from Stripe. Stripe
    answers normally again on leaving."""
    handler = type(
        "Handler",
        (_LosingProxy,),
        {
            "upstream": localstripe.api_base,
            "lose": lose,
            "acts": acts,
            "status": status,
            "replayed": {},
            "replayed_lock": threading.Lock(),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        settings.STRIPE_API_BASE = localstripe.api_base
