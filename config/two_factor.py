"""Two-factor sign-in for staff: TOTP (django-otp) with single-use backup codes.

The order of a sign-in:
1. the admin's password login, behind the lockouts of config/auth.py (the session rotates);
2. a staff user without an authenticator is sent to enrol: a QR code (inline SVG, so it runs
   under the site's CSP) and the key to type, then one code from the app to confirm it; the
   backup codes are shown once, on that answer, and stored only hashed by django-otp;
3. a staff user with one is asked for a code (or a backup code) on every new session.
The session rotates again when the second factor is verified. Until then the admin answers as
to someone not signed in (PortalAdminSite.has_permission).

OTP_REQUIRED_FOR_STAFF makes every staff user enrol (production); without it, only staff who
enrolled are asked (local mode, so `make run`'s demo logins work with a password only).
"""

from __future__ import annotations

import logging
from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.permissions import BasePermission

from config.audit import audit_log_record

logger = logging.getLogger(__name__)

NEXT = "next"


def staff_has_second_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def staff_second_factor_missing(request: HttpRequest) -> bool:
    """True for a signed-in staff user who still owes the second factor in this session.
    Asked many times per admin page (every permission check), answered once per user."""
    answered = getattr(request, "portal_second_factor", None)
    if answered is not None and answered[0] == request.user.pk:
        return answered[1]
    missing = _second_factor_missing(request)
    request.portal_second_factor = (request.user.pk, missing)
    return missing


def _second_factor_missing(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    # Right after the password login, request.user is the plain user django-otp has not seen:
    # not verified.
    if getattr(user, "is_verified", lambda: False)():
        return False
    return settings.OTP_REQUIRED_FOR_STAFF or staff_has_second_factor(user)


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get(NEXT) or request.GET.get(NEXT) or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def staff_second_factor_redirect(request: HttpRequest):
    """Where a staff user who owes the second factor goes: enrol, or enter a code."""
    name = "admin:two_factor_verify"
    if not staff_has_second_factor(request.user):
        name = "admin:two_factor_enrol"
    return redirect(f"{reverse(name)}?{NEXT}={_next_url(request)}")


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split()).lower()


def staff_token_devices(*, user, token: str) -> list:
    """The devices a typed code is meant for: 6 digits are an authenticator's code, anything
    else a backup code. Only those are tried, so a backup code does not count as a wrong
    authenticator code in django-otp's throttle (nor the other way round)."""
    kind = TOTPDevice if token.isdigit() and len(token) <= 8 else StaticDevice
    return [d for d in devices_for_user(user) if isinstance(d, kind)]


def staff_token_match(*, user, token: str):
    """The user's device that accepts `token` (an authenticator code, or a backup code, which is
    used up), or None. django-otp's throttling slows repeated wrong codes on each device."""
    with transaction.atomic():
        for device in staff_token_devices(user=user, token=token):
            device = type(device).objects.select_for_update().get(pk=device.pk)
            if device.verify_token(token):
                return device
    return None


WAIT_MESSAGE = (
    "Too many wrong codes in a row: wait a few seconds (longer after each wrong code), then "
    "type the code your app shows at that moment."
)


def staff_token_throttled(devices) -> bool:
    """True when django-otp refuses to check a code now, after repeated wrong ones."""
    return any(not device.verify_is_allowed()[0] for device in devices)


def staff_backup_codes_issue(*, user) -> list[str]:
    """A fresh set of single-use backup codes; earlier ones stop working. Returns them once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.STAFF_BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _second_factor_done(request: HttpRequest, device) -> None:
    # A new session key for the verified session, as for the password login.
    request.session.cycle_key()
    otp_login(request, device)


def _signed_in_staff(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff


def _context(site, request: HttpRequest, **extra) -> dict:
    return {
        **site.each_context(request),
        "next": _next_url(request),
        "has_permission": False,
        **extra,
    }


@never_cache
@csrf_protect
def two_factor_verify(request: HttpRequest, site):
    if not _signed_in_staff(request):
        return redirect("admin:login")
    if not staff_second_factor_missing(request):
        return redirect(_next_url(request))
    if not staff_has_second_factor(request.user):
        return staff_second_factor_redirect(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if staff_token_throttled(staff_token_devices(user=request.user, token=token)):
            form.add_error("token", WAIT_MESSAGE)
            return TemplateResponse(
                request,
                "admin/two_factor_verify.html",
                _context(site, request, title="Enter your sign-in code", form=form),
            )
        device = staff_token_match(user=request.user, token=token)
        if device is not None:
            _second_factor_done(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                audit_log_record(
                    actor=request.user,
                    action="auth.backup_code_used",
                    target=request.user,
                    detail={"backup_codes_left": left},
                )
            return redirect(_next_url(request))
        logger.info("Wrong second-factor code for staff user %s", request.user.pk)
        form.add_error(
            "token",
            "That code is not right. Type the 6 digits your authenticator app shows now, or "
            "one of your backup codes. After several wrong codes you must wait before trying "
            "again.",
        )
    return TemplateResponse(
        request,
        "admin/two_factor_verify.html",
        _context(site, request, title="Enter your sign-in code", form=form),
    )


@never_cache
@csrf_protect
@require_POST
def two_factor_sign_out(request: HttpRequest, site):
    """Sign out before the code: the admin's own logout is behind the full sign-in."""
    logout(request)
    return redirect("admin:login")


def staff_backup_codes_left(*, user) -> int | None:
    """How many unused backup codes the user has; None before they enrolled."""
    if not staff_has_second_factor(user):
        return None
    return StaticToken.objects.filter(device__user=user).count()


@never_cache
@csrf_protect
def two_factor_backup_codes_renew(request: HttpRequest, site):
    """A fresh set of backup codes for a signed-in user (the old ones stop working). Behind the
    admin's full sign-in (PortalAdminSite wraps it in admin_view)."""
    if not staff_has_second_factor(request.user):
        return staff_second_factor_redirect(request)
    if request.method != "POST":
        return TemplateResponse(
            request,
            "admin/two_factor_backup_codes_renew.html",
            {**site.each_context(request), "title": "New backup codes",
             "left": staff_backup_codes_left(user=request.user)},
        )  # fmt: skip
    codes = staff_backup_codes_issue(user=request.user)
    audit_log_record(
        actor=request.user, action="auth.backup_codes_renewed", target=request.user, detail={}
    )
    return TemplateResponse(
        request,
        "admin/two_factor_backup_codes.html",
        {**site.each_context(request), "title": "Your backup codes", "codes": codes,
         "next": reverse("admin:index")},
    )  # fmt: skip


class StaffSignedIn(BasePermission):
    """DRF's default permission: staff with the full sign-in (the password, and the second
    factor where it is asked for), as the admin requires."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_staff) and not staff_second_factor_missing(request)


@never_cache
@csrf_protect
def two_factor_enrol(request: HttpRequest, site):
    if not _signed_in_staff(request):
        return redirect("admin:login")
    user = request.user
    if staff_has_second_factor(user):
        if staff_second_factor_missing(request):
            return redirect("admin:two_factor_verify")
        return redirect(_next_url(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and staff_token_throttled([device]):
        form.add_error("token", WAIT_MESSAGE)
    elif request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = staff_backup_codes_issue(user=user)
            _second_factor_done(request, device)
            audit_log_record(
                actor=user, action="auth.second_factor_enrolled", target=user, detail={}
            )
            return TemplateResponse(
                request,
                "admin/two_factor_backup_codes.html",
                _context(site, request, title="Your backup codes", codes=codes),
            )
        form.add_error(
            "token",
            "That code does not match. Check that the app shows this portal's entry and type "
            "the 6 digits it shows now.",
        )
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=5, title="Sign-in QR")
    return TemplateResponse(
        request,
        "admin/two_factor_enrol.html",
        _context(
            site,
            request,
            title="Set up two-factor sign-in",
            form=form,
            qr_svg=qr_svg,
            secret=b32encode(device.bin_key).decode().rstrip("="),
        ),
    )
