"""What a request says about the client, for every app: its IP address behind our own proxies.

It lives in config, the lowest floor, so that the admin login's limits (config.auth) and the
apps above (the lead form, the checkout) read the address the same way.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.http import HttpRequest
from django.utils.ipv6 import clean_ipv6_address


def ip_normalise(value: str | None) -> str | None:
    """The textual form Postgres `inet` gives back, so consent hashes match after a round trip;
    None when the value is not an IP address."""
    if not value:
        return None
    value = value.strip()
    try:
        validate_ipv46_address(value)
    except ValidationError:
        return None
    if ":" not in value:
        return value
    cleaned = clean_ipv6_address(value)
    packed = ipaddress.IPv6Address(cleaned).packed
    if packed[:12] == bytes(12) and packed[12:14] != b"\0\0":
        # IPv4-compatible (::a.b.c.d): Postgres writes the IPv4 part dotted, Python in hex.
        return "::" + str(ipaddress.IPv4Address(packed[12:]))
    return cleaned


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address our own proxies saw (LEADS_TRUSTED_PROXY_COUNT hops of
    X-Forwarded-For). Anything left of those hops is the client's claim and is ignored.

    The setting keeps its name from the lead form, where it was first needed; it describes the
    deployment (how many proxies append to the header), so it holds for every app.
    """
    hops = settings.LEADS_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return ip_normalise(forwarded[-hops])
    return ip_normalise(request.META.get("REMOTE_ADDR"))
