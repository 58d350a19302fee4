"""Checkout links that sales staff send to a lead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from checkout.models import Offer
from config.audit import audit_log_record


def checkout_link_url(*, offer: Offer, email: str = "", name: str = "") -> str:
    """The public checkout page, with the buyer's email and name filled in for them."""
    query = urlencode({k: v for k, v in {"email": email, "name": name}.items() if v})
    path = reverse("checkout:start", kwargs={"slug": offer.slug})
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}{'?' + query if query else ''}"


def checkout_link_send(*, lead: Any, offer: Offer, actor: Any) -> bool:
    """Email `lead` a link to buy `offer`. False (and nothing sent) for spam or erased leads."""
    if lead.status in ("spam", "erased") or not offer.is_active:
        return False
    url = checkout_link_url(offer=offer, email=lead.email, name=lead.name)
    send_mail(
        subject=f"Your link to buy {offer.name}",
        message=(
            f"Hello {lead.name},\n\n"
            f"As promised, here is the link to buy {offer.name}:\n{url}\n\n"
            "You will see the full price, with any tax for your country, before you enter a "
            "card. Questions? Just reply to this email.\n\n"
            f"{settings.SELLER_LEGAL_NAME}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[lead.email],
    )
    audit_log_record(
        actor=actor,
        action="checkout.link_sent",
        target=lead,
        # The link without its query: the email and name in it would outlive an erasure.
        detail={"offer": offer.slug, "url": url.split("?", 1)[0]},
    )
    return True
