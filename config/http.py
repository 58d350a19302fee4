"""What a request says about the client, for every app: its IP address behind our own proxies.

It lives in config, the lowest floor, so that everything that reads a client address (the
admin login's lockouts, request limits, checkout's velocity, the IP on consent records) reads
it the same way, from the one TRUSTED_PROXY_COUNT setting.
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
    """REMOTE_ADDR, or the address the first of our own proxies saw: with TRUSTED_PROXY_COUNT
    proxies in front of us, each appending to X-Forwarded-For, the client is the entry that many
    places from the right. Anything further left is the client's own claim and is ignored; a
    header shorter than that was not written by our proxies, so REMOTE_ADDR stands.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return ip_normalise(forwarded[-hops])
    return ip_normalise(request.META.get("REMOTE_ADDR"))


def ip_network(ip: str) -> str:
    """The client an address belongs to, as limits and lockouts count it: an IPv4 address
    itself, an IPv6 address's /64 (its first address). One subscriber usually holds a whole
    /64, so counting single addresses would give one client billions of fresh budgets."""
    if ":" not in ip:
        return ip
    return str(ipaddress.IPv6Network(f"{ip}/64", strict=False).network_address)


def client_network(request: HttpRequest) -> str | None:
    """ip_network of the client's address; None when the address is unknown."""
    ip = client_ip(request)
    return None if ip is None else ip_network(ip)
