"""The Content-Security-Policy (django-csp) sent with every page.

The payment pages load Stripe.js and take card details, and PCI DSS 4.0 req. 6.4.3 wants every
script on them authorised: the policy allows our own static files and Stripe.js, and nothing
inline (no 'unsafe-inline', no 'unsafe-eval', no nonces). Our templates load scripts and
stylesheets from /static/ only; setting element.style from a script (as localstripe's 3DS box
does) is not an inline style and stays allowed.
"""

import json
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

STRIPE_JS_ORIGIN = "https://js.stripe.com"

# What Stripe's integration security guide (docs.stripe.com/security/guide, section Content
# Security Policy) lists for Stripe.js. hooks.stripe.com serves the bank's check (3DS) and
# redirects; Stripe.js runs its frames on *.js.stripe.com. The guide also lists
# maps.googleapis.com, for the Address Element's autocomplete, which we do not use. Its img-src
# entry (https://*.stripe.com) is for Stripe Checkout, which we do not use either.
_REAL_STRIPE = {
    "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
    "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}

_DIRECTIVE = re.compile(r"^[a-z][a-z-]*$")
_FORBIDDEN_IN_SOURCE = re.compile(r"[\s;,]")


def _stripe_sources(stripe_js_url: str) -> dict[str, list[str]]:
    parts = urlsplit(stripe_js_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"STRIPE_JS_URL must be an http(s) URL; got {stripe_js_url!r}")
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin == STRIPE_JS_ORIGIN:
        return _REAL_STRIPE
    # A stand-in (localstripe in dev and tests) serves the script and answers its calls from one
    # origin: the script posts to the origin it was loaded from, not to STRIPE_API_BASE (which
    # is the server's address for Stripe, e.g. http://localstripe:8420 inside docker-compose,
    # a name the browser cannot reach). It draws plain inputs and opens no frame.
    return {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}


def csp_extra_sources_parse(raw: str) -> dict[str, list[str]]:
    """CSP_EXTRA_SOURCES from the environment: a JSON object of directive -> list of sources.
    A malformed one stops start-up with the reason."""
    if not raw.strip():
        return {}
    try:
        extra = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"CSP_EXTRA_SOURCES is not JSON: {error}") from None
    if not isinstance(extra, Mapping):
        raise ImproperlyConfigured("CSP_EXTRA_SOURCES must map a directive to a list of sources")
    for directive, sources in extra.items():
        if not _DIRECTIVE.match(directive):
            raise ImproperlyConfigured(f"CSP_EXTRA_SOURCES: {directive!r} is not a directive")
        if not isinstance(sources, list) or not all(
            isinstance(s, str) and s and not _FORBIDDEN_IN_SOURCE.search(s) for s in sources
        ):
            raise ImproperlyConfigured(
                f"CSP_EXTRA_SOURCES[{directive!r}] must be a list of single sources, "
                'e.g. ["https://cdn.example.com"]'
            )
    return extra


def content_security_policy(
    *, stripe_js_url: str, extra_sources: Mapping[str, list[str]] | None = None
) -> dict:
    """The CONTENT_SECURITY_POLICY setting (django-csp) for this Stripe.js and extra sources."""
    stripe = _stripe_sources(stripe_js_url)
    directives: dict[str, list[str]] = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *stripe["script-src"]],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *stripe["connect-src"]],
        "frame-src": [*stripe["frame-src"]],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for directive, sources in (extra_sources or {}).items():
        # A fetch directive we do not set falls back to default-src 'self'; keep 'self' when
        # adding one, so an extra font host does not take our own fonts away.
        current = directives.setdefault(directive, ["'self'"] if directive.endswith("-src") else [])
        current.extend(s for s in sources if s not in current)
    return {"DIRECTIVES": directives}
