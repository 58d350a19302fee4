import pytest
from django.core import mail

from checkout.models import Notification
from dunning.models import DunningCase
from tests.dunning.factories import case_opened, checkout_declined

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_declined_checkout_opens_a_case_after_the_grace_and_emails_a_link(
    localstripe, celery_eager
):
    order, payment = checkout_declined()
    assert payment.status == "failed"
    assert not DunningCase.objects.exists()
    assert not Notification.objects.filter(kind="payment_failed").exists()
    case = case_opened(order)
    assert case.status == DunningCase.Status.RETRY_SCHEDULED
    assert len(mail.outbox) == 1
    assert "/pay/" in mail.outbox[0].body
