"""The Content-Security-Policy on our pages (django-csp, policy in config/settings/csp.py)."""

import re

import pytest
from csp.decorators import csp_exempt
from csp.middleware import CSPMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from checkout.portal.links import portal_token_make
from config.settings.csp import content_security_policy, csp_extra_sources_parse
from leads.models import ConsentConfirmation
from leads.services.consent import consent_confirmation_token, consent_withdrawal_token
from tests.checkout.factories import OfferFactory, OrderFactory, TaxRateFactory
from tests.leads.factories import capture_lead

LOCALSTRIPE_JS = "http://127.0.0.1:8420/js.stripe.com/v3/"
LOCALSTRIPE = "http://127.0.0.1:8420"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice in {header}"
        directives[name] = sources
    return directives


def _assert_strict(policy: dict[str, list[str]], stripe: str) -> None:
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", stripe]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'", stripe]
    assert policy["frame-src"] == [stripe]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    everything = [source for sources in policy.values() for source in sources]
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:"):
        assert loose not in everything


def _assert_nothing_inline(html: str) -> None:
    """What the policy would block: inline scripts, event handler attributes, inline styles."""
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == []
    assert re.findall(r"\son[a-z]+\s*=", html) == []
    assert re.findall(r"\sstyle\s*=|<style", html) == []


def _header(policy: dict) -> str:
    """The header django-csp builds from a CONTENT_SECURITY_POLICY setting."""
    from csp.utils import build_policy, default_config

    return build_policy(config=default_config(policy["DIRECTIVES"]))


@pytest.fixture
def stand_in(settings):
    settings.STRIPE_JS_URL = LOCALSTRIPE_JS
    settings.STRIPE_API_BASE = LOCALSTRIPE
    settings.CSP_EXTRA_SOURCES = {}
    settings.CONTENT_SECURITY_POLICY = content_security_policy(stripe_js_url=LOCALSTRIPE_JS)


@pytest.mark.django_db
def test_the_lead_form_and_the_consent_pages_carry_the_strict_policy(client, stand_in):
    lead = capture_lead(consents={"terms": True, "marketing_email": True})
    confirmation = ConsentConfirmation.objects.get(lead=lead)
    pages = [
        "/start/",
        reverse("leads:consent-confirm", args=[consent_confirmation_token(confirmation)]),
        reverse(
            "leads:consent-withdraw",
            args=[consent_withdrawal_token(lead=lead, purpose="marketing_email")],
        ),
    ]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        _assert_strict(_policy(page), LOCALSTRIPE)
        _assert_nothing_inline(page.content.decode())


@pytest.mark.django_db
def test_the_checkout_pages_with_the_card_form_carry_the_strict_policy(client, stand_in):
    TaxRateFactory(country="GB", rate_bp=2000)
    offer = OfferFactory(slug="course", price_amount=12_000, currency="EUR")
    start = client.get(f"/checkout/{offer.slug}/")
    token = re.search(rb'name="token" value="([0-9a-f-]+)"', start.content).group(1).decode()
    data = {
        "token": token,
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "billing_country": "GB",
        "terms": "on",
    }
    pay = client.post(f"/checkout/{offer.slug}/", data, follow=True)

    assert f'<script src="{LOCALSTRIPE_JS}">' in pay.content.decode()  # the card form
    for page in (start, pay):
        assert page.status_code == 200
        _assert_strict(_policy(page), LOCALSTRIPE)
        _assert_nothing_inline(page.content.decode())


@pytest.mark.django_db
def test_the_customer_portal_with_the_card_form_carries_the_strict_policy(client, stand_in):
    order = OrderFactory(email="ada@example.com")
    page = client.get(f"/account/{portal_token_make(email=order.email)}/")

    assert page.status_code == 200 and order.reference in page.content.decode()
    assert f'<script src="{LOCALSTRIPE_JS}">' in page.content.decode()
    _assert_strict(_policy(page), LOCALSTRIPE)
    _assert_nothing_inline(page.content.decode())


@pytest.mark.django_db
def test_the_admin_carries_the_policy_too(client, stand_in):
    page = client.get("/admin/login/")
    assert page.status_code == 200
    _assert_strict(_policy(page), LOCALSTRIPE)


def test_with_real_stripe_the_policy_names_what_stripes_guide_lists_for_stripe_js():
    # STRIPE_API_BASE is the server's address for Stripe; real Stripe.js talks to
    # api.stripe.com whatever it is, so it never reaches the header.
    header = _header(content_security_policy(stripe_js_url="https://js.stripe.com/v3/"))
    policy = {name: sources for name, *sources in (part.split() for part in header.split(";"))}

    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert policy["style-src"] == ["'self'"] and policy["img-src"] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header


def test_a_stand_in_is_allowed_from_where_the_browser_loads_it_not_the_servers_address(client):
    # docker-compose: the server reaches localstripe as http://localstripe:8420, the browser as
    # http://localhost:8420; the stand-in calls back to the origin it was loaded from.
    header = _header(
        content_security_policy(stripe_js_url="http://localhost:8420/js.stripe.com/v3/")
    )
    assert "connect-src 'self' http://localhost:8420" in header.split("; ")
    assert "localstripe:8420" not in header


def test_the_swagger_page_runs_under_the_policy_from_our_own_static_files(client, stand_in):
    page = client.get("/api/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    html = page.content.decode()
    assert "<style" not in html and "cdn.jsdelivr" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # every script is a file
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


def test_a_view_that_sets_its_own_policy_or_is_exempt_keeps_it(settings, stand_in):
    request = RequestFactory().get("/")

    def own(request):
        response = HttpResponse("<p>hi</p>")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    def html(request):
        return HttpResponse("<p>hi</p>")

    def through_middleware(view):
        middleware = CSPMiddleware(view)
        middleware.process_request(request)
        return middleware.process_response(request, view(request))

    assert through_middleware(own)["Content-Security-Policy"] == "default-src 'none'"
    assert "Content-Security-Policy" not in through_middleware(csp_exempt()(html))
    assert "Content-Security-Policy" in through_middleware(html)


def test_extra_sources_are_added_and_a_new_fetch_directive_keeps_self():
    extra = csp_extra_sources_parse(
        '{"img-src": ["https://cdn.example.com"], "font-src": ["https://fonts.example.com"]}'
    )
    header = _header(content_security_policy(stripe_js_url=LOCALSTRIPE_JS, extra_sources=extra))
    policy = {name: sources for name, *sources in (part.split() for part in header.split(";"))}

    assert policy["img-src"] == ["'self'", "data:", "https://cdn.example.com"]
    assert policy["font-src"] == ["'self'", "https://fonts.example.com"]
    assert policy["script-src"] == ["'self'", LOCALSTRIPE]


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '["https://cdn.example.com"]',
        '{"img-src": "https://cdn.example.com"}',
        '{"img-src": ["https://a.example.com; script-src *"]}',
        '{"img-src": ["https://a.example.com https://b.example.com"]}',
        '{"IMG SRC": ["https://cdn.example.com"]}',
    ],
)
def test_a_malformed_extra_sources_setting_stops_startup(raw):
    with pytest.raises(ImproperlyConfigured, match="CSP_EXTRA_SOURCES"):
        csp_extra_sources_parse(raw)


@pytest.mark.django_db
def test_debug_404_pages_style_themselves_so_only_they_go_without(client, settings, stand_in):
    assert "Content-Security-Policy" in client.get("/no-such-page/")
    settings.DEBUG = True
    assert "Content-Security-Policy" not in client.get("/no-such-page/")
