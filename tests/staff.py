"""Signing staff in for tests, the way the admin requires: a password login (force_login) and
a verified second factor in the same session, as config/two_factor.py leaves it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def staff_user(username: str, *groups: str, **fields):
    """A staff user in `groups` (Sales, Finance, Admin; none for plain staff)."""
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw-not-used-9", is_staff=True, **fields
    )
    if groups:
        user.groups.set(Group.objects.filter(name__in=groups))
    return user


def staff_sign_in(client, user):
    """Sign `user` in on `client` with a confirmed authenticator, verified for this session."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="Authenticator app", defaults={"confirmed": True}
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
