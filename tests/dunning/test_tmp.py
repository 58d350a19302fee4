import pytest
from dunning.services import dunning_payment_news
from tests.dunning.factories import checkout_declined
pytestmark = pytest.mark.django_db(transaction=True)
def test_x(localstripe):
    order, payment = checkout_declined()
    dunning_payment_news(payment_id=payment.pk)
