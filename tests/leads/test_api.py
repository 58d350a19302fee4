import json

import pytest
from django.test import AsyncRequestFactory, Client

from leads.api import LeadCaptureAPI
from leads.models import ConsentRecord, Lead, Touchpoint
from leads.services import consent_text_current

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def _post(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def _payload(**overrides):
    payload = {
        "email": "Linus@Example.org",
        "name": "Linus",
        "country": "FI",
        "phone": "+358 40 1234567",
        "consents": {"terms": True, "marketing_email": False},
        "utm_source": "partner",
        "utm_medium": "embed",
        "landing_page": "https://partner.example/pricing",
        "fbclid": "fb.1",
    }
    payload.update(overrides)
    return payload


def _rows():
    return (Lead.objects.count(), ConsentRecord.objects.count(), Touchpoint.objects.count())


def test_capture_through_the_api_without_csrf():
    client = Client(enforce_csrf_checks=True)
    response = _post(client, _payload(), HTTP_USER_AGENT="PartnerWidget/1.0")

    assert response.status_code == 201
    assert response.json() == {"received": True, "check_inbox": False}
    lead = Lead.objects.get()
    assert (lead.email, lead.phone, lead.country) == ("linus@example.org", "+358401234567", "FI")
    assert lead.last_touch.fbclid == "fb.1"
    assert lead.last_touch.source_form == "api"
    records = list(lead.consent_records.order_by("sequence"))
    assert [(r.purpose, r.decision, r.method) for r in records] == [
        ("terms", "granted", "api"),
        ("marketing_email", "not_given", "api"),
    ]
    assert records[0].user_agent == "PartnerWidget/1.0"


def test_a_known_email_gets_the_same_answer_and_updates_the_lead(client):
    first = _post(client, _payload())
    second = _post(client, _payload(email=" LINUS@example.org", utm_source="again"))
    assert first.json() == second.json()
    assert Lead.objects.count() == 1
    assert Touchpoint.objects.count() == 2


def test_the_consent_wording_shown_can_be_fetched_and_referenced(client):
    texts = client.get("/api/v1/leads/consent-texts/").json()
    by_purpose = {item["purpose"]: item for item in texts}
    assert set(by_purpose) == {"terms", "marketing_email", "sms", "processing"}
    assert by_purpose["terms"]["text"] == consent_text_current(purpose="terms").text

    _post(
        client,
        _payload(
            consents={"terms": True, "processing": True},
            consent_text_ids={"terms": by_purpose["terms"]["id"]},
        ),
    )
    record = ConsentRecord.objects.get(purpose="terms")
    assert record.consent_text_id == by_purpose["terms"]["id"]


def test_marketing_email_is_pending_and_the_caller_is_told(client):
    response = _post(client, _payload(consents={"terms": True, "marketing_email": True}))
    assert response.json()["check_inbox"] is True
    assert Lead.objects.get().consents["marketing_email"] == "pending"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x" * 400 + "@example.com"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "n" * 10_000}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"country": "ZZ"}, "country"),
        ({"consents": {"terms": False}}, "consents"),
        ({"consents": {}}, "consents"),
        ({"consents": {"terms": True, "spam": True}}, "consents"),
        ({"consents": {"terms": True}, "consent_text_ids": {"terms": 99999}}, "consents"),
        ({"consents": "yes"}, "consents"),
        ({"consents": {"terms": "true"}}, "consents"),
        ({"consents": {"terms": 1}}, "consents"),
        ({"consents": {"terms": True, "marketing_email": "on"}}, "consents"),
    ],
)
def test_bad_input_is_a_400_with_per_field_errors_and_no_rows(client, overrides, field):
    response = _post(client, _payload(**overrides))
    assert response.status_code == 400
    assert field in response.json()
    assert all(isinstance(m, str) for m in response.json()[field])
    assert _rows() == (0, 0, 0)


def test_lone_surrogates_and_nul_are_field_errors_not_500(client):
    body = (
        '{"email": "s@example.com", "name": "Ann\\ud800\\u0000A", '
        '"company": "\\udfff", "consents": {"terms": true, "\\ud800": true}}'
    )
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    errors = response.json()
    assert "Null characters are not allowed." in errors["name"]
    assert any("Surrogate" in message for message in errors["company"])
    assert _rows() == (0, 0, 0)


def test_unknown_consent_keys_are_refused_without_echoing_them(client):
    body = '{"email": "s@example.com", "name": "Ann", "consents": {"terms": true, "\\ud800": true}}'
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "Unknown consent purpose" in response.json()["consents"][0]


def test_bidi_overrides_and_zero_width_characters_are_dropped(client):
    assert _post(client, _payload(name="Ann\u202e\u200bA")).status_code == 201
    assert Lead.objects.get().name == "AnnA"


def test_html_in_names_is_stored_as_text(client):
    _post(client, _payload(name='"><svg onload=alert(1)>'))
    assert Lead.objects.get().name == '"><svg onload=alert(1)>'


def test_malformed_wrong_type_and_oversized_bodies_are_refused(client):
    assert client.post(URL, "{not json", content_type="application/json").status_code == 400
    assert client.post(URL, "email=a", content_type="text/plain").status_code == 415
    # The body cap answers before the name's max_length is ever looked at.
    huge = json.dumps(_payload(name="x" * 3_000_000))
    assert client.post(URL, huge, content_type="application/json").status_code == 413
    assert _rows() == (0, 0, 0)


def _padded(size: int) -> str:
    """A valid submission of exactly `size` bytes: the serializer ignores the unknown key, so
    only the body's size can refuse it."""
    body = json.dumps(_payload(padding=""))
    return body.replace('"padding": ""', '"padding": "' + "p" * (size - len(body)) + '"')


def test_a_valid_body_of_three_megabytes_is_refused_with_413_and_no_rows(client):
    # Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE too, which would answer with its HTML 400 page
    # (and older DRF parsed it regardless); the API's own cap answers first, in its own JSON.
    response = client.post(URL, _padded(3_000_000), content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert _rows() == (0, 0, 0)


def test_a_body_at_the_cap_is_captured_and_one_byte_more_is_refused(client, settings):
    cap = settings.LEADS_API_MAX_BODY_BYTES
    assert client.post(URL, _padded(cap + 1), content_type="application/json").status_code == 413
    assert _rows() == (0, 0, 0)

    response = client.post(URL, _padded(cap), content_type="application/json")
    assert response.status_code == 201
    assert _rows() == (1, 2, 1)


def test_a_body_longer_than_its_content_length_is_measured_before_it_is_parsed(settings):
    """Under ASGI nothing cuts the body at its Content-Length (WSGI's LimitedStream does), so a
    client that understates it would otherwise have up to 2.5 MB parsed and captured."""
    factory = AsyncRequestFactory()
    for size in (settings.LEADS_API_MAX_BODY_BYTES * 2, 3_000_000):
        request = factory.post(URL, _padded(size), content_type="application/json")
        request.META["CONTENT_LENGTH"] = "100"

        response = LeadCaptureAPI.as_view()(request)

        assert response.status_code == 413
    assert _rows() == (0, 0, 0)


def test_a_missing_or_understated_content_length_reads_no_more_than_it_says(client):
    # WSGI reads at most Content-Length bytes: without one DRF parses no body at all, and an
    # understated one leaves truncated JSON. Either way nothing is captured.
    body = _padded(3_000_000)
    missing = client.post(URL, body, content_type="application/json", CONTENT_LENGTH="")
    understated = client.post(URL, body, content_type="application/json", CONTENT_LENGTH="100")

    assert missing.status_code == 400
    assert "email" in missing.json()
    assert understated.status_code == 400
    assert "JSON parse error" in understated.json()["detail"]
    assert _rows() == (0, 0, 0)


def test_rate_limits_answer_429_with_a_plain_message(client, settings):
    settings.LEADS_RATE_LIMIT_PER_IP = 2
    codes = [
        _post(client, _payload(email=f"r{n}@example.com"), REMOTE_ADDR="192.0.2.90").status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]
    response = _post(client, _payload(email="r9@example.com"), REMOTE_ADDR="192.0.2.90")
    assert "wait a minute" in response.json()["detail"]


def test_get_is_not_allowed_and_creates_nothing(client):
    assert client.get(URL, {"email": "g@example.com", "name": "G"}).status_code == 405
    assert _rows() == (0, 0, 0)


def test_cors_allows_only_the_configured_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://partner.example"]
    preflight = {
        "HTTP_ORIGIN": "https://partner.example",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type",
    }
    allowed = client.options(URL, **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "https://partner.example"
    refused = client.options(URL, **{**preflight, "HTTP_ORIGIN": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused
    response = _post(client, _payload(), HTTP_ORIGIN="https://partner.example")
    assert response["Access-Control-Allow-Origin"] == "https://partner.example"


def test_the_endpoint_is_in_the_openapi_schema_and_swagger(client):
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    capture = paths["/api/v1/leads/"]["post"]
    assert capture["operationId"] == "leads_capture"
    assert "201" in capture["responses"] and "429" in capture["responses"]
    body = capture["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("LeadCaptureRequest")
    assert "/api/v1/leads/consent-texts/" in paths
    assert client.get("/api/docs/").status_code == 200


def test_over_long_metadata_is_cut_to_fit_not_refused(client):
    response = _post(client, _payload(email="meta@example.com", utm_source="u" * 5000))

    assert response.status_code == 201
    assert Touchpoint.objects.get(lead__email="meta@example.com").utm_source == "u" * 200
