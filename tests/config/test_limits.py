"""config.limits: django-ratelimit on the real Redis cache, failing open when Redis hangs.

The hung Redis is a listening socket that accepts connections and never answers (what a
SIGSTOPped Redis looks like from outside), used as the cache; the broker keeps the real one.
"""

import logging
import socket
import threading
import time

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from config.limits import client_key, limit_exceeded, limit_usage
from leads.models import Lead
from tests.leads.factories import lead_form_data


@pytest.fixture
def hung_redis(settings):
    """The cache pointed at a socket that accepts and then never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{port}/1",
        }
    }
    caches["default"].close()
    yield accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_limit_counts_per_client_and_refuses_past_its_rate():
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.50")
    other = RequestFactory().post("/", REMOTE_ADDR="192.0.2.51")
    verdicts = [limit_exceeded(request, group="t", key=client_key, rate=(3, 60)) for _ in range(4)]
    assert verdicts == [False, False, False, True]
    assert not limit_exceeded(other, group="t", key=client_key, rate=(3, 60))
    assert limit_usage(None, group="t", key="a-value", rate=(3, 60)) == 1
    assert limit_usage(None, group="t", key="a-value", rate=(3, 60), increment=False) == 1


def test_a_hung_cache_costs_a_limit_a_fraction_of_a_second_and_lets_the_request_through(
    hung_redis, caplog
):
    caplog.set_level(logging.WARNING, logger="config.limits")
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.60")

    started = time.monotonic()
    assert limit_exceeded(request, group="t", key=client_key, rate=(0, 60)) is False
    assert time.monotonic() - started < 1.5
    assert hung_redis, "the cache never reached the hung socket"
    assert "Limit t not applied: the cache cannot be reached" in caplog.text


@pytest.mark.django_db
def test_with_redis_hung_every_lead_form_and_api_post_is_stored(client, hung_redis, settings):
    settings.LEADS_RATE_LIMIT_PER_IP = 0  # would refuse everything, if it could count

    started = time.monotonic()
    form = client.post("/start/", lead_form_data(email="hung-form@example.com"))
    api = client.post(
        "/api/v1/leads/",
        {"email": "hung-api@example.com", "name": "Ada", "consents": {"terms": True}},
        content_type="application/json",
    )
    elapsed = time.monotonic() - started

    assert (form.status_code, api.status_code) == (303, 201)
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "hung-form@example.com",
        "hung-api@example.com",
    }
    # Each post pays at most one socket timeout: the first limit that fails skips the rest.
    assert elapsed < 3, elapsed
