import io

import pytest
from django.core.management import call_command

from checkout.models import Offer, TaxRate
from checkout.services.pricing import price_quote

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_every_billing_type_and_is_idempotent():
    call_command("seed_demo", stdout=io.StringIO())
    counts = (Offer.objects.count(), TaxRate.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Offer.objects.count(), TaxRate.objects.count()) == counts
    assert set(Offer.objects.values_list("billing_type", flat=True)) == set(
        Offer.BillingType.values
    )
    tokyo = Offer.objects.get(currency="JPY")
    assert price_quote(offer=tokyo, billing_country="JP").tax == 1_500
    for offer in Offer.objects.all():
        price_quote(offer=offer, billing_country="GB")
