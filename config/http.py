"""What a request says about the client, for every app: its IP address behind our own proxies.

It lives in config, the lowest floor, so that the admin login's limits (config.auth) and the
apps above (the lead form, the checkout) read the address the same way.
"""

import functools
import ipaddress
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent, ValidationError
from django.core.validators import validate_ipv46_address
from django.http import HttpRequest, QueryDict
from django.utils.ipv6 import clean_ipv6_address


@functools.lru_cache(maxsize=4096)
def ip_normalise(value: str | None) -> str | None:
    """The textual form Postgres `inet` gives back, so consent hashes match after a round trip;
    None when the value is not an IP address. Kept per process for the last few thousand
    addresses: a submission normalises its client's address three times (client, touchpoint,
    consent records), and validating one costs more than the rest of the lookup."""
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


def urlencoded_pairs(text: str) -> list[tuple[str, str]]:
    """`urllib.parse.parse_qsl(text, keep_blank_values=True)` (UTF-8, undecodable escapes
    replaced, "&" alone separates), without its per-field helper calls: a field that needs no
    decoding is taken as it is."""
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = unquote(value)
        pairs.append((name, value))
    return pairs


def querydict_from_urlencoded(body: bytes) -> QueryDict:
    """What `QueryDict(body, encoding="utf-8")` gives for a form's urlencoded body (Django's
    request.POST), built without QueryDict's per-field method calls, which cost more than the
    parsing itself: the same fields (urlencoded_pairs is parse_qsl's rules), the same limit and
    error, the same immutable result.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("iso-8859-1")  # as QueryDict does for misbehaving user agents
    fields = 1 + text.count("&") if text else 0
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and fields > limit:
        raise TooManyFieldsSent(
            "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS."
        )
    values: dict[str, list[str]] = {}
    for key, value in urlencoded_pairs(text):
        if key in values:
            values[key].append(value)
        else:
            values[key] = [value]
    result = QueryDict(mutable=True, encoding="utf-8")
    dict.update(result, values)  # a MultiValueDict is a dict of each key's list of values
    result._mutable = False
    return result
