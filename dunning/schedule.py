"""When a step may happen: quiet hours, the bank maintenance window and payday, in the buyer's
own timezone. Pure functions of aware datetimes; every rule is applied in local wall time and
the answer is an aware UTC instant, so DST changes are handled by zoneinfo, never by adding
hours by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.core import get_global
from django.conf import settings
from phonenumbers import timezone as phone_timezone

# The zone most people of a country live in, where the country has several (babel lists them
# alphabetically, which would put Americans in Adak and Australians in Adelaide).
_MAIN_ZONE = {
    "US": "America/New_York", "CA": "America/Toronto", "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo", "MX": "America/Mexico_City", "RU": "Europe/Moscow",
    "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "DE": "Europe/Berlin", "NZ": "Pacific/Auckland",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago", "CN": "Asia/Shanghai", "UA": "Europe/Kyiv", "EC": "America/Guayaquil",
    "MY": "Asia/Kuala_Lumpur", "CD": "Africa/Kinshasa", "MN": "Asia/Ulaanbaatar",
}  # fmt: skip
# Billing countries whose buyers get German messages and pages; everyone else gets English.
GERMAN_COUNTRIES = {"DE", "AT", "CH", "LI", "LU"}


def language_for(*, country: str) -> str:
    return "de" if (country or "").upper() in GERMAN_COUNTRIES else "en"


def zone_for(*, phone: str = "", country: str = "") -> str:
    """The buyer's timezone: from their phone number when it names exactly one, else their
    billing country's main zone, else DUNNING_DEFAULT_TIMEZONE."""
    if phone:
        try:
            zones = phone_timezone.time_zones_for_number(phonenumbers.parse(phone, None))
        except phonenumbers.NumberParseException:
            zones = ()
        if len(zones) == 1 and _valid_zone(zones[0]):
            return zones[0]
    code = (country or "").upper()
    if code in _MAIN_ZONE:
        return _MAIN_ZONE[code]
    zones = get_global("territory_zones").get(code) or []
    if zones and _valid_zone(zones[0]):
        return zones[0]
    return settings.DUNNING_DEFAULT_TIMEZONE


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.DUNNING_DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.DUNNING_DEFAULT_TIMEZONE)


Window = tuple[time, time]


def _inside(moment: time, window: Window) -> bool:
    start, end = window
    if start == end:
        return False  # an empty window
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end  # wraps midnight, e.g. 21:00-08:00


def _window_end(local: datetime, window: Window, tz: ZoneInfo) -> datetime:
    start, end = window
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # the window that started this evening ends tomorrow
    # A wall time inside a DST gap (02:30 on the spring-forward night) has fold=0, which
    # zoneinfo reads with the offset before the change: it lands just after the gap.
    return datetime.combine(day, end, tzinfo=tz)


def next_allowed(moment: datetime, *, tz: ZoneInfo, windows: list[Window]) -> datetime:
    """The first instant at or after `moment` that is outside every window, in local time."""
    current = moment.astimezone(tz)
    for _ in range(len(windows) * 3 + 3):  # windows may chain (maintenance inside quiet hours)
        inside = [w for w in windows if _inside(current.time(), w)]
        if not inside:
            return current.astimezone(UTC)
        current = max(_window_end(current, w, tz) for w in inside).astimezone(tz)
    return current.astimezone(UTC)


def next_payday(
    moment: datetime,
    *,
    tz: ZoneInfo,
    mode: str,
    days_later: int,
    declined_at: datetime | None,
) -> datetime:
    """Move a retry after `insufficient_funds` to payday: the next 1st or 15th (local midnight,
    or `moment` itself when it is already on one), or `days_later` days after the decline."""
    if mode == "first_and_fifteenth":
        local = moment.astimezone(tz)
        if local.day in (1, 15):
            return moment
        if local.day < 15:
            target = local.date().replace(day=15)
        else:
            first = local.date().replace(day=1) + timedelta(days=32)
            target = first.replace(day=1)
        return datetime.combine(target, time(0, 0), tzinfo=tz).astimezone(UTC)
    if mode == "days_later" and declined_at is not None:
        return max(moment, declined_at.astimezone(UTC) + timedelta(days=days_later))
    return moment
