"""config.http: the client's address behind TRUSTED_PROXY_COUNT proxies, for every app."""

import pytest
from django.test import RequestFactory

from config.http import client_ip, client_network, ip_normalise


def _request(remote_addr: str = "10.0.0.1", forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_with_no_proxy_trusted_the_header_is_the_clients_claim_and_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(forwarded="192.0.2.1")) == "10.0.0.1"


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, "192.0.2.1, 203.0.113.9", "203.0.113.9"),  # the client's own claim is left of it
        (2, "192.0.2.1, 203.0.113.9, 198.51.100.2", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),  # shorter than our proxies write it: not theirs
        (1, "", "10.0.0.1"),
        (1, "not-an-address", None),
    ],
)
def test_behind_trusted_proxies_the_address_they_saw_is_the_client(
    settings, hops, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = hops
    assert client_ip(_request(forwarded=forwarded)) == expected


def test_an_ipv6_client_is_its_64_network(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_network(_request("2001:db8:aa:bb::beef")) == "2001:db8:aa:bb::"
    assert client_network(_request("2001:db8:aa:bb:1:2:3:4")) == "2001:db8:aa:bb::"
    assert client_network(_request("192.0.2.7")) == "192.0.2.7"
    assert client_network(_request("")) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 2001:DB8::0:7 ", "2001:db8::7"),
        ("::192.0.2.1", "::192.0.2.1"),  # as Postgres inet writes it back
        ("999.1.1.1", None),
        ("", None),
        (None, None),
    ],
)
def test_addresses_are_written_as_postgres_gives_them_back(value, expected):
    assert ip_normalise(value) == expected
