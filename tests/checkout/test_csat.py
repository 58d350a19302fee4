"""Payment CSAT: the signed link, its refusals, one answer per order, the email, the done page,
the weekly selector and the staff list."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.db import IntegrityError, connection, transaction

from checkout.csat.services import (
    CsatAlreadyAnswered,
    CsatLinkExpired,
    CsatLinkInvalid,
    csat_answer,
    csat_order_for_token,
    csat_token_make,
    csat_url,
)
from checkout.models import Notification, PaymentCsat
from checkout.portal.links import portal_token_make
from checkout.selectors import csat_by_week
from checkout.services.orders import checkout_token_issue
from payments.models import Payment
from payments.services import payment_transition
from tests.checkout.factories import OfferFactory, OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _paid_order(**order_fields):
    # The first checkout attempt's payment, keyed as checkout_pay keys it (the done page reads it).
    order = OrderFactory(checkout_attempt=1, **order_fields)
    payment = PaymentFactory(order=order, idempotency_key=f"order:{order.pk}:checkout:1")
    payment_transition(
        payment_id=payment.pk, to_status=Payment.Status.SUCCEEDED, cause="test",
        fields={"amount_received": payment.amount},
    )  # fmt: skip
    return order


@pytest.fixture
def paid_order(celery_eager):
    return _paid_order()


def _path(order) -> str:
    return csat_url(order=order, absolute=False)


def test_the_signed_link_asks_once_and_records_the_answer(client, paid_order):
    page = client.get(_path(paid_order) + "?score=4")
    assert page.status_code == 200
    html = page.content.decode()
    assert "How easy was paying?" in html and paid_order.reference in html
    # The email's number is preselected, never recorded by a GET (mail scanners open links).
    assert re.search(r'value="4"[^>]*checked', html)
    assert not PaymentCsat.objects.exists()

    answered = client.post(_path(paid_order), {"score": "4", "comment": "  Quick.  "})
    assert answered.status_code == 302 and answered["Location"] == _path(paid_order)
    answer = PaymentCsat.objects.get()
    assert (answer.order_id, answer.score, answer.comment) == (paid_order.pk, 4, "Quick.")
    assert answer.source == PaymentCsat.Source.EMAIL
    thanks = client.get(_path(paid_order)).content.decode()
    assert 'data-score="4"' in thanks and "Quick." in thanks


def test_a_tampered_or_foreign_link_is_refused_and_changes_nothing(client, paid_order):
    token = csat_token_make(order=paid_order)
    other = _paid_order()
    tampered = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the signature
        csat_token_make(order=other).split(":")[0] + token[token.index(":") :],  # the body
        portal_token_make(email=paid_order.email),  # another salt's genuine link
        "not-a-link",
    ]
    for bad in tampered:
        response = client.post(f"/feedback/payment/{bad}/", {"score": "5"})
        assert response.status_code == 400, bad
        assert "not valid" in response.content.decode()
        with pytest.raises(CsatLinkInvalid):
            csat_order_for_token(token=bad)
    assert not PaymentCsat.objects.exists()


def test_a_link_for_an_order_that_was_never_paid_is_refused(client, celery_eager):
    unpaid = OrderFactory()
    response = client.post(_path(unpaid), {"score": "5"})
    assert response.status_code == 400
    assert not PaymentCsat.objects.exists()


def test_an_expired_link_says_so_and_changes_nothing(client, paid_order, settings, monkeypatch):
    settings.CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS = 7 * 86_400
    eight_days_ago = time.time() - 8 * 86_400
    monkeypatch.setattr("django.core.signing.time.time", lambda: eight_days_ago)
    old = csat_token_make(order=paid_order)
    monkeypatch.undo()
    response = client.post(f"/feedback/payment/{old}/", {"score": "5"})
    assert response.status_code == 410
    assert "expired" in response.content.decode() and "7 days" in response.content.decode()
    with pytest.raises(CsatLinkExpired):
        csat_order_for_token(token=old)
    assert not PaymentCsat.objects.exists()
    # A link made today for the same order still works.
    assert client.get(_path(paid_order)).status_code == 200


@pytest.mark.parametrize(
    "data, message",
    [
        ({"score": "0"}, "from 1 (very hard) to 5 (very easy)"),
        ({"score": "6"}, "from 1 (very hard) to 5 (very easy)"),
        ({"score": "x"}, "from 1 (very hard) to 5 (very easy)"),
        ({"score": ""}, "from 1 (very hard) to 5 (very easy)"),
        ({}, "from 1 (very hard) to 5 (very easy)"),
        ({"score": "3", "comment": "a" * 1001}, "1000 characters or fewer (it has 1001)"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(client, paid_order, data, message):
    response = client.post(_path(paid_order), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'aria-invalid="true"' in html
    assert not PaymentCsat.objects.exists()


def test_the_service_refuses_what_the_form_would(paid_order):
    for score in (0, 6, "4", 4.0, True, None):
        with pytest.raises(ValueError):
            csat_answer(order=paid_order, score=score)
    with pytest.raises(ValueError):
        csat_answer(order=paid_order, score=3, comment="a" * 1001)
    with pytest.raises(ValueError):
        csat_answer(order=paid_order, score=3, source="sms")
    assert not PaymentCsat.objects.exists()
    csat_answer(order=paid_order, score=3, comment="b" * 1000)
    assert PaymentCsat.objects.get().comment == "b" * 1000


def test_a_second_answer_is_refused_and_the_first_stands(client, paid_order):
    assert client.post(_path(paid_order), {"score": "2", "comment": "Slow"}).status_code == 302
    again = client.post(_path(paid_order), {"score": "5"})
    assert again.status_code == 409
    html = again.content.decode()
    assert "already answered" in html and 'data-score="2"' in html
    with pytest.raises(CsatAlreadyAnswered) as refused:
        csat_answer(order=paid_order, score=5)
    assert refused.value.answer.score == 2
    assert list(PaymentCsat.objects.values_list("score", "comment")) == [(2, "Slow")]


def test_the_database_holds_one_answer_per_order_and_only_scores_1_to_5(paid_order):
    PaymentCsat.objects.create(order=paid_order, score=3, answered_at=datetime.now(UTC))
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentCsat.objects.create(order=paid_order, score=4, answered_at=datetime.now(UTC))
    other = _paid_order()
    for score in (0, 6):
        with pytest.raises(IntegrityError), transaction.atomic():
            PaymentCsat.objects.create(order=other, score=score, answered_at=datetime.now(UTC))
    assert PaymentCsat.objects.count() == 1


def test_two_tabs_answering_at_once_leave_one_row(celery_eager):
    """Each round: two threads (own connections) pass the 'already answered?' check together and
    insert; the unique order lets one win and turns the other into CsatAlreadyAnswered."""
    orders = [_paid_order() for _ in range(5)]
    for order in orders:
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def answer(score, order=order, barrier=barrier, outcomes=outcomes):
            try:
                barrier.wait(timeout=10)
                csat_answer(order=order, score=score)
                outcomes.append("saved")
            except CsatAlreadyAnswered:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=answer, args=(s,)) for s in (1, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(outcomes) == ["refused", "saved"]
        assert PaymentCsat.objects.filter(order=order).count() == 1


def test_the_payment_confirmed_email_links_to_the_question(client, celery_eager):
    order = _paid_order()
    confirmed = Notification.objects.get(order=order, kind=Notification.Kind.PAYMENT_CONFIRMED)
    message = next(m for m in mail.outbox if m.to == [confirmed.to_email])
    text_links = re.findall(r"https?://\S+/feedback/payment/[^/\s]+/", message.body)
    assert len(text_links) == 1 and "How easy was paying?" in message.body
    html = message.alternatives[0][0]
    html_links = set(re.findall(r'href="(https?://[^"]+/feedback/payment/[^"]+)"', html))
    assert {link.split("?")[0] for link in html_links} == set(text_links)
    assert {link.split("=")[-1] for link in html_links} == {"1", "2", "3", "4", "5"}
    path = text_links[0].split("://", 1)[1].split("/", 1)[1]
    assert csat_order_for_token(token=path.split("/")[2]) == order
    assert client.post(f"/{path}", {"score": "5"}).status_code == 302
    assert PaymentCsat.objects.get().order == order
    # Only the payment-confirmed email asks.
    other_kinds = [m for m in mail.outbox if m is not message]
    assert all("/feedback/payment/" not in m.body for m in other_kinds)


def _done_url(client, order) -> str:
    session = client.session
    token = checkout_token_issue(session=session, offer=order.offer)
    session.save()
    type(order).objects.filter(pk=order.pk).update(checkout_token=token)
    return f"/checkout/{order.offer.slug}/{token}/done/"


def test_the_done_page_asks_and_then_thanks(client, celery_eager):
    order = _paid_order(offer=OfferFactory())
    done = _done_url(client, order)
    html = client.get(done).content.decode()
    assert 'data-testid="csat-form"' in html and "How easy was paying?" in html
    action = re.search(r'<form method="post" action="([^"]+)" class="csat"', html).group(1)
    assert csat_order_for_token(token=action.split("/")[3]) == order
    assert 'name="source" value="done_page"' in html
    assert client.post(action, {"score": "5", "source": "done_page"}).status_code == 302
    answer = PaymentCsat.objects.get()
    assert (answer.score, answer.source) == (5, PaymentCsat.Source.DONE_PAGE)
    html = client.get(done).content.decode()
    assert 'data-testid="csat-form"' not in html
    assert "you said paying was 5 out of 5" in html


def test_the_done_page_does_not_ask_before_the_payment_went_through(client, celery_eager):
    order = OrderFactory(checkout_attempt=1)
    PaymentFactory(order=order, idempotency_key=f"order:{order.pk}:checkout:1")
    html = client.get(_done_url(client, order)).content.decode()
    assert 'data-status="none"' in html and 'data-testid="csat"' not in html


def test_csat_by_week_counts_means_and_distribution_by_sql(celery_eager):
    # Monday 2026-11-02 and Monday 2026-11-09 (UTC, the test time zone).
    answers = [
        (datetime(2026, 11, 2, 9, tzinfo=UTC), 5),
        (datetime(2026, 11, 4, 12, tzinfo=UTC), 4),
        (datetime(2026, 11, 8, 23, 59, tzinfo=UTC), 1),
        (datetime(2026, 11, 9, 0, 0, tzinfo=UTC), 2),
        (datetime(2026, 11, 20, tzinfo=UTC), 3),  # outside `until`
        (datetime(2026, 10, 25, tzinfo=UTC), 3),  # before `since`
    ]
    for moment, score in answers:
        PaymentCsat.objects.create(order=_paid_order(), score=score, answered_at=moment)
    weeks = csat_by_week(
        since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 11, 16, tzinfo=UTC)
    )
    assert weeks == [
        {"week": datetime(2026, 11, 2).date(), "count": 3, "mean": 3.33,
         "distribution": {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}},
        {"week": datetime(2026, 11, 9).date(), "count": 1, "mean": 2.0,
         "distribution": {1: 0, 2: 1, 3: 0, 4: 0, 5: 0}},
    ]  # fmt: skip
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        csat_by_week(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime.now(UTC))
    assert len(queries) == 1


def test_staff_see_the_answers_and_nobody_edits_them(client, paid_order):
    csat_answer(order=paid_order, score=4, comment="Fine")
    finance = get_user_model().objects.create_user("fin", password="x", is_staff=True)
    finance.groups.add(Group.objects.get(name="Finance"))
    client.force_login(finance)
    listing = client.get("/admin/checkout/paymentcsat/")
    assert listing.status_code == 200 and paid_order.reference in listing.content.decode()
    answer = PaymentCsat.objects.get()
    assert client.get("/admin/checkout/paymentcsat/add/").status_code == 403
    detail = client.get(f"/admin/checkout/paymentcsat/{answer.pk}/change/")
    assert detail.status_code == 200 and 'name="score"' not in detail.content.decode()
    assert client.post(f"/admin/checkout/paymentcsat/{answer.pk}/delete/").status_code == 403
    assert PaymentCsat.objects.get().score == 4


def test_an_answer_from_a_phone_under_the_csp(phone_page, live_server, celery_eager):
    order = _paid_order()
    phone_page.goto(live_server.url + _path(order) + "?score=2")
    assert phone_page.locator("input[name=score][value='2']").is_checked()
    phone_page.locator("label.csat-choice", has_text="4").tap()
    phone_page.get_by_label("Anything we could do better? (optional)").fill("All good")
    overflow = phone_page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    box = phone_page.locator("label.csat-choice").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    phone_page.get_by_role("button", name="Send my answer").click()
    phone_page.get_by_test_id("csat-answered").wait_for()
    answer = PaymentCsat.objects.get()
    assert (answer.score, answer.comment) == (4, "All good")
    assert timedelta(0) <= datetime.now(UTC) - answer.answered_at < timedelta(minutes=1)
