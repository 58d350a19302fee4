"""Factories for checkout rows. Shared with the checkout-after tests: keep names stable."""

import uuid

import factory

from checkout.models import Offer, Order, TaxRate
from payments.models import Customer, Payment


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    description = "A practical course."
    price_amount = 12_000
    currency = "EUR"
    tax_mode = Offer.TaxMode.INCLUSIVE
    billing_type = Offer.BillingType.ONE_TIME
    access_name = factory.LazyAttribute(lambda o: f"{o.name} online")
    access_url = "https://learn.example.com/course"
    access_instructions = "Sign in with the code below."


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRate

    offer = None
    country = "GB"
    rate_bp = 2000
    label = "VAT"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    checkout_token = factory.LazyFunction(uuid.uuid4)
    reference = factory.Sequence(lambda n: f"O-TEST{n:06d}")
    offer = factory.SubFactory(OfferFactory)
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    name = "Ada Buyer"
    billing_country = "GB"
    currency = factory.LazyAttribute(lambda o: o.offer.currency)
    subtotal = factory.LazyAttribute(lambda o: o.offer.price_amount)
    tax = 0
    total = factory.LazyAttribute(lambda o: o.subtotal + o.tax)
    amount_due_now = factory.LazyAttribute(lambda o: o.total)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A local Customer row (no Stripe customer): for tests that never call the gateway."""

    class Meta:
        model = Customer
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = "Ada Buyer"


class PaymentFactory(factory.django.DjangoModelFactory):
    """A Payment row in `requires_payment_method`. Move it with `payment_transition` (the real
    state machine, which also sends the signals), never by setting `status` here."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    idempotency_key = factory.Sequence(lambda n: f"test:payment:{n}")
    amount = factory.LazyAttribute(lambda p: p.order.amount_due_now if p.order else 12_000)
    currency = factory.LazyAttribute(lambda p: (p.order.currency if p.order else "eur").lower())
