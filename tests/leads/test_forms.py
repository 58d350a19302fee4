"""The quick validation of the lead form never accepts what LeadForm refuses, and when it
accepts, it gives exactly what LeadForm would."""

import time

import pytest
from django.core import signing
from django.http import QueryDict

from leads.forms import (
    LEAD_FORM_PURPOSES,
    STARTED_SALT,
    TOUCH_FIELDS,
    LeadForm,
    form_started_at,
    form_started_token,
    lead_form_quick_clean,
)
from leads.models import ConsentText
from tests.leads.quickcheck import quick_check_agrees

TEXTS = {
    purpose: ConsentText(pk=index + 1, purpose=purpose, version=1, text=f"{purpose} words")
    for index, purpose in enumerate(LEAD_FORM_PURPOSES)
}

VALID = {
    "email": "grace@example.com",
    "name": "Grace Hopper",
    "company": "",
    "phone": "",
    "country": "GB",
    "consent_terms": "on",
    "consent_text_terms": "1",
    "consent_text_marketing_email": "2",
    "consent_text_sms": "3",
    "started": form_started_token(time.time() - 30),
    "website": "",
    "utm_source": "newsletter",
    "landing_page": "https://shop.example/start/?utm_source=newsletter",
}

ABSENT = object()
TEXT_VARIANTS = ["", " ", "  padded  ", "x" * 151, "x" * 201, "a\x00b", "Zoë <b>Ünïcode</b>"]
CHOICES = {
    "email": [
        "grace@example.com",
        "  Grace.Hopper@EXAMPLE.com ",
        "a@b",
        "no-at-sign",
        "user@MÜNCHEN.de",
        "x" * 250 + "@example.com",
        *TEXT_VARIANTS,
        ABSENT,
    ],
    "name": ["Grace Hopper", "Mo <b>Bile</b>", *TEXT_VARIANTS, ABSENT],
    "company": ["", "Acme Ltd", *TEXT_VARIANTS, ABSENT],
    "phone": ["", "07911 123456", "+44 20 7946 0958", "12", "call me", "+1 202-555-0143", ABSENT],
    "country": ["GB", "gb", "", "XX", "GBR", " DE ", ABSENT],
    "consent_terms": ["on", "", "true", "0", "false", "off", ABSENT],
    "consent_marketing_email": ["on", "", "1", ABSENT],
    "consent_sms": ["on", "false", ABSENT],
    "consent_text_terms": ["1", " 1 ", "", "x", "-1", "+1", "1.0", "99999999999", ABSENT],
    "consent_text_sms": ["3", "", "abc", ABSENT],
    "started": [VALID["started"], "", "forged", "x" * 20_000, ABSENT],
    "website": ["", "http://spam.example", "w" * 3000, ABSENT],
    "utm_source": ["newsletter", "", "u" * 1000, " spaced ", "a\x00", ABSENT],
    "landing_page": [VALID["landing_page"], "l" * 9000, ABSENT],
    "referrer": ["", "https://news.example/", ABSENT],
}


def _post(values: dict) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in values.items():
        if value is not ABSENT:
            data[key] = value
    return data


def _form_verdict(data: QueryDict):
    form = LeadForm(data, consent_texts=TEXTS)
    return form.capture_kwargs() if form.is_valid() else None


def _same(quick: dict, full: dict) -> None:
    # started_at is "now" for a missing or forged token, read at two slightly different moments.
    assert abs((quick.pop("started_at") - full.pop("started_at")).total_seconds()) < 5
    assert quick == full


def test_a_plainly_valid_submission_is_accepted_with_what_the_form_gives():
    data = _post(VALID)
    quick = lead_form_quick_clean(data)
    assert quick is not None
    _same(quick, _form_verdict(data))
    assert quick["consents"] == {"terms": True, "marketing_email": False, "sms": False}
    assert quick["consent_text_ids"] == {"terms": 1, "marketing_email": 2, "sms": 3}
    assert set(quick["touch"]) == set(TOUCH_FIELDS)


def test_quick_validation_never_accepts_what_the_form_refuses():
    quick_check_agrees(
        valid=VALID,
        choices=CHOICES,
        build=_post,
        quick=lead_form_quick_clean,
        full=_form_verdict,
        same=_same,
    )


def test_the_started_token_gives_back_when_the_form_was_rendered(settings):
    rendered = time.time() - 42.5
    token = form_started_token(rendered)
    assert abs(form_started_at(token).timestamp() - rendered) < 0.002
    # After a key rotation, forms rendered with the old key still count.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "x" * 50
    assert abs(form_started_at(token).timestamp() - rendered) < 0.002
    # A form rendered before this token format (a Django signed object) still counts too.
    old = signing.dumps({"t": rendered}, salt=STARTED_SALT)
    assert abs(form_started_at(old).timestamp() - rendered) < 0.002


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: "1" + token,  # an earlier moment, same signature
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),
        lambda token: token.split(".")[0],
        lambda token: "99999999999999." + token.split(".")[1],  # far future, too long
        lambda token: "",
        lambda token: "forged",
        lambda token: "١٢٣." + token.split(".")[1],  # non-ASCII digits
    ],
)
def test_a_forged_or_broken_started_token_reads_as_just_now(forge):
    token = form_started_token(time.time() - 3600)
    assert abs(form_started_at(forge(token)).timestamp() - time.time()) < 5


def test_a_started_token_from_another_key_reads_as_just_now(settings):
    token = form_started_token(time.time() - 3600)
    settings.SECRET_KEY = "another-" + "y" * 50
    assert abs(form_started_at(token).timestamp() - time.time()) < 5
