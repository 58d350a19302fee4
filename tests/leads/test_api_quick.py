"""The quick validation of the lead API never accepts what the request serializer refuses, and
when it accepts, it gives exactly the capture arguments the serializer's data would."""

import json

from leads.api import LeadCaptureRequestSerializer, _capture_kwargs, lead_api_quick_clean
from tests.leads.quickcheck import quick_check_agrees

VALID = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "company": "Analytical Engines",
    "phone": "+44 20 7946 0958",
    "country": "GB",
    "consents": {"terms": True, "marketing_email": False, "sms": True},
    "consent_text_ids": {"terms": 1, "marketing_email": 2},
    "utm_source": "partner",
    "landing_page": "https://partner.example/pricing",
}

ABSENT = object()
TEXT_VARIANTS = [
    "",
    " ",
    "  padded  ",
    "x" * 151,
    "x" * 201,
    "a\x00b",
    "lone \ud800 surrogate",
    "Zoë <b>Ünïcode</b>",
    None,
    42,
    True,
    ["a"],
]
CHOICES = {
    "email": [
        "ada@example.com",
        "  Ada.Lovelace@EXAMPLE.com ",
        "a@b",
        "no-at-sign",
        "user@MÜNCHEN.de",
        "x" * 250 + "@example.com",
        *TEXT_VARIANTS,
        ABSENT,
    ],
    "name": ["Ada", "Mo <b>Bile</b>", *TEXT_VARIANTS, ABSENT],
    "company": ["", "Acme", *TEXT_VARIANTS, ABSENT],
    "phone": ["", "07911 123456", "+1 202-555-0143", "12", "call me", None, 7911123456, ABSENT],
    "country": ["GB", "gb", "", "XX", "GBR", " DE ", None, ABSENT],
    "consents": [
        {"terms": True},
        {"terms": False},
        {"terms": "true"},
        {"terms": 1},
        {"terms": True, "marketing_email": "yes"},
        {"terms": True, "marketing_email": None},
        {"terms": True, "unknown_purpose": True},
        {},
        [],
        "terms",
        None,
        ABSENT,
    ],
    "consent_text_ids": [
        {"terms": 1},
        {"terms": "1"},
        {"terms": True},
        {"terms": 1.0},
        {"terms": None},
        {"terms": 2**40},
        {"terms": -3},
        {},
        [1],
        None,
        ABSENT,
    ],
    "started_at": [None, "2026-11-22T10:00:00Z", "yesterday", 12, ABSENT],
    "website": ["", "http://spam.example", "w" * 3000, None, ABSENT],
    "utm_source": ["newsletter", "", "u" * 1000, " spaced ", "a\x00", 5, None, ABSENT],
    "landing_page": [VALID["landing_page"], "l" * 9000, ABSENT],
    "gclid": ["", "Cj0KCQ", ABSENT],
    "unexpected": ["ignored", {"nested": True}, ABSENT],
}


def _body(values: dict) -> dict:
    # Through JSON and back, as a request body arrives (a lone surrogate survives as \ud800).
    return json.loads(json.dumps({k: v for k, v in values.items() if v is not ABSENT}))


def _serializer_verdict(data: dict):
    serializer = LeadCaptureRequestSerializer(data=data)
    return _capture_kwargs(serializer.validated_data) if serializer.is_valid() else None


def test_a_plainly_valid_body_is_accepted_with_what_the_serializer_gives():
    data = _body(VALID)
    quick = lead_api_quick_clean(data)
    assert quick is not None
    assert quick == _serializer_verdict(data)
    assert quick["email"] == "ada@example.com"
    assert quick["consent_text_ids"] == {"terms": 1, "marketing_email": 2}
    assert quick["touch"]["utm_source"] == "partner" and quick["touch"]["gclid"] == ""
    assert (quick["started_at"], quick["honeypot"]) == (None, "")


def test_the_smallest_valid_body_is_accepted_too():
    data = {"email": "ada@example.com", "name": "Ada", "consents": {"terms": True}}
    quick = lead_api_quick_clean(data)
    assert quick is not None
    assert quick == _serializer_verdict(data)
    assert quick["consent_text_ids"] is None


def _same(quick: dict, full: dict) -> None:
    assert quick == full


def test_quick_validation_never_accepts_what_the_serializer_refuses():
    quick_check_agrees(
        valid=VALID,
        choices=CHOICES,
        build=_body,
        quick=lead_api_quick_clean,
        full=_serializer_verdict,
        same=_same,
    )


def test_bodies_that_are_not_a_json_object_go_to_the_serializer():
    for data in ([], "x", None, 3):
        assert lead_api_quick_clean(data) is None
