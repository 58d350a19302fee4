"""A Stripe answer lost on the way back: the payment is `unknown`, then reconciled by retrieving
it, never by creating a second PaymentIntent."""

import http.client
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from checkout.services.checkout import checkout_pay, checkout_refresh
from checkout.services.orders import order_create
from payments import gateway
from payments.models import Payment
from tests.checkout.cards import VISA, card_payment_method
from tests.checkout.factories import OfferFactory

pytestmark = pytest.mark.django_db(transaction=True)


class _LosingProxy(BaseHTTPRequestHandler):
    """Forwards to localstripe; for a PaymentIntent confirm, drops the answer after Stripe acted."""

    upstream = ""

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if (
            self.command == "POST"
            and self.path.startswith("/v1/payment_intents/")
            and self.path.endswith("/confirm")
        ):
            self.close_connection = True
            return  # Stripe did it; we never hear back
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def lossy_stripe(localstripe, settings):
    handler = type("Handler", (_LosingProxy,), {"upstream": localstripe.api_base})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
    settings.STRIPE_API_BASE = localstripe.api_base


def test_a_lost_confirm_answer_is_reconciled_without_a_second_intent(
    lossy_stripe, localstripe, settings
):
    order = order_create(
        offer=OfferFactory(), checkout_token=uuid.uuid4(), email="tim@example.com", name="Tim",
        billing_country="GB",
    )  # fmt: skip
    pm = card_payment_method(VISA)

    outcome = checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None)
    assert outcome.status == Payment.Status.UNKNOWN
    # The buyer clicks again: same attempt, same row, no new intent.
    assert (
        checkout_pay(order_id=order.pk, payment_method_id=pm, ip=None).payment.pk
        == outcome.payment.pk
    )

    settings.STRIPE_API_BASE = localstripe.api_base  # Stripe answers again
    refreshed = checkout_refresh(order_id=order.pk)
    assert refreshed.status == Payment.Status.SUCCEEDED
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("order_id") == str(order.pk)
    ]  # fmt: skip
    assert len(intents) == 1 and Payment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == "paid"
