"""What a request tells us about the visitor: IP, country, and the capture context."""

import re

from django.conf import settings
from django.http import HttpRequest

from config.http import client_ip
from leads.normalise import LeadInputError, country_normalise
from leads.types import CaptureContext

_LANGUAGE_REGION = re.compile(r"^[a-zA-Z]{2,3}[-_]([a-zA-Z]{2})\b")


def geo_country(request: HttpRequest) -> str:
    header = settings.LEADS_GEO_COUNTRY_HEADER
    if not header:
        return ""
    key = "HTTP_" + header.upper().replace("-", "_")
    try:
        return country_normalise(request.META.get(key, "")[:2])
    except LeadInputError:
        return ""


def country_default(request: HttpRequest) -> str:
    """A smart default for the country field: the CDN's geo header, else the region of the
    browser's preferred language (en-GB -> GB), else LEADS_DEFAULT_COUNTRY."""
    country = geo_country(request)
    if country:
        return country
    for part in request.META.get("HTTP_ACCEPT_LANGUAGE", "").split(","):
        match = _LANGUAGE_REGION.match(part.strip())
        if match:
            try:
                code = country_normalise(match.group(1))
            except LeadInputError:
                continue
            if code:
                return code
    return settings.LEADS_DEFAULT_COUNTRY


def capture_context(request: HttpRequest, *, source_form: str, method: str) -> CaptureContext:
    return CaptureContext(
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        source_form=source_form,
        source_url=request.build_absolute_uri()[:2000],
        method=method,
        ip_country=geo_country(request),
    )
