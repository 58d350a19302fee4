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
    hang = (
        None  # a threading.Event: the lost call waits for it, never answered before (a hung Stripe)
    )

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        lost = self.lose == "*" or (
            self.command == "POST"
            and (
                path == "/v1/payment_intents"  # a create
                if self.lose == "create"
                else path.startswith("/v1/payment_intents/") and path.endswith(self.lose)
            )
        )
        # Stripe replays what it saved for an idempotency key it has seen, errors included
        # (localstripe ignores keys, and the SDK retries a lost call once with the same key).
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        with self.replayed_lock:
            saved = self.replayed.get(key) if key else None
        if lost:
            if saved is None and (self.acts or self.status >= 500):
                # What Stripe saves for the key: its answer if it ran the call, the 5xx if that
                # is what it answered (a 429 means it did not run it, and nothing is saved).
                answer = self._upstream(body) if self.acts else None
                if self.status >= 500 or answer is None:
                    answer = self._error()
                self._save(key, answer)
            self._lose()
        elif saved is not None:
            self._answer(*saved)
        else:
            answer = self._upstream(body)
            self._save(key, answer)
            self._answer(*answer)

    def _save(self, key: str | None, answer: tuple) -> None:
        if key:
            with self.replayed_lock:
                self.replayed.setdefault(key, answer)

    def _answer(self, status: int, headers: list, data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
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

    def _error(self) -> tuple[int, list, bytes]:
        """What Stripe sends for a server error (5xx) or a rate limit (429)."""
        kind = "rate_limit_error" if self.status == 429 else "api_error"
        body = json.dumps({"error": {"type": kind, "message": "Lost on the way."}}).encode()
        return self.status, [("Content-Type", "application/json")], body

    def _lose(self) -> None:
        self.close_connection = True
        if self.hang is not None:
            self.hang.wait(120)
            return
        if self.status:
            self._answer(*self._error())
        # else: we never hear back

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, *args):
        pass


@contextmanager
def answers_lost(
    settings, localstripe, *, lose: str, acts: bool = True, status: int = 0, hang: bool = False
) -> Iterator:
    """Point the SDK at a proxy that loses the answers to PaymentIntent calls ending in `lose`
    (`/confirm`, `/cancel`, `/capture`, or "create" for the create itself); `acts=False` loses
    the call itself too; `status` answers with that Stripe error (500, 503, 429) instead of
    closing the connection; `hang=True` never answers it at all (a hung Stripe: the connection
    stays open), and `lose="*"` loses every call. A key seen before gets Stripe's saved answer,
    as from Stripe.
    `server.stop_losing()` lets calls through again (the saved answers stay); Stripe answers
    directly again on leaving."""
    handler = type(
        "Handler",
        (_LosingProxy,),
        {
            "upstream": localstripe.api_base,
            "lose": lose,
            "acts": acts,
            "status": status,
            "hang": threading.Event() if hang else None,
            "replayed": {},
            "replayed_lock": threading.Lock(),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    server.stop_losing = lambda: setattr(handler, "lose", "/never-lost")
    try:
        yield server
    finally:
        if handler.hang is not None:
            handler.hang.set()
        server.shutdown()
        server.server_close()
        settings.STRIPE_API_BASE = localstripe.api_base
