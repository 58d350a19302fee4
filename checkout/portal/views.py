"""The customer portal: /account/ asks for a magic link, /account/<token>/ is the buyer's page.

Views are thin: check the link, call one service, render. The token is the only credential, so
every response is private and uncached and never leaks the URL in a Referer header.
"""

from __future__ import annotations

import json
import logging
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_http_methods, require_POST

from checkout.models import PORTAL_PROVEN_EMAIL_SESSION_KEY, Order, Subscription
from checkout.notifications import failure_advice
from checkout.portal.links import (
    PortalLinkExpired,
    PortalLinkInvalid,
    portal_link_request_allowed,
    portal_token_email,
)
from checkout.portal.selectors import (
    portal_balance_payment_latest,
    portal_buyer_name,
    portal_card_for_order,
    portal_order_rows,
    portal_receipts,
    portal_saved_card,
    portal_subscriptions,
)
from checkout.portal.services import (
    BALANCE_BELOW_CARD_MINIMUM,
    BalanceBelowCardMinimum,
    BalanceNotPayable,
    order_balance_pay,
    portal_card_save,
    portal_card_setup_start,
)
from checkout.services.accounting import order_payment_record
from checkout.services.subscriptions import subscription_cancel, subscription_renewal_charged
from checkout.tasks import portal_link_send_task
from config.celery import enqueue_on_commit
from config.http import client_network
from config.money import money_format
from payments import gateway
from payments.models import OPEN_STATUSES, Payment
from payments.services import CardNotProven, PaymentMismatch, payment_refresh

logger = logging.getLogger(__name__)


class LinkRequestForm(forms.Form):
    email = forms.EmailField(
        label="Your email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    # same-origin, not no-referrer: the token never leaves in a Referer, yet the browser still
    # sends an Origin header, which CSRF checks on the portal's own forms.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _client_ip(request: HttpRequest) -> str:
    # The client as limits count it (an IPv6 /64 as one), behind TRUSTED_PROXY_COUNT proxies.
    return client_network(request) or "unknown"


@require_http_methods(["GET", "POST"])
def portal_link_request(request: HttpRequest) -> HttpResponse:
    form = LinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        if not portal_link_request_allowed(email=email, ip=_client_ip(request)):
            return _private(
                render(request, "checkout/portal_link_sent.html", {"limited": True}, status=429)
            )
        # Sent by a task so the answer takes the same time whether or not the email is known.
        enqueue_on_commit(portal_link_send_task, email)
        return _private(render(request, "checkout/portal_link_sent.html", {"limited": False}))
    return _private(render(request, "checkout/portal_link_request.html", {"form": form}))


def _with_email(view):
    """Resolve the token to the buyer's email, or show the link form with a plain reason."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs):
        try:
            email = portal_token_email(token=token)
        except PortalLinkExpired:
            reason, status = (
                "This link has expired. Enter your email and we will send a new one.",
                410,
            )
        except PortalLinkInvalid:
            reason, status = (
                "This link does not work. Enter your email and we will send a new one.",
                404,
            )
        else:
            # This browser proved the email: a checkout started here pays as the buyer's own
            # Customer (checkout_customer), so its card becomes their card on file.
            request.session[PORTAL_PROVEN_EMAIL_SESSION_KEY] = email
            return _private(view(request, token=token, email=email, **kwargs))
        if request.headers.get("Accept", "").startswith("application/json"):
            return _private(JsonResponse({"error": reason}, status=status))
        context = {"form": LinkRequestForm(), "reason": reason}
        return _private(
            render(request, "checkout/portal_link_request.html", context, status=status)
        )

    return wrapper


@require_http_methods(["GET"])
@_with_email
def portal(request: HttpRequest, *, token: str, email: str):
    return _render_portal(request, token=token, email=email)


def _render_portal(request: HttpRequest, *, token: str, email: str, action: dict | None = None):
    context = {
        "token": token,
        "email": email,
        "orders": portal_order_rows(email=email),
        "card": portal_saved_card(email=email),
        "receipts": portal_receipts(email=email, token=token),
        "subscriptions": portal_subscriptions(email=email),
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "action": action,
    }
    return render(request, "checkout/portal.html", context)


def _card_error(message: str, status: int) -> JsonResponse:
    # The Outcome shape static/js/checkout.js (PortalCard) expects.
    return JsonResponse({"status": "error", "message": message}, status=status)


@require_POST
@_with_email
def card_setup(request: HttpRequest, *, token: str, email: str):
    try:
        secret = portal_card_setup_start(email=email, name=portal_buyer_name(email=email))
    except gateway.GatewayError:
        logger.exception("setup intent for the portal failed")
        return _card_error("We could not reach our card processor. Try again in a minute.", 503)
    return JsonResponse({"client_secret": secret})


@require_POST
@_with_email
def card_save(request: HttpRequest, *, token: str, email: str):
    """PortalCard's `payUrl` in saveOnly mode: {payment_method} -> {status: "saved"}."""
    try:
        body = json.loads(request.body or b"{}")
        payment_method_id = body.get("payment_method") or body.get("payment_method_id") or ""
        setup_intent_id = body.get("setup_intent") or ""
    except (ValueError, AttributeError):
        payment_method_id = setup_intent_id = ""
    if not isinstance(payment_method_id, str) or not payment_method_id.startswith("pm_"):
        return _card_error("That card could not be saved. Please try again.", 400)
    try:
        customer = portal_card_save(
            email=email,
            payment_method_id=payment_method_id[:255],
            setup_intent_id=str(setup_intent_id)[:255],
        )
    except CardNotProven as exc:
        return _card_error(str(exc), 409)
    except gateway.GatewayError as exc:
        logger.info("portal card save refused: %s", exc)
        return _card_error("That card could not be saved. Check it or use another card.", 400)
    return JsonResponse(
        {"status": "saved", "brand": customer.card_brand, "last4": customer.card_last4}
    )


@require_POST
@_with_email
def subscription_cancel_view(request: HttpRequest, *, token: str, email: str, subscription_id: int):
    subscription = get_object_or_404(Subscription, pk=subscription_id, order__email__iexact=email)
    name = subscription.order.offer.name
    # The cancel waits for a renewal charge in progress, so what is read afterwards is final.
    subscription = subscription_cancel(subscription=subscription, by="customer portal")
    renewal = subscription_renewal_charged(subscription=subscription)
    if renewal is None:
        messages.success(
            request,
            f"Your {name} will not renew. Nothing more will be charged; "
            "what you have paid for stays available until the end of the period.",
        )
    elif renewal.is_paid:
        until = date_format(timezone.localtime(subscription.next_charge_at), "j F Y")
        messages.success(
            request,
            f"Your {name} will not renew again. Its renewal of "
            f"{money_format(renewal.amount, renewal.currency)} had already been charged before "
            f"you cancelled; it stays available until {until}. Nothing more will be charged "
            "after that.",
        )
    else:
        messages.success(
            request,
            f"Your {name} will not renew again. A renewal payment of "
            f"{money_format(renewal.amount, renewal.currency)} had already started before you "
            "cancelled and is still being processed; if it goes through, you keep access for "
            "that period. Nothing more will be charged after that.",
        )
    return redirect(_portal_path(token))


def _order_for(email: str, reference: str) -> Order:
    return get_object_or_404(Order, reference=reference, email__iexact=email)


@require_POST
@_with_email
def balance_pay(request: HttpRequest, *, token: str, email: str, reference: str):
    order = _order_for(email, reference)
    customer = portal_card_for_order(email=email, order=order)
    if customer is None:
        messages.info(request, "Add a card below first, then pay your balance.")
        return redirect(_portal_path(token) + "#card")
    return_url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "checkout_portal:balance-return", kwargs={"token": token, "reference": reference}
    )
    try:
        payment = order_balance_pay(order=order, customer=customer, return_url=return_url)
    except BalanceBelowCardMinimum:
        messages.warning(request, BALANCE_BELOW_CARD_MINIMUM)
        return redirect(_portal_path(token))
    except BalanceNotPayable:
        messages.info(request, "There is nothing left to pay on this order.")
        return redirect(_portal_path(token))
    except PaymentMismatch:
        messages.info(request, "Your last payment is still being processed. Please wait a minute.")
        return redirect(_portal_path(token))
    return _after_payment(request, token, email, payment)


@require_POST
@_with_email
def balance_confirm(request: HttpRequest, *, token: str, email: str, payment_id: int):
    """The browser finished the bank's check (3DS): ask Stripe what happened and record it."""
    payment = get_object_or_404(Payment, pk=payment_id, order__email__iexact=email)
    payment = payment_refresh(payment=payment, cause="portal_3ds_done")
    order_payment_record(payment_id=payment.pk)
    return _after_payment(request, token, email, payment)


@require_http_methods(["GET"])
@_with_email
def balance_return(request: HttpRequest, *, token: str, email: str, reference: str):
    """The buyer is back from their bank's page (the confirm's return_url). What Stripe adds to
    the URL is not trusted: the order's latest balance payment is asked of Stripe (retrieve
    only) and recorded."""
    order = _order_for(email, reference)
    payment = portal_balance_payment_latest(order=order)
    if payment is None:
        return redirect(_portal_path(token))
    if payment.status in OPEN_STATUSES:
        try:
            payment = payment_refresh(payment=payment, cause="portal_return")
        except gateway.GatewayError as exc:
            logger.warning("refresh of payment %s failed: %s", payment.pk, exc)
    order_payment_record(payment_id=payment.pk)
    return _after_payment(request, token, email, payment)


def _after_payment(request: HttpRequest, token: str, email: str, payment: Payment) -> HttpResponse:
    amount = money_format(payment.amount, payment.currency)
    if payment.status == Payment.Status.SUCCEEDED:
        messages.success(request, f"Thank you: we received {amount}. We have emailed you too.")
    elif payment.status == Payment.Status.REQUIRES_ACTION:
        secret = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id).client_secret
        action = {
            "client_secret": secret,
            "confirm_url": reverse(
                "checkout_portal:balance-confirm",
                kwargs={"token": token, "payment_id": payment.pk},
            ),
        }
        return _render_portal(request, token=token, email=email, action=action)
    elif payment.status == Payment.Status.FAILED:
        advice = failure_advice(
            decline_code=payment.decline_code, failure_code=payment.failure_code
        )
        messages.error(
            request,
            f"Your payment of {amount} did not go through. {advice.what_happened} "
            f"{advice.what_to_do} You have not been charged.",
        )
    else:
        messages.info(request, f"Your payment of {amount} is being processed. We will email you.")
    return redirect(_portal_path(token))


def _portal_path(token: str) -> str:
    return reverse("checkout_portal:portal", kwargs={"token": token})
