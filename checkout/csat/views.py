"""/feedback/payment/<token>/: "How easy was paying?" through the signed link (no login).

GET shows the question (a score in the query string, from the email's one-click links, is only
preselected: a GET never records anything, since mail scanners open links too); POST records
the order's one answer and redirects back, where the thank-you is shown.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from checkout.csat.forms import CsatForm
from checkout.csat.services import (
    CsatAlreadyAnswered,
    CsatLinkExpired,
    CsatLinkInvalid,
    csat_answer,
    csat_answer_for,
    csat_order_for_token,
)
from checkout.models import PaymentCsat

_TEMPLATE = "checkout/csat.html"


def _link_days() -> int:
    return max(1, settings.CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS // 86_400)


@require_http_methods(["GET", "POST"])
def csat_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        order = csat_order_for_token(token=token)
    except CsatLinkExpired:
        return render(
            request,
            _TEMPLATE,
            {
                "problem": "This feedback link has expired",
                "detail": f"Feedback links work for {_link_days()} days after your payment. "
                "Thank you for wanting to tell us; you can also reply to your payment email.",
            },
            status=410,
        )
    except CsatLinkInvalid:
        return render(
            request,
            _TEMPLATE,
            {
                "problem": "This feedback link is not valid",
                "detail": "The link may be incomplete: open it again from your payment "
                "email, or copy the whole address into your browser.",
            },
            status=400,
        )
    answer = csat_answer_for(order=order)
    status = 200
    if request.method == "POST" and answer is None:
        form = CsatForm(request.POST)
        if form.is_valid():
            try:
                csat_answer(
                    order=order,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    source=form.cleaned_data["source"] or PaymentCsat.Source.EMAIL,
                )
            except CsatAlreadyAnswered as exc:
                return _answered(request, order=order, answer=exc.answer, status=409)
            return redirect("checkout:csat", token=token)
        status = 400
    elif answer is not None:
        return _answered(
            request, order=order, answer=answer, status=409 if request.method == "POST" else 200
        )
    else:
        score = request.GET.get("score", "")
        form = CsatForm(initial={"score": int(score)} if score in {"1", "2", "3", "4", "5"} else {})
    return render(request, _TEMPLATE, {"order": order, "form": form}, status=status)


def _answered(request: HttpRequest, *, order, answer: PaymentCsat, status: int) -> HttpResponse:
    return render(
        request,
        _TEMPLATE,
        {"order": order, "answer": answer, "second_try": status == 409},
        status=status,
    )
