import json
import time

import pytest

from payments.models import WebhookEvent
from tests.payments.factories import signed
from tests.stripe_helpers import sign, stripe_event, stripe_object

pytestmark = pytest.mark.django_db


def _post(client, body: bytes, signature: str | None):
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post(
        "/webhooks/stripe/", data=body, content_type="application/json", headers=headers
    )


def _event_body() -> bytes:
    return json.dumps(
        stripe_event("payment_intent.created", stripe_object("payment_intent"))
    ).encode()


def test_a_signed_event_is_stored_once_and_acknowledged(
    client, settings, django_capture_on_commit_callbacks
):
    body = _event_body()
    with django_capture_on_commit_callbacks() as callbacks:
        first = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))
    second = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert first.status_code == 200
    assert second.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert len(callbacks) == 1  # processing is enqueued once, on commit


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=abc",
        "t={now},v1=0000",
    ],
)
def test_bad_signatures_are_refused_and_store_nothing(client, signature):
    body = _event_body()
    if signature:
        signature = signature.format(now=int(time.time()))
    response = _post(client, body, signature)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_wrong_secret_is_refused(client):
    body = _event_body()
    assert _post(client, body, sign(body, "whsec_someone_else")).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_stale_and_future_timestamps_are_refused(client, settings):
    body = _event_body()
    now = int(time.time())
    stale = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET, timestamp=now - 310))
    future = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET, timestamp=now + 310))

    assert stale.status_code == 400
    assert future.status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"this is not json", "body is not JSON"),
        (b"", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"type": "x"}', "event has no id"),
        (b'{"id": 5, "type": "x"}', "event has no id"),
        (b'{"id": "evt_1", "type": "x", "created": "yesterday", "data": {"object": {}}}',
         "event created is not a Unix time"),
        (b'{"id": "evt_2", "type": "x", "created": 1, "data": []}',
         "event data.object is not an object"),
        (b'{"id": "evt_3", "type": "x", "created": 1, "data": {"object": {}}}\x00',
         "body is not JSON"),
    ],
)  # fmt: skip
def test_a_signed_body_that_is_not_an_event_is_kept_as_a_dead_letter_and_acknowledged(
    client, settings, body, reason, django_capture_on_commit_callbacks
):
    signature = sign(body, settings.STRIPE_WEBHOOK_SECRET)
    with django_capture_on_commit_callbacks() as callbacks:
        first = _post(client, body, signature)
    again = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert first.status_code == 200
    assert again.status_code == 200
    stored = WebhookEvent.objects.get()  # a redelivery of the same bytes is the same letter
    assert bytes(stored.body) == body
    assert stored.status == WebhookEvent.Status.DEAD
    assert reason in stored.last_error
    assert stored.stripe_event_id.startswith("malformed:")
    assert callbacks == []  # nothing to process


def test_a_nul_in_a_string_is_stored_exactly_and_the_event_is_processed(
    client, settings, celery_eager, django_capture_on_commit_callbacks
):
    event = stripe_event("payment_intent.created", stripe_object("payment_intent"))
    event["data"]["object"]["description"] = "before\u0000after"
    body = json.dumps(event).encode()
    assert b"\\u0000" in body

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert bytes(stored.body) == body
    assert stored.payload["data"]["object"]["description"] == "before\ufffdafter"
    assert stored.status == WebhookEvent.Status.IGNORED  # processed: no handler for its type


def test_an_event_at_another_api_version_is_flagged(client, settings):
    event = stripe_event("payment_intent.created", stripe_object("payment_intent"))
    other = dict(event, id="evt_other_version", api_version="2024-06-20")
    for item in (event, other):
        body = json.dumps(item).encode()
        assert _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET)).status_code == 200

    flagged = WebhookEvent.objects.filter(api_version_mismatch=True)
    assert [e.stripe_event_id for e in flagged] == ["evt_other_version"]
    assert WebhookEvent.objects.get(stripe_event_id=event["id"]).api_version_mismatch is False


def test_a_replayed_dead_letter_stays_dead_with_its_reason(
    client, settings, celery_eager, django_capture_on_commit_callbacks
):
    from payments.services.inbox import webhook_event_replay

    body = b'{"id": "evt_1", "type": "x", "created": "yesterday", "data": {"object": {}}}'
    _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))
    letter = WebhookEvent.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_replay(event_id=letter.pk, actor=None)

    letter.refresh_from_db()
    assert letter.status == WebhookEvent.Status.DEAD
    assert "created is not a Unix time" in letter.last_error


def test_a_body_over_one_megabyte_is_refused_with_413(client, settings):
    body = b'{"id": "evt_big", "type": "x", "pad": "' + b"a" * 1_100_000 + b'"}'
    response = _post(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_the_endpoint_answers_post_itself_and_never_redirects(client):
    # Stripe counts a 3xx as a failed delivery.
    response = client.post("/webhooks/stripe/", data=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert client.get("/webhooks/stripe/").status_code == 405


def test_the_url_without_the_trailing_slash_is_the_same_endpoint_without_a_redirect(
    client, settings
):
    # A merchant may type the endpoint into the Stripe Dashboard without the slash; a 301 there
    # would be a failed delivery for every event.
    body, signature = signed(
        stripe_event("payment_intent.created", stripe_object("payment_intent")),
        settings.STRIPE_WEBHOOK_SECRET,
    )
    without = _post_to(client, "/webhooks/stripe", body, signature)
    again_with = _post_to(client, "/webhooks/stripe/", body, signature)

    assert without.status_code == 200
    assert again_with.status_code == 200
    assert WebhookEvent.objects.get().stripe_event_id == json.loads(body)["id"]
    assert client.get("/webhooks/stripe").status_code == 405


def test_refusals_are_logged_with_the_reason(client, settings, caplog):
    body = _event_body()
    with caplog.at_level("WARNING"):
        _post(client, body, sign(body, "whsec_wrong"))
        _post(client, b"not json", sign(b"not json", settings.STRIPE_WEBHOOK_SECRET))
    refused = [r.getMessage() for r in caplog.records if r.name == "payments.views"]
    kept = [r.getMessage() for r in caplog.records if r.name == "payments.webhooks"]
    assert any("signature" in m for m in refused)
    assert any("dead letter: body is not JSON" in m for m in kept)


def test_a_tampered_body_is_refused(client, settings):
    body = _event_body()
    signature = sign(body, settings.STRIPE_WEBHOOK_SECRET)
    assert _post(client, body.replace(b"evt_", b"evt_x"), signature).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_rotated_secret_header_with_one_valid_signature_is_accepted(client, settings):
    body = _event_body()
    good = sign(body, settings.STRIPE_WEBHOOK_SECRET)
    other = sign(body, "whsec_old").split(",")[1]
    assert _post(client, body, f"{good},{other}").status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_the_raw_bytes_are_verified_whatever_the_content_type(client, settings):
    body = _event_body()
    response = client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="text/plain",
        headers={"Stripe-Signature": sign(body, settings.STRIPE_WEBHOOK_SECRET)},
    )
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.payload["type"] == "payment_intent.created"
    assert stored.object_id == stored.payload["data"]["object"]["id"]


def test_the_bench_view_does_not_exist_outside_the_bench(client, settings):
    body = _event_body()
    sig = sign(body, settings.STRIPE_WEBHOOK_SECRET)
    assert _post_to(client, "/bench/webhook-minimal/", body, sig).status_code == 404
    settings.ROOT_URLCONF = "devtools.bench.urls"  # what `make bench` serves
    assert _post_to(client, "/bench/webhook-minimal/", body, sig).status_code == 200
    assert WebhookEvent.objects.count() == 1


def _post_to(client, path, body, signature):
    return client.post(
        path, data=body, content_type="application/json", headers={"Stripe-Signature": signature}
    )
