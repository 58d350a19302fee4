"""Demo data for `manage.py seed_demo`: consent wording, a readiness policy, routing and a few
leads owned by the demo `sales` user. Idempotent."""

from django.contrib.auth import get_user_model

from leads.models import Lead, RoutingRule, SalesOwner
from leads.services import CaptureContext, lead_assign, lead_capture
from leads.services.consent import consent_texts_ensure_defaults
from leads.services.readiness import readiness_policy_ensure_default

DEMO_LEADS = [
    {
        "email": "ada.lovelace@demo.example.com",
        "name": "Ada Lovelace",
        "company": "Analytical Engines Ltd",
        "phone": "+44 20 7946 0958",
        "country": "GB",
        "consents": {"terms": True, "marketing_email": False, "sms": False},
        "touch": {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"},
    },
    {
        "email": "grace.hopper@demo.example.com",
        "name": "Grace Hopper",
        "country": "US",
        "consents": {"terms": True, "marketing_email": True, "sms": False},
        "touch": {"utm_source": "newsletter", "utm_medium": "email"},
    },
    {
        "email": "no.terms@demo.example.com",
        "name": "Tim Undecided",
        "country": "DE",
        "consents": {"terms": False, "marketing_email": False, "sms": False},
        "touch": {"referrer": "https://www.linkedin.com/"},
    },
]


def seed_demo(stdout) -> None:
    consent_texts_ensure_defaults()
    readiness_policy_ensure_default()
    User = get_user_model()
    sales = User.objects.filter(username="sales").first()
    if sales is None:
        stdout.write("leads: no demo `sales` user, skipping routing and demo leads")
        return
    team_lead = User.objects.filter(username="admin").first()
    owner, _ = SalesOwner.objects.get_or_create(
        user=sales, defaults={"capacity": 25, "team_lead": team_lead}
    )
    rule, created = RoutingRule.objects.get_or_create(
        name="Everyone (demo)",
        defaults={"priority": 100, "strategy": RoutingRule.Strategy.ROUND_ROBIN},
    )
    rule.members.add(owner)
    stdout.write(f"{'created' if created else 'kept'} routing rule {rule.name}")

    context = CaptureContext(
        ip=None,
        user_agent="seed_demo",
        source_form="demo",
        source_url="",
        method="admin",
    )
    for values in DEMO_LEADS:
        if Lead.objects.filter(email=values["email"]).exists():
            stdout.write(f"kept demo lead {values['email']}")
            continue
        lead = lead_capture(**values, context=context)
        if lead.owner_id != sales.pk:
            lead_assign(lead=lead, owner=sales, actor=None, reason="Demo data")
        stdout.write(f"created demo lead {values['email']}")
