"""Which language, locale and time zone a buyer's documents are written in.

From the buyer's billing details when finance recorded them, otherwise from the billing
country: its usual language if we write receipts in it (RECEIPTS_LANGUAGES), else the first of
them; its time zone from CLDR's territory zones (RECEIPTS_COUNTRY_TIME_ZONES for countries with
several).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError, localedata
from babel.core import get_global
from django.conf import settings


def buyer_language(*, country: str, preferred: str = "") -> str:
    languages = list(settings.RECEIPTS_LANGUAGES) or ["en"]
    if preferred in languages:
        return preferred
    try:
        usual = Locale.parse(f"und_{country.upper()}").language if country else ""
    except (UnknownLocaleError, ValueError):
        usual = ""
    return usual if usual in languages else languages[0]


def buyer_locale(*, language: str, country: str) -> str:
    """`de_AT` for an Austrian buyer, `en_GB` for a British one; the language's own default
    where CLDR has no locale for the pair (`en` for a Japanese buyer: `en_JP` does not exist)."""
    candidate = f"{language}_{country.upper()}" if country else ""
    if candidate and localedata.exists(candidate):
        return candidate
    return {"en": "en_GB", "de": "de_DE"}.get(language, language)


def buyer_time_zone(*, country: str, preferred: str = "") -> str:
    for name in (preferred, settings.RECEIPTS_COUNTRY_TIME_ZONES.get(country.upper(), "")):
        if name and _valid_zone(name):
            return name
    zones = get_global("territory_zones").get(country.upper(), [])
    return zones[0] if zones and _valid_zone(zones[0]) else "UTC"


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
