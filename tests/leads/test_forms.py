"""LeadForm: what it accepts and gives lead_capture, and the signed fill-time token."""

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
)
from leads.models import ConsentText

TEXTS = {
    purpose: ConsentText(pk=index + 1, purpose=purpose, version=1, text=f"{purpose} words")
    for index, purpose in enumerate(LEAD_FORM_PURPOSES)
}

VALID = {
    "email": "  Grace.Hopper@EXAMPLE.com ",
    "name": "Grace Hopper",
    "company": "",
    "phone": "07911 123456",
    "country": "gb",
    "consent_terms": "on",
    "consent_text_terms": "1",
    "consent_text_marketing_email": "2",
    "consent_text_sms": "3",
    "website": "",
    "utm_source": "newsletter",
    "landing_page": "https://shop.example/start/?utm_source=newsletter",
}


def _form(**changes) -> LeadForm:
    data = QueryDict(mutable=True)
    for key, value in {**VALID, "started": form_started_token(time.time() - 30), **changes}.items():
        if value is not None:
            data[key] = value
    return LeadForm(data, consent_texts=TEXTS)


def test_a_valid_submission_gives_capture_its_cleaned_arguments():
    form = _form()
    assert form.is_valid(), form.errors
    kwargs = form.capture_kwargs()
    assert kwargs["email"] == "grace.hopper@example.com"
    assert (kwargs["phone"], kwargs["country"]) == ("+447911123456", "GB")
    assert kwargs["consents"] == {"terms": True, "marketing_email": False, "sms": False}
    assert kwargs["consent_text_ids"] == {"terms": "1", "marketing_email": "2", "sms": "3"}
    assert (
        set(kwargs["touch"]) == set(TOUCH_FIELDS) and kwargs["touch"]["utm_source"] == "newsletter"
    )
    assert abs(kwargs["started_at"].timestamp() - (time.time() - 30)) < 5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "no-at-sign"}, "email"),
        ({"name": " "}, "name"),
        ({"name": "x" * 151}, "name"),
        ({"phone": "call me"}, "phone"),
        ({"country": "XX", "phone": ""}, "country"),
        ({"consent_terms": None}, "consent_terms"),
    ],
)
def test_bad_input_is_an_error_on_its_own_field(changes, field):
    form = _form(**changes)
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert form.fields[field].widget.attrs.get("aria-invalid") == "true"


def test_over_long_hidden_fields_are_no_error_the_visitor_cannot_see():
    form = _form(
        referrer="https://ref.example/" + "r" * 8000, utm_source="s" * 900, website="w" * 3000
    )
    assert form.is_valid(), form.errors


def test_the_started_token_gives_back_when_the_form_was_rendered(settings):
    rendered = time.time() - 42.5
    token = form_started_token(rendered)
    assert abs(form_started_at(token).timestamp() - rendered) < 0.002
    # After a key rotation, forms rendered with the old key still count.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "x" * 50
    assert abs(form_started_at(token).timestamp() - rendered) < 0.002
    # It is Django's TimestampSigner: a form rendered before (signing.dumps) counts too.
    old = signing.dumps({"t": rendered}, salt=STARTED_SALT)
    assert abs(form_started_at(old).timestamp() - rendered) < 0.002


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: "1" + token,
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),
        lambda token: token.split(":")[0],
        lambda token: "",
        lambda token: "forged",
        lambda token: signing.dumps({"t": time.time() - 3600}, salt="another-salt"),
    ],
)
def test_a_forged_or_broken_started_token_reads_as_just_now(forge):
    token = form_started_token(time.time() - 3600)
    assert abs(form_started_at(forge(token)).timestamp() - time.time()) < 5


def test_a_started_token_from_another_key_reads_as_just_now(settings):
    token = form_started_token(time.time() - 3600)
    settings.SECRET_KEY = "another-" + "y" * 50
    assert abs(form_started_at(token).timestamp() - time.time()) < 5
