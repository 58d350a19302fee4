import re
import time
import uuid

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from config.audit import audit_actor_var
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


class StaffIdleSessionMiddleware:
    """A staff session that has seen no request for STAFF_SESSION_IDLE_SECONDS is ended: the
    next request is anonymous, and the admin asks for the password (and second factor) again.

    The last-seen time is written at most once a minute, so a busy page does not save the
    session on every request; the cookie's own expiry follows it.
    """

    SESSION_KEY = "staff_last_seen"
    WRITE_EVERY_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            idle = settings.STAFF_SESSION_IDLE_SECONDS
            now = int(time.time())
            last_seen = request.session.get(self.SESSION_KEY)
            if last_seen is not None and now - int(last_seen) > idle:
                logout(request)
            elif last_seen is None or now - int(last_seen) >= self.WRITE_EVERY_SECONDS:
                request.session[self.SESSION_KEY] = now
                request.session.set_expiry(idle)
        return self.get_response(request)


@receiver(user_logged_in, dispatch_uid="portal.staff_session_started")
def staff_session_started(sender, request, user, **_kwargs) -> None:
    """The idle clock starts at sign-in (in the login's own session save)."""
    if user.is_staff and request is not None and hasattr(request, "session"):
        request.session[StaffIdleSessionMiddleware.SESSION_KEY] = int(time.time())
        request.session.set_expiry(settings.STAFF_SESSION_IDLE_SECONDS)


class AuditActorMiddleware:
    """Who is acting, for audit entries written where no request is at hand (the signal
    receivers in config/staff_audit.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit_actor_var.set(getattr(request, "user", None))
        try:
            return self.get_response(request)
        finally:
            audit_actor_var.reset(token)
