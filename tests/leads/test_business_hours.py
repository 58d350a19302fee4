from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from leads.business_hours import BusinessHours

LONDON = ZoneInfo("Europe/London")
HOURS = BusinessHours(tz=LONDON, days=frozenset(range(5)), opens=time(9, 0), closes=time(17, 30))


def at(*args):
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (at(2026, 11, 23, 10, 0), 120, at(2026, 11, 23, 12, 0)),  # Monday morning
        (at(2026, 11, 23, 16, 30), 120, at(2026, 11, 24, 10, 0)),  # carries over the night
        (at(2026, 11, 27, 18, 0), 120, at(2026, 11, 30, 11, 0)),  # Friday evening -> Monday
        (at(2026, 11, 28, 12, 0), 30, at(2026, 11, 30, 9, 30)),  # Saturday
        (at(2026, 11, 23, 6, 0), 0, at(2026, 11, 23, 9, 0)),  # before opening
        (at(2026, 11, 23, 10, 0), 8 * 60 + 30, at(2026, 11, 24, 10, 0)),  # a full day
    ],
)
def test_only_business_time_counts(start, minutes, due):
    assert HOURS.add(start, minutes) == due.astimezone(UTC)


def test_the_time_zone_decides_what_business_hours_mean():
    new_york = BusinessHours(
        tz=ZoneInfo("America/New_York"),
        days=frozenset(range(5)),
        opens=time(9, 0),
        closes=time(17, 0),
    )
    # 15:00 UTC on a Monday is 10:00 in New York.
    start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert new_york.add(start, 60) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_over_a_daylight_saving_change_the_wall_clock_hours_are_kept():
    # Europe/London leaves summer time on Sunday 25 October 2026.
    due = HOURS.add(at(2026, 10, 23, 17, 0), 60)
    assert due == at(2026, 10, 26, 9, 30).astimezone(UTC)
    assert due.hour == 9  # 09:30 GMT


def test_a_week_without_business_days_falls_back_to_clock_time():
    always = BusinessHours(tz=LONDON, days=frozenset(), opens=time(9), closes=time(17))
    start = at(2026, 11, 28, 12, 0)
    assert always.add(start, 90) == at(2026, 11, 28, 13, 30).astimezone(UTC)
