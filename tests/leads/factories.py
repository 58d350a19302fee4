"""Factories for the leads tests. Leads themselves are made through `lead_capture` (the real
path) with `capture_lead`, so every test lead has its consent chain and touchpoint."""

import time

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from leads.forms import form_started_token
from leads.models import OutOfOffice, RoutingRule, SalesOwner
from leads.services import CaptureContext, consent_text_current, lead_capture
from leads.services.intake import leads_intake_run


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@staff.example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("a-strong-pass-123")


class SalesUserFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def sales_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name="Sales"))


class SalesOwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesOwner

    user = factory.SubFactory(SalesUserFactory)
    capacity = 10


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    priority = 100
    strategy = RoutingRule.Strategy.ROUND_ROBIN

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.set(extracted)


class OutOfOfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutOfOffice

    owner = factory.SubFactory(SalesOwnerFactory)


def capture_context(**overrides) -> CaptureContext:
    values = {
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (Linux; Android 14) Mobile",
        "source_form": "lead_form",
        "source_url": "https://portal.example.com/start/",
        "method": "form",
    }
    values.update(overrides)
    return CaptureContext(**values)


_sequence = iter(range(1, 10**9))


def capture_lead(*, intake: bool = True, **overrides):
    """A lead through the real service: terms ticked, a UTM touch, from a distinct IP. Then,
    unless `intake=False`, the intake a worker runs right after (routing, double opt-in)."""
    n = next(_sequence)
    values = {
        "email": f"buyer{n}@example.com",
        "name": f"Buyer {n}",
        "country": "GB",
        "consents": {"terms": True},
        "touch": {"utm_source": "newsletter", "utm_medium": "email"},
        "context": capture_context(ip=f"198.51.{n // 250 % 250}.{n % 250 + 1}"),
    }
    values.update(overrides)
    lead = lead_capture(**values)
    if intake and lead.intake_pending_since is not None:
        leads_intake_run(lead_ids=[lead.pk])
        lead.refresh_from_db()
    return lead


def lead_form_data(**overrides):
    """A valid POST for /start/ (terms ticked, the current wording, shown 20 s ago); an
    override of None leaves that field out."""
    data = {
        "email": "grace@example.com",
        "name": "Grace Hopper",
        "company": "",
        "phone": "",
        "country": "GB",
        "consent_terms": "on",
        "consent_text_terms": consent_text_current(purpose="terms").pk,
        "consent_text_marketing_email": consent_text_current(purpose="marketing_email").pk,
        "consent_text_sms": consent_text_current(purpose="sms").pk,
        "started": form_started_token(time.time() - 20),
        "website": "",
        "utm_source": "newsletter",
        "utm_campaign": "launch",
        "landing_page": "http://testserver/start/?utm_source=newsletter",
        "referrer": "https://news.example/",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
