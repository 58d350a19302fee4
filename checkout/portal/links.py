"""The portal's magic links.

A link is the buyer's email signed with a salt and a timestamp (TimestampSigner): it proves the
bearer can read that mailbox, expires after PORTAL_LINK_MAX_AGE_SECONDS and needs no table.
Asking for one is limited per email and per IP, and answers the same whether or not the email
has orders.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from checkout.models import Order
from config.limits import limit_exceeded

_SALT = "checkout.portal.link"


class PortalLinkInvalid(Exception):
    """The link was tampered with or is not ours."""


class PortalLinkExpired(PortalLinkInvalid):
    """The link is genuine but too old: ask for a new one."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def portal_token_make(*, email: str) -> str:
    return _signer().sign_object({"e": email.strip().lower()}, compress=True)


def portal_token_email(*, token: str) -> str:
    """The email a token was made for; raises PortalLinkExpired or PortalLinkInvalid."""
    try:
        data = _signer().unsign_object(token, max_age=settings.PORTAL_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise PortalLinkExpired(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise PortalLinkInvalid(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        raise PortalLinkInvalid("malformed")
    return data["e"]


def portal_url(*, email: str) -> str:
    path = reverse("checkout_portal:portal", kwargs={"token": portal_token_make(email=email)})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def portal_link_send(*, email: str) -> bool:
    """Email a portal link if this address has orders. Says nothing either way to the caller's
    caller: the view answers the same whether or not it was sent."""
    email = email.strip().lower()
    if not Order.objects.filter(email__iexact=email).exists():
        return False
    context = {
        "portal_url": portal_url(email=email),
        "support_email": settings.SELLER_SUPPORT_EMAIL,
        "portal_name": settings.PORTAL_NAME,
        "hours": settings.PORTAL_LINK_MAX_AGE_SECONDS // 3600,
    }
    send_mail(
        subject=f"Your link to {settings.PORTAL_NAME}",
        message=render_to_string("checkout/email/portal_link.txt", context),
        html_message=render_to_string("checkout/email/portal_link.html", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[email],
    )
    return True


def portal_link_request_allowed(*, email: str, ip: str) -> bool:
    """Count one magic-link request; False once the email or the IP is over its limit.

    A fixed window on the shared cache (Redis). The answer never depends on whether the email
    has orders, so it reveals nothing about who is a customer.
    """
    window = settings.PORTAL_LINK_REQUEST_WINDOW_SECONDS
    ok_email = _hit(
        f"email:{email.strip().lower()}", settings.PORTAL_LINK_REQUESTS_PER_EMAIL, window
    )
    ok_ip = _hit(f"ip:{ip}", settings.PORTAL_LINK_REQUESTS_PER_IP, window)
    return ok_email and ok_ip


def _hit(key: str, limit: int, window: int) -> bool:
    return not limit_exceeded(None, group="portal-link", key=key, rate=(limit, window))
