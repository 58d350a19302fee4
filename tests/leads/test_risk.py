from datetime import timedelta

import pytest
from django.utils import timezone

from leads.risk import (
    UNKNOWN_VELOCITY,
    is_disposable_domain,
    lead_risk_factors,
    submission_risk_factors,
)
from leads.throttling import velocity_count


def _rules(factors):
    return [f.rule for f in factors]


def test_disposable_domains_and_their_subdomains_count(settings):
    settings.LEADS_DISPOSABLE_EMAIL_DOMAINS_EXTRA = ["burner.example"]
    assert is_disposable_domain("mailinator.com")
    assert is_disposable_domain("eu.mailinator.com")
    assert is_disposable_domain("burner.example")
    assert not is_disposable_domain("example.com")
    assert not is_disposable_domain("com")


def test_lead_rules_explain_themselves():
    factors = lead_risk_factors(
        email="x@yopmail.com", country="GB", phone="+4930901820", ip_country="FR"
    )
    assert _rules(factors) == [
        "disposable_email",
        "country_mismatch_phone",
        "country_mismatch_ip",
    ]
    assert [f.points for f in factors] == [30, 15, 15]
    assert "yopmail.com" in factors[0].reason
    assert "Germany" in factors[1].reason and "United Kingdom" in factors[1].reason
    assert "France" in factors[2].reason


def test_no_rule_fires_for_a_consistent_person():
    assert (
        lead_risk_factors(
            email="a@example.com", country="GB", phone="+442079460958", ip_country="GB"
        )
        == []
    )
    assert lead_risk_factors(email="a@example.com", country="", phone="", ip_country="") == []


@pytest.mark.django_db
def test_submission_rules_honeypot_and_fill_time(settings):
    now = timezone.now()
    factors = submission_risk_factors(
        honeypot="x", started_at=now - timedelta(seconds=0.4), now=now, velocity=UNKNOWN_VELOCITY
    )
    assert _rules(factors) == ["honeypot", "too_fast"]
    assert "0.4 s" in factors[1].reason
    assert (
        submission_risk_factors(
            honeypot="", started_at=now - timedelta(seconds=5), now=now, velocity=UNKNOWN_VELOCITY
        )
        == []
    )
    # Unknown render time: the rule cannot judge, so it does not fire.
    assert (
        submission_risk_factors(honeypot="", started_at=None, now=now, velocity=UNKNOWN_VELOCITY)
        == []
    )


@pytest.mark.django_db
def test_velocity_per_ip_and_per_email(settings):
    settings.LEADS_VELOCITY_IP_THRESHOLD = 2
    settings.LEADS_VELOCITY_EMAIL_THRESHOLD = 3
    now = timezone.now()

    def submit(ip, email):
        velocity = velocity_count(ip=ip, email=email)
        return _rules(
            submission_risk_factors(honeypot="", started_at=None, now=now, velocity=velocity)
        )

    assert submit("192.0.2.1", "one@example.com") == []
    assert submit("192.0.2.1", "two@example.com") == []
    assert submit("192.0.2.1", "three@example.com") == ["ip_velocity"]
    assert submit("192.0.2.2", "same@example.com") == []
    assert submit("192.0.2.3", "same@example.com") == []
    assert submit("192.0.2.4", "same@example.com") == []
    assert submit("192.0.2.5", "same@example.com") == ["email_velocity"]
