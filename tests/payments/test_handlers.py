"""Each Stripe event type, delivered signed through the real endpoint and processed by the task
(eagerly). The gateway points at localstripe, so a re-fetch asks a real (offline) Stripe."""

import itertools
import time

import pytest

from payments import gateway
from payments.models import (
    Discrepancy,
    Dispute,
    Payment,
    PaymentEvent,
    Refund,
    WebhookEvent,
)
from payments.services.inbox import webhook_event_replay
from tests.payments.factories import (
    charge_object,
    customer_create,
    intent_event,
    payment_create,
)
from tests.stripe_helpers import stripe_event, stripe_object

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _status(payment) -> str:
    return Payment.objects.get(pk=payment.pk).status


def test_succeeded_moves_the_payment_records_history_and_signals_once(
    deliver, localstripe, money_signals
):
    payment = payment_create()
    event = intent_event(payment, "payment_intent.succeeded")

    assert deliver(event).status_code == 200
    assert deliver(event).status_code == 200  # a redelivery

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == payment.amount
    history = PaymentEvent.objects.get(payment=payment)
    assert (history.from_status, history.to_status, history.outcome) == (
        "processing",
        "succeeded",
        "applied",
    )
    assert history.cause == "payment_intent.succeeded"
    assert history.stripe_event_id == event["id"]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert money_signals == [("payment_succeeded", payment.pk, "succeeded")]


def test_payment_failed_keeps_the_codes(deliver, localstripe, money_signals):
    payment = payment_create()
    deliver(intent_event(payment, "payment_intent.payment_failed"))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert (payment.failure_code, payment.decline_code) == ("card_declined", "insufficient_funds")
    assert money_signals == [("payment_failed", payment.pk, "failed")]


@pytest.mark.parametrize(
    ("event_type", "start", "expected"),
    [
        ("payment_intent.processing", "requires_payment_method", "processing"),
        ("payment_intent.requires_action", "requires_payment_method", "requires_action"),
        ("payment_intent.canceled", "requires_payment_method", "canceled"),
        ("payment_intent.amount_capturable_updated", "processing", "authorized"),
    ],
)
def test_other_intent_events(deliver, localstripe, event_type, start, expected):
    payment = payment_create(status=start)
    deliver(intent_event(payment, event_type))
    assert _status(payment) == expected


def test_a_hold_canceled_by_stripe_signals_canceled_once(deliver, localstripe, money_signals):
    # An uncaptured authorisation expires after about 7 days (or is canceled in the Dashboard):
    # the apps above must hear of it, as they heard of the authorisation.
    payment = payment_create(
        status=Payment.Status.AUTHORIZED, capture_method=Payment.CaptureMethod.MANUAL
    )
    event = intent_event(payment, "payment_intent.canceled")

    assert deliver(event).status_code == 200
    assert deliver(event).status_code == 200  # a redelivery

    assert _status(payment) == Payment.Status.CANCELED
    assert money_signals == [("payment_canceled", payment.pk, "canceled")]


ORDER = [
    ("payment_intent.processing", 0),
    ("payment_intent.payment_failed", 1),
    ("payment_intent.succeeded", 2),
]


@pytest.mark.parametrize("order", list(itertools.permutations(ORDER)), ids=str)
def test_every_order_of_processing_failed_succeeded_ends_succeeded(
    deliver, localstripe, money_signals, order
):
    payment = payment_create(status=Payment.Status.REQUIRES_PAYMENT_METHOD)
    now = int(time.time())
    for event_type, offset in order:
        assert deliver(intent_event(payment, event_type, created=now + offset)).status_code == 200

    assert _status(payment) == Payment.Status.SUCCEEDED
    assert money_signals.counts()[("payment_succeeded", payment.pk)] == 1
    assert PaymentEvent.objects.filter(payment=payment).count() >= 3
    assert WebhookEvent.objects.filter(status="processed").count() == 3


@pytest.mark.parametrize("order", list(itertools.permutations(ORDER[:2])), ids=str)
def test_every_order_of_processing_then_failed_ends_failed(deliver, localstripe, order):
    payment = payment_create(status=Payment.Status.REQUIRES_PAYMENT_METHOD)
    now = int(time.time())
    for event_type, offset in order:
        deliver(intent_event(payment, event_type, created=now + offset))
    assert _status(payment) == Payment.Status.FAILED


def test_a_stale_event_is_recorded_as_stale(deliver, localstripe):
    payment = payment_create()
    now = int(time.time())
    deliver(intent_event(payment, "payment_intent.payment_failed", created=now))
    deliver(intent_event(payment, "payment_intent.processing", created=now - 5))

    assert _status(payment) == Payment.Status.FAILED
    stale = PaymentEvent.objects.get(payment=payment, outcome="stale")
    assert stale.to_status == "processing"


def test_a_refused_event_re_fetches_the_intent_from_stripe(deliver, localstripe):
    # Stripe (localstripe) says the intent succeeded; we only heard it failed.
    real = gateway.payment_intent_create(
        amount=4_200,
        currency="eur",
        metadata={},
        idempotency_key="t:refetch",
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert real.status == "succeeded"
    payment = payment_create(
        stripe_payment_intent_id=real.id, status=Payment.Status.FAILED, amount=4_200
    )

    deliver(intent_event(payment, "payment_intent.processing"))

    assert _status(payment) == Payment.Status.SUCCEEDED
    causes = list(PaymentEvent.objects.filter(payment=payment).values_list("cause", "outcome"))
    assert causes == [("payment_intent.processing", "refused"), ("refetch", "applied")]


def test_succeeded_never_regresses(deliver, localstripe):
    payment = payment_create(status=Payment.Status.SUCCEEDED)
    deliver(intent_event(payment, "payment_intent.payment_failed", created=int(time.time()) + 60))
    deliver(intent_event(payment, "payment_intent.processing", created=int(time.time()) + 61))
    assert _status(payment) == Payment.Status.SUCCEEDED


def test_an_event_for_an_unknown_intent_is_kept_marked_and_replayable(deliver, localstripe):
    ghost = Payment(
        stripe_payment_intent_id="pi_not_ours_yet", amount=500, currency="eur", pk=10_000_001
    )
    event = intent_event(ghost, "payment_intent.succeeded")
    event["data"]["object"]["metadata"] = {}

    assert deliver(event).status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.unmatched) == ("ignored", True)
    assert "pi_not_ours_yet" in stored.last_error
    assert stored.object_id == "pi_not_ours_yet"

    payment = payment_create(stripe_payment_intent_id="pi_not_ours_yet", amount=500)
    webhook_event_replay(event_id=stored.pk, actor=None)

    stored.refresh_from_db()
    assert (stored.status, stored.unmatched) == ("processed", False)
    assert _status(payment) == Payment.Status.SUCCEEDED


def test_an_event_that_overtakes_our_commit_is_matched_by_metadata(deliver, localstripe):
    payment = payment_create(stripe_payment_intent_id=None, status=Payment.Status.UNKNOWN)
    event = intent_event(payment, "payment_intent.succeeded", id="pi_fresh_from_stripe")

    deliver(event)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.stripe_payment_intent_id == "pi_fresh_from_stripe"


@pytest.mark.parametrize(
    ("fields", "kind"),
    [({"currency": "usd"}, "currency_mismatch"), ({"amount": 99}, "amount_mismatch")],
)
def test_an_intent_that_differs_from_our_row_opens_a_discrepancy(
    deliver, localstripe, fields, kind
):
    payment = payment_create()
    deliver(intent_event(payment, "payment_intent.succeeded", **fields))
    deliver(intent_event(payment, "payment_intent.succeeded", **fields))  # another event id

    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.payment_id, discrepancy.status) == (
        kind,
        payment.pk,
        "open",
    )
    assert discrepancy.detail["expected_amount"] == payment.amount


def test_unknown_event_types_are_ignored(deliver, localstripe):
    deliver(stripe_event("customer.created", stripe_object("customer")))
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def _refund(payment, **fields):
    obj = stripe_object(
        "refund",
        amount=payment.amount,
        currency=payment.currency,
        payment_intent=payment.stripe_payment_intent_id,
        status="succeeded",
    )
    obj.update(fields)
    return obj


def test_refunds_issued_at_stripe_get_rows_and_the_charge_gives_the_total(
    deliver, localstripe, money_signals
):
    payment = payment_create(status=Payment.Status.SUCCEEDED, amount_received=12_500)
    now = int(time.time())
    charge = charge_object(payment, amount_refunded=2_500, refunded=False)
    assert "refunds" not in charge  # the shape at the pinned version (no embedded list)

    deliver(stripe_event("refund.created", _refund(payment, id="re_a", amount=2_500), created=now))
    deliver(stripe_event("charge.refunded", charge, created=now))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 2_500)
    assert Refund.objects.get(stripe_refund_id="re_a").reason.startswith("Issued at Stripe")

    # The charge's news may overtake the refund's: the total is right either way.
    full = dict(charge, amount_refunded=12_500, refunded=True)
    deliver(stripe_event("charge.refunded", full, created=now + 1))
    deliver(
        stripe_event("refund.created", _refund(payment, id="re_b", amount=10_000), created=now + 1)
    )
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", 12_500)
    assert sorted(Refund.objects.values_list("stripe_refund_id", "amount")) == [
        ("re_a", 2_500),
        ("re_b", 10_000),
    ]
    assert [s for s in money_signals if s[0] == "payment_refunded"] == [
        ("payment_refunded", payment.pk, "partially_refunded"),
        ("payment_refunded", payment.pk, "refunded"),
    ]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.parametrize("event_type", ["refund.failed", "refund.updated"])
def test_a_refund_that_fails_later_corrects_the_refunded_amount(deliver, localstripe, event_type):
    payment = payment_create(
        status=Payment.Status.PARTIALLY_REFUNDED, amount_received=12_500, amount_refunded=2_500
    )
    Refund.objects.create(
        payment=payment,
        idempotency_key="x",
        stripe_refund_id="re_fails",
        amount=2_500,
        currency="eur",
        reason="goodwill",
        status="succeeded",
    )
    deliver(
        stripe_event(event_type, _refund(payment, id="re_fails", amount=2_500, status="failed"))
    )

    payment.refresh_from_db()
    assert Refund.objects.get().status == "failed"
    assert payment.amount_refunded == 0
    assert payment.status == "partially_refunded"  # never back to succeeded by itself
    assert PaymentEvent.objects.get(payment=payment).cause == event_type


def test_a_refund_of_our_own_is_matched_by_its_metadata(deliver, localstripe):
    payment = payment_create(status=Payment.Status.SUCCEEDED, amount_received=12_500)
    ours = Refund.objects.create(
        payment=payment, idempotency_key="staff:1", amount=4_000, currency="eur", reason="late"
    )
    deliver(
        stripe_event(
            "refund.created",
            _refund(payment, id="re_ours", amount=4_000, metadata={"refund_id": str(ours.pk)}),
        )
    )
    ours.refresh_from_db()
    assert (ours.stripe_refund_id, ours.status) == ("re_ours", "succeeded")
    assert Refund.objects.count() == 1
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 4_000


def _succeeded_at_stripe(localstripe) -> Payment:
    """A payment Stripe took, whose success we have not heard of yet (its event is late)."""
    intent = gateway.payment_intent_create(
        amount=12_500,
        currency="eur",
        payment_method="pm_card_visa",
        confirm=True,
        metadata={},
        idempotency_key=f"test:{time.monotonic_ns()}",
    )
    assert intent.status == "succeeded"
    return payment_create(stripe_payment_intent_id=intent.id, status=Payment.Status.PROCESSING)


def test_a_refund_before_the_success_applies_the_success_from_stripe_first(
    deliver, localstripe, money_signals
):
    payment = _succeeded_at_stripe(localstripe)
    charge = charge_object(payment, amount_refunded=12_500, refunded=True)

    assert deliver(stripe_event("charge.refunded", charge)).status_code == 200

    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", 12_500)
    history = list(
        PaymentEvent.objects.filter(payment=payment).values_list("cause", "to_status", "outcome")
    )
    assert history == [
        ("refetch", "succeeded", "applied"),
        ("charge.refunded", "refunded", "applied"),
    ]
    assert WebhookEvent.objects.get().status == "processed"

    # The success's own event, late: it never takes the payment back to succeeded.
    deliver(intent_event(payment, "payment_intent.succeeded"))
    assert _status(payment) == "refunded"
    assert [s[2] for s in money_signals] == ["succeeded", "refunded"]


def test_a_refund_before_the_success_stays_retryable_while_stripe_cannot_be_asked(
    deliver, localstripe, settings
):
    payment = payment_create(status=Payment.Status.PROCESSING)  # Stripe has no such intent
    refund = _refund(payment, id="re_early")

    assert deliver(stripe_event("refund.created", refund)).status_code == 200

    event = WebhookEvent.objects.get()
    assert event.status == "failed"
    assert event.next_attempt_at is not None  # the sweeper tries again
    assert "NotYetApplicable" in event.last_error
    assert not Refund.objects.exists()
    assert _status(payment) == "processing"


def _dispute(payment, **fields):
    obj = stripe_object(
        "dispute",
        id="dp_test_1",
        amount=payment.amount,
        currency=payment.currency,
        payment_intent=payment.stripe_payment_intent_id,
    )
    obj.update(fields)
    return obj


@pytest.mark.parametrize(
    ("outcome", "final"),
    [("won", "succeeded"), ("lost", "refunded"), ("warning_closed", "succeeded")],
)
def test_a_dispute_suspends_and_its_outcome_restores_or_revokes(
    deliver, localstripe, money_signals, outcome, final
):
    payment = payment_create(status=Payment.Status.SUCCEEDED, amount_received=12_500)
    now = int(time.time())
    deliver(stripe_event("charge.dispute.created", _dispute(payment), created=now))
    assert _status(payment) == "disputed"
    assert Dispute.objects.get().status == "open"

    deliver(
        stripe_event("charge.dispute.closed", _dispute(payment, status=outcome), created=now + 1)
    )
    assert _status(payment) == final
    dispute = Dispute.objects.get()
    assert dispute.status == {"won": "won", "lost": "lost"}.get(outcome, "closed")
    assert dispute.closed_at is not None
    disputed = [s for s in money_signals if s[0] == "payment_disputed"]
    assert disputed == [
        ("payment_disputed", payment.pk, "disputed"),
        ("payment_disputed", payment.pk, final),
    ]


def test_a_dispute_found_by_its_charge_when_the_intent_is_missing(deliver, localstripe):
    payment = payment_create(status=Payment.Status.SUCCEEDED, stripe_charge_id="ch_known")
    deliver(
        stripe_event(
            "charge.dispute.created", _dispute(payment, payment_intent=None, charge="ch_known")
        )
    )
    assert _status(payment) == "disputed"


def test_a_dispute_closed_before_it_was_opened_ends_right(deliver, localstripe):
    payment = payment_create(status=Payment.Status.SUCCEEDED)
    now = int(time.time())
    deliver(
        stripe_event("charge.dispute.closed", _dispute(payment, status="lost"), created=now + 1)
    )
    deliver(stripe_event("charge.dispute.created", _dispute(payment), created=now))
    assert _status(payment) == "refunded"
    assert Dispute.objects.get().status == "lost"


def test_dispute_updates_and_fund_movements_are_recorded_on_the_open_dispute(deliver, localstripe):
    payment = payment_create(status=Payment.Status.SUCCEEDED, amount_received=12_500)
    now = int(time.time())
    deliver(stripe_event("charge.dispute.funds_withdrawn", _dispute(payment), created=now))
    dispute = Dispute.objects.get()  # the withdrawal overtook the opening: it opens the dispute
    assert (dispute.status, _status(payment)) == ("open", "disputed")
    assert dispute.funds_withdrawn_at is not None

    deliver(
        stripe_event(
            "charge.dispute.updated",
            _dispute(payment, status="under_review", reason="fraudulent"),
            created=now + 1,
        )
    )
    deliver(stripe_event("charge.dispute.closed", _dispute(payment, status="won"), created=now + 2))
    deliver(stripe_event("charge.dispute.funds_reinstated", _dispute(payment), created=now + 3))
    deliver(
        stripe_event(
            "charge.dispute.updated", _dispute(payment, status="needs_response"), created=now + 4
        )
    )

    dispute.refresh_from_db()
    assert (dispute.status, dispute.stripe_status, dispute.reason) == ("won", "won", "fraudulent")
    assert dispute.funds_reinstated_at is not None
    assert _status(payment) == "succeeded"
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_dispute_before_the_success_applies_the_success_from_stripe_first(deliver, localstripe):
    payment = _succeeded_at_stripe(localstripe)
    deliver(stripe_event("charge.dispute.created", _dispute(payment)))
    assert _status(payment) == "disputed"
    assert Dispute.objects.get().status == "open"


def test_setup_intent_succeeded_keeps_the_card_of_a_customer_without_one(deliver, localstripe):
    customer = customer_create()
    setup = stripe_object(
        "setup_intent",
        customer=customer.stripe_customer_id,
        payment_method="pm_saved",
        status="succeeded",
    )
    deliver(stripe_event("setup_intent.succeeded", setup))
    customer.refresh_from_db()
    assert customer.payment_method_id == "pm_saved"


def test_setup_intent_failed_is_recorded_and_unknown_customers_are_marked(deliver, localstripe):
    customer = customer_create()
    failed = stripe_object(
        "setup_intent",
        customer=customer.stripe_customer_id,
        last_setup_error={"code": "card_declined"},
    )
    deliver(stripe_event("setup_intent.setup_failed", failed, event_id="evt_known"))
    deliver(
        stripe_event(
            "setup_intent.succeeded",
            stripe_object("setup_intent", customer="cus_nobody"),
            event_id="evt_unknown",
        )
    )
    assert WebhookEvent.objects.get(stripe_event_id="evt_known").status == "processed"
    unknown = WebhookEvent.objects.get(stripe_event_id="evt_unknown")
    assert (unknown.status, unknown.unmatched) == ("ignored", True)


def test_an_event_from_the_other_mode_is_kept_but_never_applied(deliver, localstripe):
    payment = payment_create()
    event = intent_event(payment, "payment_intent.succeeded")
    event["livemode"] = True  # the tests run on test keys

    assert deliver(event).status_code == 200

    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.unmatched) == ("ignored", True)
    assert "livemode" in stored.last_error
    assert _status(payment) == Payment.Status.PROCESSING


def test_a_refunded_payment_is_not_re_fetched_for_an_old_intent_event(deliver, localstripe):
    payment = payment_create(status=Payment.Status.REFUNDED)
    deliver(intent_event(payment, "payment_intent.succeeded"))
    assert list(PaymentEvent.objects.filter(payment=payment).values_list("outcome", flat=True)) == [
        "refused"
    ]
