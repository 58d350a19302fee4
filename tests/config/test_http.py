"""config.http: the client's address, and the quick urlencoded form parser (config.middleware
FormBodyMiddleware) that must give exactly what Django's own QueryDict gives."""

import random

import pytest
from django.core.exceptions import TooManyFieldsSent
from django.http import QueryDict
from django.test import RequestFactory

from config.http import querydict_from_urlencoded
from config.middleware import FormBodyMiddleware

BODIES = [
    b"",
    b"a=1",
    b"a=1&a=2&b=3&a=4",
    b"a",
    b"a=",
    b"=b",
    b"&&a=1&&",
    b"a=1;b=2",
    b"a+b=c+d",
    b"%41=%42&%2B=%2b",
    b"%zz=%&x=%4",
    b"email=grace%40example.com&name=Gr%C3%A2ce+H%C3%B6pper",
    b"a=%E2%82%AC&b=%ff%fe",  # a valid and an invalid UTF-8 escape
    b"\xff\xfe=\xe9",  # not UTF-8 at all: QueryDict falls back to ISO-8859-1
    "name=Zoë&city=Łódź".encode(),
    b"csrfmiddlewaretoken=abc&email=x%40y.z&consent_terms=on&started=1767225600000.ab12",
    b"x=" + b"%00%01%0A%0D" + b"&y=<script>alert(1)</script>",
]


def _same(body: bytes) -> None:
    expected = QueryDict(body, encoding="utf-8")
    got = querydict_from_urlencoded(body)
    assert type(got) is QueryDict
    assert list(got.lists()) == list(expected.lists())
    assert got.encoding == expected.encoding == "utf-8"
    with pytest.raises(AttributeError):  # immutable, as request.POST is
        got["new"] = "value"


@pytest.mark.parametrize("body", BODIES)
def test_the_quick_parser_gives_what_querydict_gives(body):
    _same(body)


def test_the_quick_parser_agrees_with_querydict_on_random_bodies():
    alphabet = [b"a", b"b", b"=", b"&", b"%", b"+", b";", b"4", b"1", b"F", b"\xc3\xa9", b"\xff"]
    rng = random.Random(20261206)
    for _ in range(3000):
        _same(b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))))


def test_too_many_fields_is_the_same_error(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    body = b"a=1&b=2&c=3&d=4"
    with pytest.raises(TooManyFieldsSent):
        QueryDict(body, encoding="utf-8")
    with pytest.raises(TooManyFieldsSent):
        querydict_from_urlencoded(body)
    _same(b"a=1&b=2&c=3")


def _through_middleware(request):
    seen = {}

    def view(req):
        seen["parsed_before_the_view"] = hasattr(req, "_post")
        seen["post"] = req.POST
        return None

    FormBodyMiddleware(view)(request)
    return seen["post"], seen["parsed_before_the_view"]


def test_the_middleware_parses_a_form_post_once_and_leaves_other_bodies_to_django():
    factory = RequestFactory()
    form = factory.post("/start/", data="a=1&b=2", content_type="application/x-www-form-urlencoded")
    post, parsed = _through_middleware(form)
    assert parsed and list(post.lists()) == [("a", ["1"]), ("b", ["2"])]

    multipart = factory.post("/start/", data={"a": "1"})  # multipart/form-data
    post, parsed = _through_middleware(multipart)
    assert not parsed and list(post.lists()) == [("a", ["1"])]

    json_body = factory.post("/api/", data='{"a": 1}', content_type="application/json")
    post, parsed = _through_middleware(json_body)
    assert not parsed and list(post.lists()) == []


def test_the_middleware_leaves_a_body_django_would_refuse_to_django(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    request = RequestFactory().post(
        "/start/", data="a=1&b=2&c=3", content_type="application/x-www-form-urlencoded"
    )
    with pytest.raises(TooManyFieldsSent):
        _through_middleware(request)  # raised where Django raises it: on reading POST


def test_the_pairs_are_parse_qsls():
    from urllib.parse import parse_qsl

    from config.http import urlencoded_pairs

    alphabet = ["a", "b", "=", "&", "%", "+", ";", "4", "1", "F", "é", "%C3", "%A9", "%zz", " "]
    rng = random.Random(61220)
    cases = [body.decode("iso-8859-1") for body in BODIES]
    cases += [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(5000)
    ]
    for text in cases:
        assert urlencoded_pairs(text) == parse_qsl(text, keep_blank_values=True), text
