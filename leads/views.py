"""Public pages: the lead form, double opt-in confirmation and one-click withdrawal."""

import functools

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.context import capture_context, client_ip, country_default
from leads.forms import (
    LEAD_FORM_PURPOSES,
    TOUCH_FIELDS,
    LeadForm,
    form_started_token,
    lead_form_quick_clean,
)
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
from leads.throttling import (
    TOO_MANY_FROM_HERE,
    SubmissionRefused,
    lead_submission_count_begin,
    lead_submission_ip_allowed,
)


def _too_many(request: HttpRequest, message: str) -> HttpResponse:
    response = render(request, "leads/too_many.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response


def _see_other(url: str) -> HttpResponse:
    response = HttpResponse(status=303)
    response["Location"] = url
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


def _never_cache_pages(view):
    """never_cache for the pages a view renders (they carry a CSRF token and what the visitor
    typed), not for its redirects: a 303 carries neither and no cache keeps one without being
    told to (RFC 9111), so the lead form's answer skips building the headers."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not 300 <= response.status_code < 400:
            add_never_cache_headers(response)
        return response

    return wrapped


@_never_cache_pages
@require_http_methods(["GET", "POST"])
def lead_start(request: HttpRequest) -> HttpResponse:
    """The public lead form at /start/. Works without JavaScript; CSRF-protected."""
    if request.method == "GET":
        form = LeadForm(initial=_initial(request), consent_texts=_form_texts())
        return render(request, "leads/start.html", {"form": form})

    ip = client_ip(request)
    form = None
    kwargs = lead_form_quick_clean(request.POST)
    if kwargs is None:
        # Not plainly valid: the form judges it and explains. Every POST counts against the
        # IP's limit, valid or not.
        if not lead_submission_ip_allowed(ip=ip):
            return _too_many(request, TOO_MANY_FROM_HERE)
        form = LeadForm(request.POST, consent_texts=_form_texts())
        if not form.is_valid():
            return render(request, "leads/start.html", {"form": form}, status=400)
        kwargs = form.capture_kwargs()
    # The counters go to Redis now and are read when capture has built the lead's rows, so
    # the worker does not sit out the round trip (see lead_capture's velocity).
    counting = lead_submission_count_begin(ip=ip, email=kwargs["email"], count_ip=form is None)
    try:
        with counting:
            lead_capture(
                **kwargs,
                person_cleaned=form is None,  # lead_form_quick_clean's output
                velocity=counting.velocity_within_limits,
                context=capture_context(
                    request, source_form="lead_form", method=ConsentRecord.Method.FORM
                ),
            )
    except SubmissionRefused as refused:
        return _too_many(request, refused.message)
    except LeadInputError as exc:
        if form is None:
            form = LeadForm(request.POST, consent_texts=_form_texts())
            form.is_valid()
        for field, messages in exc.errors.items():
            form.add_error(field if field in form.fields else None, messages)
        return render(request, "leads/start.html", {"form": form}, status=400)
    url = _thanks_url()
    if kwargs["consents"].get(ConsentPurpose.MARKETING_EMAIL):
        url += "?confirm=email"
    return _see_other(url)


def _form_texts() -> dict:
    """The wording the form shows (only a page the view renders needs it)."""
    return consent_texts_current(purposes=LEAD_FORM_PURPOSES)


@functools.cache
def _thanks_url() -> str:
    return reverse("leads:start-thanks")


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
