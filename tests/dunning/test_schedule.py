"""Quiet hours, the bank maintenance window and payday, in the buyer's timezone, across DST."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dunning.schedule import language_for, next_allowed, next_payday, zone_for

QUIET = (time(21, 0), time(8, 0))
MAINTENANCE = (time(0, 0), time(4, 0))
WINDOWS = [QUIET, MAINTENANCE]
BERLIN, NEW_YORK, SYDNEY = (
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Sydney"),
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_instant_is_quiet_for_one_buyer_and_fine_for_another():
    moment = utc(2026, 6, 10, 20, 0)  # Berlin 22:00, New York 16:00, Sydney 06:00 next day
    assert next_allowed(moment, tz=BERLIN, windows=WINDOWS) == utc(2026, 6, 11, 6, 0)  # 08:00
    assert next_allowed(moment, tz=NEW_YORK, windows=WINDOWS) == moment
    assert next_allowed(moment, tz=SYDNEY, windows=WINDOWS) == utc(2026, 6, 10, 22, 0)  # 08:00


def test_the_maintenance_window_inside_quiet_hours_ends_at_the_quiet_hours_end():
    moment = utc(2026, 6, 10, 23, 30)  # Berlin 01:30: maintenance and quiet hours
    assert next_allowed(moment, tz=BERLIN, windows=WINDOWS) == utc(2026, 6, 11, 6, 0)
    # With only the maintenance window, it ends at 04:00 local.
    assert next_allowed(moment, tz=BERLIN, windows=[MAINTENANCE]) == utc(2026, 6, 11, 2, 0)
    # Outside every window: unchanged; at the end of a window: allowed.
    assert next_allowed(utc(2026, 6, 10, 10, 0), tz=BERLIN, windows=WINDOWS) == utc(
        2026, 6, 10, 10, 0
    )
    assert next_allowed(utc(2026, 6, 10, 6, 0), tz=BERLIN, windows=WINDOWS) == utc(
        2026, 6, 10, 6, 0
    )


def test_the_spring_forward_night_ends_maintenance_at_four_local_not_three_utc_hours_later():
    # Europe/Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    moment = utc(2026, 3, 29, 0, 30)  # 01:30 CET, inside 00:00-04:00
    allowed = next_allowed(moment, tz=BERLIN, windows=[MAINTENANCE])
    assert allowed == utc(2026, 3, 29, 2, 0)  # 04:00 CEST, only 1.5 h later in UTC
    assert allowed.astimezone(BERLIN).hour == 4
    # Quiet hours that night end at 08:00 CEST = 06:00 UTC (the day before it was 07:00 UTC).
    assert next_allowed(utc(2026, 3, 28, 22, 0), tz=BERLIN, windows=[QUIET]) == utc(
        2026, 3, 29, 6, 0
    )
    assert next_allowed(utc(2026, 3, 27, 22, 0), tz=BERLIN, windows=[QUIET]) == utc(
        2026, 3, 28, 7, 0
    )


def test_the_fall_back_night_and_new_yorks_own_change_date():
    # Europe/Berlin, 25 October 2026: 03:00 CEST goes back to 02:00 CET.
    assert next_allowed(utc(2026, 10, 25, 5, 30), tz=BERLIN, windows=WINDOWS) == utc(
        2026, 10, 25, 7, 0
    )  # 08:00 CET
    # New York changes a week later (1 November 2026): 08:00 EST is 13:00 UTC, EDT 12:00 UTC.
    assert next_allowed(utc(2026, 10, 31, 3, 0), tz=NEW_YORK, windows=WINDOWS) == utc(
        2026, 10, 31, 12, 0
    )
    assert next_allowed(utc(2026, 11, 1, 3, 0), tz=NEW_YORK, windows=WINDOWS) == utc(
        2026, 11, 1, 13, 0
    )


def test_payday_moves_to_the_next_first_or_fifteenth_or_days_later():
    tz = BERLIN
    assert next_payday(
        utc(2026, 6, 3, 10, 0), tz=tz, mode="first_and_fifteenth", days_later=0, declined_at=None
    ) == datetime(2026, 6, 15, 0, 0, tzinfo=tz)
    assert next_payday(
        utc(2026, 6, 20, 10, 0), tz=tz, mode="first_and_fifteenth", days_later=0, declined_at=None
    ) == datetime(2026, 7, 1, 0, 0, tzinfo=tz)
    # December rolls into January.
    assert next_payday(
        utc(2026, 12, 20, 10, 0), tz=tz, mode="first_and_fifteenth", days_later=0, declined_at=None
    ) == datetime(2027, 1, 1, 0, 0, tzinfo=tz)
    on_payday = utc(2026, 6, 15, 10, 0)
    assert (
        next_payday(on_payday, tz=tz, mode="first_and_fifteenth", days_later=0, declined_at=None)
        == on_payday
    )
    declined = utc(2026, 6, 3, 10, 0)
    assert next_payday(
        utc(2026, 6, 4, 10, 0), tz=tz, mode="days_later", days_later=5, declined_at=declined
    ) == utc(2026, 6, 8, 10, 0)
    assert next_payday(
        utc(2026, 6, 4, 10, 0), tz=tz, mode="none", days_later=5, declined_at=declined
    ) == utc(2026, 6, 4, 10, 0)


@pytest.mark.parametrize(
    ("phone", "country", "zone"),
    [
        ("+4915112345678", "", "Europe/Berlin"),
        ("+12125550100", "GB", "America/New_York"),  # the phone says more than the country
        ("", "US", "America/New_York"),
        ("", "AU", "Australia/Sydney"),
        ("", "AT", "Europe/Vienna"),
        ("not a number", "", "Europe/London"),
        ("", "", "Europe/London"),
    ],
)
def test_the_buyers_timezone_from_phone_then_country_then_the_default(
    settings, phone, country, zone
):
    settings.DUNNING_DEFAULT_TIMEZONE = "Europe/London"
    assert zone_for(phone=phone, country=country) == zone


def test_german_speaking_countries_get_german():
    assert [language_for(country=c) for c in ("DE", "at", "CH", "GB", "FR", "")] == [
        "de", "de", "de", "en", "en", "en",
    ]  # fmt: skip
