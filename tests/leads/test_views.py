import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from leads.models import ConsentConfirmation, ConsentRecord, Lead, Touchpoint
from leads.services import consent_text_current
from leads.services.consent import consent_confirmation_token, consent_withdrawal_token
from tests.leads.factories import capture_lead, lead_form_data

pytestmark = pytest.mark.django_db

START = "/start/"


def _rows():
    return (Lead.objects.count(), ConsentRecord.objects.count(), Touchpoint.objects.count())


def test_the_form_asks_only_what_it_needs_with_mobile_friendly_inputs(client):
    response = client.get(START, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.5")
    html = response.content.decode()

    assert response.status_code == 200
    assert re.search(r'<input type="email" name="email"[^>]*autocomplete="email"', html)
    assert 'inputmode="email"' in html
    assert re.search(r'<input type="tel" name="phone"[^>]*inputmode="tel"', html)
    assert 'autocomplete="tel"' in html and 'autocomplete="name"' in html
    assert 'autocomplete="organization"' in html and 'autocomplete="country"' in html
    assert '<option value="AT" selected>Austria</option>' in html  # from the browser language
    # Each field says why it is asked.
    for why in ["So we can reply to you", "So we know who to ask for", "If you are buying"]:
        assert why in html
    assert consent_text_current(purpose="terms").text in html
    assert 'name="website"' in html and 'aria-hidden="true"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    visible_inputs = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*name="([^"]+)"', html)
    assert visible_inputs == [
        "email",
        "name",
        "company",
        "phone",
        "country",
        "consent_terms",
        "consent_marketing_email",
        "consent_sms",
        "website",
    ]


def test_the_country_default_prefers_the_cdn_geo_header(client, settings):
    settings.LEADS_GEO_COUNTRY_HEADER = "CF-IPCountry"
    html = client.get(START, HTTP_CF_IPCOUNTRY="FR", HTTP_ACCEPT_LANGUAGE="en-GB").content
    assert b'<option value="FR" selected>France</option>' in html
    settings.LEADS_GEO_COUNTRY_HEADER = ""
    html = client.get(START).content
    assert b'<option value="GB" selected>United Kingdom</option>' in html


def test_utm_parameters_and_referrer_are_carried_into_hidden_fields(client):
    html = client.get(
        START + "?utm_source=google&utm_medium=cpc&gclid=abc123", HTTP_REFERER="https://g.co/"
    ).content.decode()
    assert 'name="utm_source" value="google"' in html
    assert 'name="gclid" value="abc123"' in html
    assert 'name="referrer" value="https://g.co/"' in html
    assert "utm_source=google" in re.search(r'name="landing_page" value="([^"]+)"', html)[1]


def test_a_good_submission_creates_the_lead_and_redirects(client):
    response = client.post(START, lead_form_data(), REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 303
    assert response["Location"] == "/start/thanks/"
    lead = Lead.objects.get()
    assert lead.email == "grace@example.com"
    assert lead.last_touch.utm_campaign == "launch"
    assert lead.last_touch.referrer == "https://news.example/"
    assert [(r.purpose, r.decision) for r in lead.consent_records.order_by("sequence")] == [
        ("terms", "granted"),
        ("marketing_email", "not_given"),
        ("sms", "not_given"),
    ]
    assert lead.risk_score == 0
    assert client.get(response["Location"]).status_code == 200


def test_ticking_marketing_email_asks_the_person_to_check_their_inbox(
    client, django_capture_on_commit_callbacks, celery_eager
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(START, lead_form_data(consent_marketing_email="on"))
    assert response["Location"] == "/start/thanks/?confirm=email"
    assert "check your inbox" in client.get(response["Location"]).content.decode()
    # Intake (inline here, a worker in production) opened the confirmation and sent the email.
    assert ConsentConfirmation.objects.filter(sent_at__isnull=False).count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "a@b"}, "email", "Enter an email address like name@example.com."),
        ({"email": ""}, "email", "Tell us your email address"),
        ({"name": ""}, "name", "Tell us your name"),
        ({"name": "x" * 10_000}, "name", "at most 150 characters"),
        ({"phone": "12"}, "phone", "Enter a phone number we can call"),
        ({"consent_terms": None}, "consent_terms", "Tick this box"),
        ({"country": "XX"}, "country", "Choose your country from the list."),
        ({"country": "GBR"}, "country", "at most 2 characters"),
        ({"company": "c" * 201}, "company", "at most 200 characters"),
    ],
)
def test_a_bad_submission_shows_a_field_error_and_creates_no_rows(
    client, overrides, field, message
):
    before = _rows()
    response = client.post(START, lead_form_data(**overrides))
    html = response.content.decode()

    assert response.status_code == 400
    assert _rows() == before
    error_list = re.search(
        rf'<ul class="errorlist" id="id_{field}_error"[^>]*>(.*?)</ul>', html, re.S
    )
    assert message in error_list[1]
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html)


def test_a_body_over_the_upload_limit_or_too_many_fields_is_a_400_without_rows(client, settings):
    # Django's own limits guard the form (request.POST); nothing in the view repeats them. The
    # extra fields are ones the form ignores, so only the limits can refuse these posts.
    padded = lead_form_data(padding="p" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    many = lead_form_data(
        **{f"extra{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)}
    )
    for body in (padded, many):
        response = client.post(START, body)

        assert response.status_code == 400
        assert b'name="email"' not in response.content  # Django's refusal, not the form's
    assert _rows() == (0, 0, 0)
    assert client.post(START, lead_form_data(padding="p" * 100)).status_code == 303


def test_a_forged_consent_version_is_an_error_without_rows(client):
    before = _rows()
    response = client.post(
        START, lead_form_data(consent_text_terms=consent_text_current(purpose="sms").pk)
    )
    assert response.status_code == 400
    assert "This form is out of date" in response.content.decode()
    assert _rows() == before


def test_markup_in_the_name_is_stored_as_text_and_escaped(client):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client.post(START, lead_form_data(name=payload))
    assert Lead.objects.get().name == payload

    response = client.post(START, lead_form_data(name=payload, email="bad"))
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_nul_is_a_field_error_not_a_server_error(client):
    response = client.post(START, lead_form_data(name="Nu\x00ll"))
    assert response.status_code == 400
    assert "Null characters are not allowed" in response.content.decode()
    assert _rows() == (0, 0, 0)


def test_invalid_utf8_and_bidi_overrides_do_not_break_the_form(client):
    from urllib.parse import urlencode

    body = urlencode(lead_form_data(name="Eve\u202eevil", company=None)) + "&company=A%ED%A0%80B"
    response = client.post(START, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303
    lead = Lead.objects.get()
    assert lead.name == "Eveevil"
    assert lead.company.startswith("A") and lead.company.endswith("B")


def test_csrf_is_enforced_and_a_get_never_creates_a_lead():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(START, lead_form_data()).status_code == 403
    assert strict.post(START, "email=a@example.com", content_type="text/plain").status_code == 403
    strict.get(START + "?email=x@example.com&name=X&consent_terms=on")
    assert Lead.objects.count() == 0


def test_csrf_token_from_the_page_is_accepted():
    strict = Client(enforce_csrf_checks=True)
    html = strict.get(START).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    response = strict.post(START, lead_form_data(csrfmiddlewaretoken=token))
    assert response.status_code == 303


def test_the_sixth_post_a_minute_from_one_ip_gets_429(client, settings):
    settings.LEADS_RATE_LIMIT_PER_IP = 5
    for n in range(5):
        response = client.post(
            START, lead_form_data(email=f"p{n}@example.com"), REMOTE_ADDR="192.0.2.50"
        )
        assert response.status_code == 303
    response = client.post(START, lead_form_data(email="p9@example.com"), REMOTE_ADDR="192.0.2.50")
    assert response.status_code == 429
    assert "wait a minute" in response.content.decode()
    assert response["Retry-After"] == "60"
    assert Lead.objects.count() == 5
    # Another address is not affected.
    assert (
        client.post(
            START, lead_form_data(email="q@example.com"), REMOTE_ADDR="192.0.2.51"
        ).status_code
        == 303
    )


def test_one_email_from_many_ips_is_limited_too(client, settings):
    settings.LEADS_RATE_LIMIT_PER_EMAIL = 3
    codes = [
        client.post(START, lead_form_data(), REMOTE_ADDR=f"192.0.2.{60 + n}").status_code
        for n in range(4)
    ]
    assert codes == [303, 303, 303, 429]
    assert Touchpoint.objects.count() == 3


def test_a_honeypot_or_instant_submission_is_quarantined_quietly(client):
    response = client.post(START, lead_form_data(website="http://spam.example", started="forged"))
    assert response.status_code == 303  # a bot learns nothing
    lead = Lead.objects.get()
    assert lead.status == "spam"
    assert {f["rule"] for f in lead.risk_factors} == {"honeypot", "too_fast"}


def test_the_proxy_address_is_used_only_when_configured(client, settings):
    client.post(
        START, lead_form_data(), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert Touchpoint.objects.get().ip == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    client.post(
        START,
        lead_form_data(email="proxied@example.com"),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert Touchpoint.objects.get(lead__email="proxied@example.com").ip == "203.0.113.9"


def test_double_opt_in_link_confirms_on_the_button_not_on_opening(client):
    lead = capture_lead(consents={"terms": True, "marketing_email": True})
    confirmation = ConsentConfirmation.objects.get(lead=lead)
    url = reverse("leads:consent-confirm", args=[consent_confirmation_token(confirmation)])

    page = client.get(url)
    assert page.status_code == 200 and "Yes, send me emails" in page.content.decode()
    lead.refresh_from_db()
    assert lead.consents["marketing_email"] == "pending"

    done = client.post(url, REMOTE_ADDR="192.0.2.77", HTTP_USER_AGENT="Phone")
    assert done.status_code == 200 and "you are confirmed" in done.content.decode()
    record = lead.consent_records.order_by("-sequence").first()
    assert (record.method, record.decision, record.ip) == ("double_opt_in", "granted", "192.0.2.77")
    assert record.source_url.startswith("http://testserver/consent/confirm/")
    assert "Already confirmed" in client.get(url).content.decode()


def test_a_bad_confirmation_link_says_so(client):
    assert client.get("/consent/confirm/not-a-token/").status_code == 404


def test_the_confirmation_email_link_works(client):
    from leads.services import consent_confirmation_send

    lead = capture_lead(consents={"terms": True, "marketing_email": True})
    consent_confirmation_send(confirmation_id=ConsentConfirmation.objects.get(lead=lead).pk)
    link = re.search(r"https?://\S+/consent/confirm/\S+/", mail.outbox[0].body)[0]
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path).status_code == 200
    lead.refresh_from_db()
    assert lead.consents["marketing_email"] == "granted"


def test_one_click_withdrawal_records_a_withdrawal(client):
    lead = capture_lead(consents={"terms": True, "sms": True})
    url = reverse(
        "leads:consent-withdraw", args=[consent_withdrawal_token(lead=lead, purpose="sms")]
    )

    response = client.get(url, REMOTE_ADDR="192.0.2.88")
    assert response.status_code == 200
    assert "withdrew your consent to: text messages" in response.content.decode()
    record = lead.consent_records.order_by("-sequence").first()
    assert (record.decision, record.method, record.ip) == (
        "withdrawn",
        "withdrawal_link",
        "192.0.2.88",
    )
    # RFC 8058 one-click POST from the mail client, without a CSRF token: no second record.
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert lead.consent_records.filter(decision="withdrawn").count() == 1


def test_a_tampered_withdrawal_link_records_nothing(client):
    lead = capture_lead(consents={"terms": True, "sms": True})
    token = consent_withdrawal_token(lead=lead, purpose="sms")
    assert client.get(f"/consent/withdraw/{token[:-3]}abc/").status_code == 404
    assert lead.consent_records.filter(decision="withdrawn").count() == 0


def test_form_pages_and_their_answers_are_never_cached(client, settings):
    page = client.get(START)
    assert "no-store" in page["Cache-Control"]
    bad = client.post(START, lead_form_data(email="not an email"))
    assert bad.status_code == 400 and "no-store" in bad["Cache-Control"]
    settings.LEADS_RATE_LIMIT_PER_EMAIL = 1
    done = client.post(START, lead_form_data(email="cache@example.com"))
    assert done.status_code == 303 and "no-store" in done["Cache-Control"]
    refused = client.post(START, lead_form_data(email="cache@example.com"))
    assert refused.status_code == 429 and "no-store" in refused["Cache-Control"]


def test_over_long_hidden_fields_are_cut_to_fit_not_refused(client):
    response = client.post(
        START,
        lead_form_data(
            email="long@example.com",
            referrer="https://ref.example/?q=" + "r" * 8000,
            utm_source="s" * 900,
        ),
    )

    assert response.status_code == 303
    touch = Touchpoint.objects.get(lead__email="long@example.com")
    assert len(touch.referrer) == 2000 and touch.referrer.startswith("https://ref.example/?q=")
    assert touch.utm_source == "s" * 200
