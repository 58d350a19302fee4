"""Two schedulers racing make at most one attempt per step: skip-locked claims share the work,
and a unique constraint refuses a second attempt for a step whatever the locks did."""

import threading

import pytest
from django.db import IntegrityError, connections, transaction

from dunning.models import DunningAttempt, DunningCase
from dunning.services import dunning_case_step_run, dunning_tick
from payments import gateway
from payments.models import Payment
from tests.dunning.factories import case_opened, checkout_declined

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


@pytest.fixture(autouse=True)
def _many_declined_checkouts(settings):
    # Several buyers declined with the same test card: checkout's velocity check must not stop
    # the set-up (it counts failures per card, and every one here is 4000000000000341).
    settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_CARD = 100
    settings.CHECKOUT_VELOCITY_MAX_FAILED_PER_IP = 100


def _together(target, n: int = 2) -> list:
    """Run `target` in n threads released at the same moment; return what they returned."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def _due_retries(count: int) -> list[DunningCase]:
    cases = [case_opened(checkout_declined()[0]) for _ in range(count)]
    for case in cases:
        case.refresh_from_db()
        assert case.next_step == 1  # the day-1 retry is next
    return cases


def test_two_beats_racing_make_one_attempt_per_case_and_step(localstripe):
    cases = _due_retries(6)
    moment = max(c.next_action_at for c in cases)

    claimed = _together(lambda: dunning_tick(now=moment, discover=False)["claimed"])

    assert sorted(claimed)[-1] <= 6 and sum(claimed) == 6  # each case claimed exactly once
    for case in cases:
        attempts = DunningAttempt.objects.filter(case=case)
        assert list(attempts.values_list("step", "number")) == [(1, 1)]
    assert Payment.objects.filter(attempt_kind="retry").count() == 6
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0) if r.metadata.get("dunning_case")
    ]
    assert len(intents) == 6


def test_a_step_run_twice_at_once_charges_once(localstripe):
    # A redelivered message and a second scheduler whose lease ran out, on the same step.
    (case,) = _due_retries(1)
    moment = case.next_action_at

    _together(lambda: dunning_case_step_run(case_id=case.pk, step=1, now=moment), n=3)

    assert DunningAttempt.objects.filter(case=case).count() == 1
    assert Payment.objects.filter(attempt_kind="retry").count() == 1
    intents = [
        r for r in gateway.payment_intents_recent(created_gte=0)
        if r.metadata.get("dunning_case") == str(case.pk)
    ]  # fmt: skip
    assert len(intents) == 1
    case.refresh_from_db()
    assert case.next_step == 2 and case.attempts_made == 1


def test_the_database_refuses_a_second_attempt_for_a_step(localstripe):
    (case,) = _due_retries(1)
    dunning_case_step_run(case_id=case.pk, step=1, now=case.next_action_at)
    first = DunningAttempt.objects.get(case=case)
    with pytest.raises(IntegrityError), transaction.atomic():
        DunningAttempt.objects.create(
            case=case, number=first.number + 1, step=first.step,
            idempotency_key=f"dunning:case:{case.pk}:attempt:{first.number + 1}",
            customer=first.customer, payment_method_id=first.payment_method_id,
            amount=first.amount, currency=first.currency, created_at=first.created_at,
        )  # fmt: skip
    # Staff retries have no step and are numbered on.
    DunningAttempt.objects.create(
        case=case, number=first.number + 1, step=None,
        idempotency_key=f"dunning:case:{case.pk}:attempt:{first.number + 1}",
        customer=first.customer, payment_method_id=first.payment_method_id,
        amount=first.amount, currency=first.currency, created_at=first.created_at,
    )  # fmt: skip
    assert DunningAttempt.objects.filter(case=case).count() == 2
