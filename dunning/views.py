"""The payment link pages: thin views over dunning.services.

/pay/<token>/            what happened, the amount, and the ways to pay (works without JS up to
                         the card step)
/pay/<token>/setup/      POST → {client_secret} of a SetupIntent (the Card Element)
/pay/<token>/card/       POST {payment_method, setup_intent} → the outcome
/pay/<token>/status/     POST → the outcome after the bank's check (retrieve only)
/pay/<token>/done/       the result, from our database
/pay/<token>/fresh/      POST: email a fresh link to the address on file (never shown)
/pay/<token>/callback/   POST: ask to be called back (lands in the triage queue)
/pay/<token>/transfer/   POST: "I have sent a bank transfer" (pauses reminders)
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from checkout.selectors import order_entitlement_active
from checkout.services.checkout import UNREACHABLE_MESSAGE
from config.limits import client_key, limit_exceeded
from config.money import money_format
from dunning.copy import page_copy
from dunning.declines import decline_classify
from dunning.models import PaymentLink
from dunning.services import (
    LinkNotUsable,
    LinkOutcome,
    dunning_case_callback_request,
    dunning_case_transfer_announce,
    payment_link_fresh_send,
    payment_link_pay,
    payment_link_refresh,
    payment_link_setup_start,
)
from dunning.services.links import (
    LinkState,
    payment_link_click_record,
    payment_link_find,
    payment_link_state,
)
from payments import gateway
from payments.services import CardNotProven


def _language(request: HttpRequest, link: PaymentLink | None) -> str:
    asked = request.GET.get("lang", "")
    if asked in ("en", "de"):
        return asked
    return link.case.language if link is not None else "en"


def _copy(language: str, link: PaymentLink | None, amount: int | None = None) -> dict[str, str]:
    case = link.case if link is not None else None
    return page_copy(
        language,
        offer=case.order.offer.name if case else "",
        reference=case.order.reference if case else "",
        amount=money_format(amount if amount is not None else (link.amount if link else 0),
                            link.currency if link else "eur", locale=language),
        email=settings.SELLER_SUPPORT_EMAIL,
        phone=settings.DUNNING_SUPPORT_PHONE,
    )  # fmt: skip


def _private(response: HttpResponse) -> HttpResponse:
    # A link page is for one buyer: never cached, never sent on as a referrer.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _urls(token: str) -> dict[str, str]:
    return {
        name: reverse(f"dunning:{name}", kwargs={"token": token})
        for name in ("pay", "setup", "card", "status", "done", "fresh", "callback", "transfer")
    }


def _unknown(request: HttpRequest) -> HttpResponse:
    language = _language(request, None)
    return _private(
        render(
            request,
            "dunning/pay_closed.html",
            {"copy": _copy(language, None), "state": "unknown", "language": language},
            status=404,
        )
    )


@require_GET
def pay(request: HttpRequest, token: str) -> HttpResponse:
    link = payment_link_find(token=token)
    if link is None:
        return _unknown(request)
    now = timezone.now()
    state = payment_link_state(link=link, now=now)
    payment_link_click_record(
        link=link, now=now, outcome=state, user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    language = _language(request, link)
    case = link.case
    if state == LinkState.USED:
        return redirect("dunning:done", token=token)
    context = {
        "link": link,
        "case": case,
        "order": case.order,
        "offer": case.order.offer,
        "state": state,
        "language": language,
        "copy": _copy(language, link),
        "amount": money_format(link.amount, link.currency, locale=language),
        "urls": _urls(token),
        "words": decline_classify(
            decline_code=case.decline_code, failure_code=case.failure_code
        ).for_language(language),
        "bank": {
            "name": settings.DUNNING_BANK_ACCOUNT_NAME,
            "iban": settings.DUNNING_BANK_IBAN,
            "bic": settings.DUNNING_BANK_BIC,
        },
        "support_phone": settings.DUNNING_SUPPORT_PHONE,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "message": request.GET.get("m", ""),
    }
    template = "dunning/pay.html" if state == LinkState.USABLE else "dunning/pay_closed.html"
    status = 200 if state == LinkState.USABLE else 410
    return _private(render(request, template, context, status=status))


def _json_guard(request: HttpRequest, token: str) -> tuple[PaymentLink | None, JsonResponse | None]:
    if limit_exceeded(
        request,
        group="dunning.pay.ip",
        key=client_key,
        rate=(settings.DUNNING_LINK_REQUESTS_PER_IP_PER_MINUTE, 60),
    ):
        return None, JsonResponse(
            {"status": "error", "message": "Too many tries in a short time. Wait a minute."},
            status=429,
        )
    link = payment_link_find(token=token)
    if link is None:
        return None, JsonResponse(
            {"status": "error", "message": page_copy("en")["unknown_text"]}, status=404
        )
    return link, None


def _outcome_json(outcome: LinkOutcome, token: str) -> JsonResponse:
    body: dict = {"status": outcome.status, "message": outcome.message}
    if outcome.client_secret:
        body["client_secret"] = outcome.client_secret
    if outcome.status in ("succeeded", "processing"):
        body["next_url"] = reverse("dunning:done", kwargs={"token": token})
    return JsonResponse(body, status=400 if outcome.status == "error" else 200)


def _not_usable(exc: LinkNotUsable, token: str) -> JsonResponse:
    return JsonResponse(
        {
            "status": "blocked",
            "message": str(exc),
            "restart_url": reverse("dunning:pay", kwargs={"token": token}),
        },
        status=410,
    )


def _unreachable() -> JsonResponse:
    return JsonResponse({"status": "error", "message": UNREACHABLE_MESSAGE}, status=503)


@require_POST
def pay_setup(request: HttpRequest, token: str) -> JsonResponse:
    link, problem = _json_guard(request, token)
    if problem:
        return problem
    try:
        secret = payment_link_setup_start(link=link, now=timezone.now())
    except LinkNotUsable as exc:
        return _not_usable(exc, token)
    except gateway.GatewayError:
        return _unreachable()
    return JsonResponse({"client_secret": secret})


@require_POST
def pay_card(request: HttpRequest, token: str) -> JsonResponse:
    link, problem = _json_guard(request, token)
    if problem:
        return problem
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    try:
        outcome = payment_link_pay(
            link=link,
            payment_method_id=str(body.get("payment_method") or ""),
            setup_intent_id=str(body.get("setup_intent") or ""),
            now=timezone.now(),
        )
    except LinkNotUsable as exc:
        return _not_usable(exc, token)
    except CardNotProven as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=409)
    except gateway.GatewayError:
        return _unreachable()
    return _outcome_json(outcome, token)


@require_POST
def pay_status(request: HttpRequest, token: str) -> JsonResponse:
    link, problem = _json_guard(request, token)
    if problem:
        return problem
    return _outcome_json(payment_link_refresh(link=link, now=timezone.now()), token)


@require_GET
def pay_done(request: HttpRequest, token: str) -> HttpResponse:
    link = payment_link_find(token=token)
    if link is None:
        return _unknown(request)
    if link.used_at is None:
        return redirect("dunning:pay", token=token)
    language = _language(request, link)
    order = link.case.order
    payment = link.paid_by
    amount = (payment.amount_received or payment.amount) if payment else link.amount
    return _private(
        render(
            request,
            "dunning/pay_done.html",
            {
                "link": link,
                "order": order,
                "offer": order.offer,
                "language": language,
                "copy": _copy(language, link, amount=amount),
                "entitlement": order_entitlement_active(order=order),
            },
        )
    )


def _thanks(request: HttpRequest, link: PaymentLink | None, key: str, status: int = 200):
    language = _language(request, link)
    copy = _copy(language, link)
    return _private(
        render(
            request,
            "dunning/pay_thanks.html",
            {"copy": copy, "text": copy[key], "language": language, "link": link},
            status=status,
        )
    )


@require_POST
def pay_fresh(request: HttpRequest, token: str) -> HttpResponse:
    """Always the same answer, so the page reveals nothing about the case or its email."""
    link = payment_link_find(token=token)
    allowed = not limit_exceeded(
        request,
        group="dunning.fresh.link",
        key=hashlib.sha256(token.encode()).hexdigest()[:32],
        rate=(settings.DUNNING_FRESH_LINKS_PER_HOUR, 3600),
    ) and not limit_exceeded(
        request,
        group="dunning.pay.ip",
        key=client_key,
        rate=(settings.DUNNING_LINK_REQUESTS_PER_IP_PER_MINUTE, 60),
    )
    if link is not None and allowed:
        payment_link_fresh_send(link=link, now=timezone.now())
    return _thanks(request, link, "fresh_done")


def _usable_or_closed_page(request: HttpRequest, token: str):
    link = payment_link_find(token=token)
    if link is None:
        return None, _unknown(request)
    if payment_link_state(link=link, now=timezone.now()) != LinkState.USABLE:
        return None, redirect("dunning:pay", token=token)
    return link, None


@require_POST
def pay_callback(request: HttpRequest, token: str) -> HttpResponse:
    link, problem = _usable_or_closed_page(request, token)
    if problem:
        return problem
    phone = request.POST.get("phone", "").strip()[:32]
    if not phone:
        return redirect(reverse("dunning:pay", kwargs={"token": token}) + "?m=phone#help")
    dunning_case_callback_request(
        link=link, phone=phone, message=request.POST.get("when", ""), now=timezone.now()
    )
    return _thanks(request, link, "callback_done")


@require_POST
def pay_transfer(request: HttpRequest, token: str) -> HttpResponse:
    link, problem = _usable_or_closed_page(request, token)
    if problem:
        return problem
    dunning_case_transfer_announce(link=link, now=timezone.now())
    return _thanks(request, link, "transfer_done")
