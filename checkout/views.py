"""The buyer-facing checkout: thin views over checkout.services.

/checkout/<slug>/                    the form (email, name, billing country, terms)
/checkout/<slug>/<token>/            the summary, then the card (or the manual-review path)
/checkout/<slug>/<token>/setup/      POST → {client_secret} of a SetupIntent
/checkout/<slug>/<token>/pay/        POST {payment_method} → the outcome
/checkout/<slug>/<token>/status/     POST → the outcome after the bank's check (retrieve only)
/checkout/<slug>/<token>/return/     GET, where the bank sends the buyer back after a check that
                                     left the page (the confirm's return_url; retrieve only)
/checkout/<slug>/<token>/done/       the result, from our database only
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from checkout.csat.forms import CsatForm
from checkout.csat.services import csat_answer_for, csat_url
from checkout.forms import CheckoutForm
from checkout.models import PORTAL_PROVEN_EMAIL_SESSION_KEY, Offer, Order, PaymentCsat
from checkout.services.checkout import (
    UNREACHABLE_MESSAGE,
    CheckoutBlocked,
    PayOutcome,
    checkout_begin,
    checkout_current_payment,
    checkout_pay,
    checkout_refresh,
    checkout_setup_start,
    decline_message,
)
from checkout.services.orders import (
    CheckoutTokenError,
    OfferUnavailable,
    OrderNotPayable,
    checkout_token_issue,
    checkout_token_verify,
    offer_for_checkout,
)
from checkout.services.pricing import ChargeBelowMinimum, PricingError, next_renewal, price_quote
from config.http import client_ip
from config.limits import client_key, limit_exceeded
from leads.normalise import LeadInputError
from leads.services import CaptureContext, consent_text_current
from payments import gateway
from payments.models import Payment
from payments.services import CardNotProven

TOKEN_PROBLEMS = {
    "malformed": "This checkout link is not complete. Start again from the offer page.",
    "foreign": "This checkout was started in another browser or has already been used for "
    "another offer. For your safety it only works where it was started. Start again below; "
    "nothing has been charged.",
    "stale": "This checkout page has expired because it was open for a long time. Start again "
    "below; nothing has been charged.",
}


def _problem(request, *, title: str, message: str, status: int, offer: Offer | None = None):
    return render(
        request,
        "checkout/problem.html",
        {"title": title, "message": message, "offer": offer},
        status=status,
    )


def _unknown_offer(request):
    return _problem(
        request,
        title="This offer is not available",
        message="The link may be mistyped, or the offer is no longer on sale. "
        "Nothing has been charged. Write to us if you expected to find it here.",
        status=404,
    )


def _consent_texts() -> dict:
    return {
        "terms": consent_text_current(purpose="terms"),
        "marketing": consent_text_current(purpose="marketing_email"),
    }


@require_http_methods(["GET", "POST"])
def checkout_start(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        offer = offer_for_checkout(slug=slug)
        price_quote(offer=offer, billing_country="")  # an offer we cannot price is not on sale
    except ChargeBelowMinimum as exc:
        # Saved before the minimum was checked: say so plainly rather than "not found".
        return _problem(
            request,
            title="Card payment is not available for this offer",
            message=str(exc),
            status=409,
        )
    except (OfferUnavailable, PricingError):
        return _unknown_offer(request)
    token_problem, status = "", 200
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            try:
                token = checkout_token_verify(
                    session=request.session, token=form.cleaned_data["token"], offer=offer
                )
            except CheckoutTokenError as exc:
                token_problem = TOKEN_PROBLEMS[exc.reason]
                status = 403 if exc.reason == "foreign" else 400
                # A fresh token for the corrected form; the buyer's answers are kept.
                form.data = form.data.copy()
                form.data["token"] = checkout_token_issue(session=request.session, offer=offer)
            else:
                order = _begin(request, form, offer=offer, token=str(token))
                if order is not None:
                    return redirect("checkout:pay", slug=offer.slug, token=order.checkout_token)
                status = 400
        else:
            status = 400
    else:
        # A link sent by sales fills in who it was sent to; the buyer can change it.
        form = CheckoutForm(
            initial={
                "token": checkout_token_issue(session=request.session, offer=offer),
                "email": request.GET.get("email", "")[:254],
                "name": request.GET.get("name", "")[:200],
            }
        )
    texts = _consent_texts()
    if not form.is_bound:
        form.initial.update(
            terms_text_id=texts["terms"].pk, marketing_text_id=texts["marketing"].pk
        )
    return render(
        request,
        "checkout/start.html",
        {
            "offer": offer,
            "form": form,
            "texts": texts,
            "token_problem": token_problem,
            "started_at": int(datetime.now(UTC).timestamp()),
        },
        status=status,
    )


def _begin(request: HttpRequest, form: CheckoutForm, *, offer: Offer, token: str) -> Order | None:
    data = form.cleaned_data
    text_ids = {}
    if data.get("terms_text_id"):
        text_ids["terms"] = data["terms_text_id"]
    if data.get("marketing_text_id"):
        text_ids["marketing_email"] = data["marketing_text_id"]
    started_at = None
    try:
        started_at = datetime.fromtimestamp(int(request.POST.get("started_at", "")), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        started_at = None
    try:
        return checkout_begin(
            offer=offer,
            checkout_token=token,
            email=data["email"],
            name=data["name"],
            billing_country=data["billing_country"],
            marketing_opt_in=data["marketing_email"],
            consent_text_ids=text_ids or None,
            honeypot=data.get("website", ""),
            started_at=started_at,
            context=CaptureContext(
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
                source_form="checkout",
                source_url=request.build_absolute_uri(),
                method="form",
            ),
        )
    except LeadInputError as exc:
        for field, messages in exc.errors.items():
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, message)
    except PricingError as exc:
        form.add_error(None, str(exc))
    return None


def _order_for(
    request: HttpRequest, slug: str, token: str
) -> tuple[Order | None, HttpResponse | None]:
    try:
        offer = Offer.objects.get(slug=slug)
    except Offer.DoesNotExist:
        return None, _unknown_offer(request)
    try:
        checkout_token_verify(session=request.session, token=token, offer=offer)
    except CheckoutTokenError as exc:
        return None, _problem(
            request,
            title="Please start again",
            message=TOKEN_PROBLEMS[exc.reason],
            status=403 if exc.reason == "foreign" else 400,
            offer=offer if offer.is_active else None,
        )
    order = Order.objects.select_related("offer").filter(checkout_token=token, offer=offer).first()
    if order is None:
        return None, _problem(
            request,
            title="Please start again",
            message=TOKEN_PROBLEMS["malformed"],
            status=404,
            offer=offer if offer.is_active else None,
        )
    return order, None


def checkout_pay_page(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    order, problem = _order_for(request, slug, token)
    if problem:
        return problem
    payment = checkout_current_payment(order=order)
    if payment is not None and payment.status in (
        Payment.Status.SUCCEEDED,
        Payment.Status.AUTHORIZED,
    ):
        return redirect("checkout:done", slug=slug, token=token)
    urls = {
        name: reverse(
            f"checkout:{name}",
            kwargs={"slug": slug, "token": token} if name != "start" else {"slug": slug},
        )
        for name in ("setup", "pay_api", "status", "done", "start")
    }
    return render(
        request,
        "checkout/pay.html",
        {
            "order": order,
            "offer": order.offer,
            "line": (order.lines or [{}])[0],
            "urls": urls,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "last_failure": decline_message(payment)
            if payment and payment.status == "failed"
            else "",
            "next_charge_at": _next_charge(order),
        },
    )


def _next_charge(order: Order):
    if order.offer.billing_type != Offer.BillingType.RECURRING:
        return None

    return next_renewal(start=order.created_at, interval=order.offer.interval)


def _json_guard(request: HttpRequest, slug: str, token: str):
    if limit_exceeded(
        request,
        group="checkout.json",
        key=client_key,
        rate=(settings.CHECKOUT_REQUESTS_PER_IP_PER_MINUTE, 60),
    ):
        return None, JsonResponse(
            {
                "status": "error",
                "message": "Too many tries in a short time. Wait a minute, then try again.",
            },
            status=429,
        )
    order, problem = _order_for(request, slug, token)
    if problem:
        return None, JsonResponse(
            {
                "status": "error",
                "message": TOKEN_PROBLEMS["foreign"]
                if problem.status_code == 403
                else TOKEN_PROBLEMS["stale"],
                "restart_url": reverse("checkout:start", kwargs={"slug": slug}),
            },
            status=problem.status_code,
        )
    return order, None


def _outcome_json(outcome: PayOutcome, *, slug: str, token: str) -> JsonResponse:
    if outcome.status == "unreachable":
        return JsonResponse({"status": "error", "message": outcome.message}, status=503)
    body = {"status": outcome.status, "message": outcome.message}
    if outcome.client_secret:
        body["client_secret"] = outcome.client_secret
    if outcome.status in ("succeeded", "authorized", "processing", "unknown"):
        body["next_url"] = reverse("checkout:done", kwargs={"slug": slug, "token": token})
    return JsonResponse(body)


def _proven_email(request: HttpRequest) -> str:
    """The email this browser proved with a portal magic link, if any (checkout_customer)."""
    return request.session.get(PORTAL_PROVEN_EMAIL_SESSION_KEY, "")


@require_POST
def checkout_setup(request: HttpRequest, slug: str, token: str) -> JsonResponse:
    order, problem = _json_guard(request, slug, token)
    if problem:
        return problem
    try:
        secret = checkout_setup_start(order=order, proven_email=_proven_email(request))
    except (CheckoutBlocked, OrderNotPayable) as exc:
        return JsonResponse({"status": "blocked", "message": str(exc)}, status=409)
    except gateway.GatewayError:
        return JsonResponse(
            {
                "status": "error",
                "message": UNREACHABLE_MESSAGE,
            },
            status=503,
        )
    return JsonResponse({"client_secret": secret})


@require_POST
def checkout_pay_api(request: HttpRequest, slug: str, token: str) -> JsonResponse:
    order, problem = _json_guard(request, slug, token)
    if problem:
        return problem
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    try:
        outcome = checkout_pay(
            order_id=order.pk,
            payment_method_id=str(body.get("payment_method") or ""),
            setup_intent_id=str(body.get("setup_intent") or ""),
            ip=client_ip(request),
        )
    except CardNotProven as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=409)
    except CheckoutBlocked as exc:
        return JsonResponse({"status": "blocked", "message": str(exc)}, status=429)
    except OrderNotPayable as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=409)
    except gateway.GatewayError:
        return JsonResponse(
            {
                "status": "error",
                "message": UNREACHABLE_MESSAGE,
            },
            status=503,
        )
    return _outcome_json(outcome, slug=slug, token=token)


@require_POST
def checkout_status_api(request: HttpRequest, slug: str, token: str) -> JsonResponse:
    order, problem = _json_guard(request, slug, token)
    if problem:
        return problem
    return _outcome_json(checkout_refresh(order_id=order.pk), slug=slug, token=token)


@require_http_methods(["GET"])
def checkout_return(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The buyer is back from an authentication that took them to their bank's page.

    Stripe adds the intent's id and client secret to the URL; they are not trusted. The order's
    current attempt is asked of Stripe (retrieve only, never a new charge), then the buyer sees
    the order, or the payment page again with what went wrong.
    """
    order, problem = _order_for(request, slug, token)
    if problem:
        return problem
    outcome = checkout_refresh(order_id=order.pk)
    if outcome.status in ("failed", "requires_action", "none"):
        return redirect("checkout:pay", slug=slug, token=token)
    return redirect("checkout:done", slug=slug, token=token)


def checkout_done(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    order, problem = _order_for(request, slug, token)
    if problem:
        return problem
    payment = checkout_current_payment(order=order)
    return render(
        request,
        "checkout/done.html",
        {
            **_done_csat(order=order, payment=payment),
            "order": order,
            "offer": order.offer,
            "payment": payment,
            "entitlement": order.entitlement if hasattr(order, "entitlement") else None,
            "subscription": order.subscription if hasattr(order, "subscription") else None,
            "failure": decline_message(payment) if payment and payment.status == "failed" else "",
            "pay_url": reverse("checkout:pay", kwargs={"slug": slug, "token": token}),
        },
    )


def _done_csat(*, order: Order, payment: Payment | None) -> dict:
    """The payment CSAT question on the done page, once the payment went through."""
    if payment is None or not payment.is_paid:  # a hold is not a payment yet
        return {}
    return {
        "csat_answer": csat_answer_for(order=order),
        "csat_action": csat_url(order=order, absolute=False),
        "csat_form": CsatForm(initial={"source": PaymentCsat.Source.DONE_PAGE}),
    }
