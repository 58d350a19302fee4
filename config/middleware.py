import re
import uuid

from django.conf import settings
from django.utils.datastructures import MultiValueDict

from config.csp import content_security_policy, csp_extra_sources_freeze
from config.http import querydict_from_urlencoded
from config.logging import request_id_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give each request an id: the caller's X-Request-ID when it is sane, else a new one.

    The id is on every log line the request writes and is echoed in the response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    """Send our Content-Security-Policy (config.csp) with every HTML response.

    A response that already has a policy, or whose view is wrapped in csp_exempt, is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            getattr(response, "csp_exempt", False)
            or response.has_header("Content-Security-Policy")
            or response.has_header("Content-Security-Policy-Report-Only")
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        if settings.DEBUG and response.status_code in (404, 500):
            # Django's technical 404 and 500 pages style themselves inline; without this a
            # developer would get them unstyled. Production never shows them.
            return response
        response["Content-Security-Policy"] = content_security_policy(
            stripe_js_url=settings.STRIPE_JS_URL,
            extra_sources=csp_extra_sources_freeze(settings.CSP_EXTRA_SOURCES),
        )
        return response


class FormBodyMiddleware:
    """Parse an urlencoded POST body into request.POST (config.http.querydict_from_urlencoded)
    before CsrfViewMiddleware asks for it. Anything but the plain case (another content type, a
    body already read, an error) is left to Django's own lazy parsing, which then behaves, and
    fails, exactly as it always does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method == "POST"
            and request.content_type == "application/x-www-form-urlencoded"
            and request.encoding in (None, "utf-8", "UTF-8")
            and not request._read_started
            and not hasattr(request, "_post")
        ):
            try:
                post = querydict_from_urlencoded(request.body)
            except Exception:  # noqa: S110 (Django parses it again, and raises in its place)
                pass
            else:
                request._post, request._files = post, MultiValueDict()
        return self.get_response(request)
