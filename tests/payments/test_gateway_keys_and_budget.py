"""The gateway's idempotency keys (prefixed per installation) and its time budget."""

import time

import pytest

from payments import gateway
from payments.gateway import request_options
from payments.models import Installation

pytestmark = pytest.mark.django_db


def test_every_key_carries_this_installation_and_a_retry_reuses_it():
    first = request_options("payment:1:create")["idempotency_key"]
    again = request_options("payment:1:create")["idempotency_key"]
    installation = Installation.objects.get()

    assert first == again == f"{installation.installation_id}:payment:1:create"
    assert len(installation.installation_id) == 16


def test_two_databases_on_one_account_never_send_the_same_key():
    ours = request_options("payment:1:create")["idempotency_key"]
    Installation.objects.filter(pk=1).update(installation_id="0123456789abcdef")  # another db

    theirs = request_options("payment:1:create")["idempotency_key"]

    assert theirs == "0123456789abcdef:payment:1:create" and theirs != ours


def test_in_a_budget_calls_share_the_time_left_and_are_never_retried_by_the_sdk(settings):
    settings.STRIPE_CONNECT_TIMEOUT_SECONDS = 3
    settings.STRIPE_TIMEOUT_SECONDS = 20
    outside = gateway.client()
    assert request_options()["max_network_retries"] == settings.STRIPE_MAX_NETWORK_RETRIES

    with gateway.call_budget(10):
        inside = gateway.client()
        assert request_options()["max_network_retries"] == 0
    assert inside is not outside
    with gateway.call_budget(0.5), pytest.raises(gateway.GatewayUnavailable):
        gateway.client()  # no time left: refused before anything is sent


def test_a_budget_bounds_the_time_of_a_call_to_a_stripe_that_never_answers(settings):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # connections are accepted by the kernel and never answered
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        began = time.monotonic()
        with gateway.call_budget(3), pytest.raises(gateway.GatewayUnavailable):
            gateway.payment_intent_retrieve("pi_hung")
        assert time.monotonic() - began < 3.5
    finally:
        listener.close()
