"""Public pages: the lead form, double opt-in confirmation and one-click withdrawal."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.context import capture_context, country_default
from leads.forms import LEAD_FORM_PURPOSES, TOUCH_FIELDS, LeadForm, form_started_token
from leads.models import ConsentPurpose, ConsentRecord
from leads.services import (
    ConsentLinkExpired,
    ConsentLinkInvalid,
    LeadInputError,
    consent_double_opt_in_confirm,
    consent_texts_current,
    consent_withdraw,
    lead_capture,
)
from leads.services.consent import consent_confirmation_from_token, consent_withdrawal_target
from leads.throttling import SubmissionRefused, lead_submission_count, lead_submission_ip_check


def _too_many(request: HttpRequest, message: str) -> HttpResponse:
    response = render(request, "leads/too_many.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response


def _initial(request: HttpRequest) -> dict:
    initial = {
        "country": country_default(request),
        "started": form_started_token(),
        "referrer": request.META.get("HTTP_REFERER", ""),
        "landing_page": request.build_absolute_uri(),
    }
    for field in TOUCH_FIELDS:
        if field in request.GET:
            initial[field] = request.GET[field]
    return initial


def _see_other(url: str) -> HttpResponse:
    """303: the browser follows with a GET, so a reload does not send the form again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def lead_start(request: HttpRequest) -> HttpResponse:
    """The public lead form at /start/. Works without JavaScript; CSRF-protected."""
    if request.method == "GET":
        form = LeadForm(initial=_initial(request), consent_texts=_form_texts())
        return render(request, "leads/start.html", {"form": form})

    context = capture_context(request, source_form="lead_form", method=ConsentRecord.Method.FORM)
    # The wording is read only to show the form again.
    form = LeadForm(request.POST)
    try:
        # Every POST counts against the client's limit, valid or not.
        lead_submission_ip_check(request)
        if not form.is_valid():
            return _form_again(request)
        kwargs = form.capture_kwargs()
        velocity = lead_submission_count(ip=context.ip, email=kwargs["email"])
        lead_capture(**kwargs, context=context, velocity=velocity)
    except SubmissionRefused as refused:
        return _too_many(request, refused.message)
    except LeadInputError as exc:
        return _form_again(request, errors=exc.errors)
    url = reverse("leads:start-thanks")
    if kwargs["consents"].get(ConsentPurpose.MARKETING_EMAIL):
        url += "?confirm=email"
    return _see_other(url)


def _form_again(request: HttpRequest, errors: dict | None = None) -> HttpResponse:
    """The submitted form with its messages (400), labelled with the wording to show."""
    form = LeadForm(request.POST, consent_texts=_form_texts())
    form.is_valid()
    for field, messages in (errors or {}).items():
        form.add_error(field if field in form.fields else None, messages)
    return render(request, "leads/start.html", {"form": form}, status=400)


def _form_texts() -> dict:
    return consent_texts_current(purposes=LEAD_FORM_PURPOSES)


@require_http_methods(["GET"])
def lead_start_thanks(request: HttpRequest) -> HttpResponse:
    return render(
        request, "leads/thanks.html", {"check_inbox": request.GET.get("confirm") == "email"}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def consent_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in. GET shows a button and changes nothing (mail scanners open links);
    the POST from that button records the confirmation."""
    try:
        confirmation = consent_confirmation_from_token(token)
    except ConsentLinkInvalid:
        return render(request, "leads/consent_link_invalid.html", status=404)
    if request.method == "GET":
        return render(
            request, "leads/consent_confirm.html", {"confirmation": confirmation, "done": False}
        )
    try:
        confirmation = consent_double_opt_in_confirm(
            token=token,
            context=capture_context(
                request, source_form="double_opt_in", method=ConsentRecord.Method.DOUBLE_OPT_IN
            ),
        )
    except ConsentLinkExpired:
        return render(request, "leads/consent_link_expired.html", status=410)
    except ConsentLinkInvalid:
        return render(request, "leads/consent_link_invalid.html", status=404)
    return render(
        request, "leads/consent_confirm.html", {"confirmation": confirmation, "done": True}
    )


@never_cache
@csrf_exempt  # the signed token is the authority; RFC 8058 one-click POSTs carry no cookie
@require_http_methods(["GET", "POST"])
def consent_withdraw_link(request: HttpRequest, token: str) -> HttpResponse:
    """One-click withdrawal from the link in every marketing message. Opening the link (or
    the mail client's List-Unsubscribe-Post) records the withdrawal at once."""
    try:
        lead, purpose = consent_withdrawal_target(token)
    except ConsentLinkInvalid:
        return render(request, "leads/consent_link_invalid.html", status=404)
    consent_withdraw(
        lead=lead,
        purpose=purpose,
        context=capture_context(
            request, source_form="withdrawal_link", method=ConsentRecord.Method.WITHDRAWAL_LINK
        ),
    )
    return render(
        request, "leads/consent_withdrawn.html", {"purpose": ConsentPurpose(purpose).label}
    )
