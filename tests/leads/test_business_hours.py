import importlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

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


def _with_holidays(*days):
    return BusinessHours(
        tz=LONDON, days=HOURS.days, opens=HOURS.opens, closes=HOURS.closes, holidays=set(days)
    )


def test_a_holiday_before_the_weekend_moves_the_due_time_to_the_next_business_day():
    # Christmas Day 2026 is a Friday; Boxing Day falls on the Saturday.
    hours = _with_holidays(date(2026, 12, 25), date(2026, 12, 26))
    christmas_eve_evening = at(2026, 12, 24, 18, 0)
    assert hours.add(christmas_eve_evening, 120) == at(2026, 12, 28, 11, 0).astimezone(UTC)
    # Business time left on the evening before still counts up to closing.
    assert hours.add(at(2026, 12, 24, 17, 0), 60) == at(2026, 12, 28, 9, 30).astimezone(UTC)


def test_holidays_on_a_weekend_change_nothing():
    hours = _with_holidays(date(2026, 11, 28), date(2026, 11, 29))
    for start in [at(2026, 11, 27, 18, 0), at(2026, 11, 28, 12, 0), at(2026, 11, 26, 16, 0)]:
        assert hours.add(start, 120) == HOURS.add(start, 120)


def test_a_holiday_is_a_whole_day_in_the_sla_time_zone():
    hours = _with_holidays(date(2026, 11, 24))  # a Tuesday
    assert hours.add(at(2026, 11, 23, 16, 30), 120) == at(2026, 11, 25, 10, 0).astimezone(UTC)
    # 23:30 UTC on Monday is still Monday in London but already the Tuesday holiday in Tokyo.
    monday_night_utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert hours.add(monday_night_utc, 60) == at(2026, 11, 25, 10, 0).astimezone(UTC)
    tokyo = BusinessHours(
        tz=ZoneInfo("Asia/Tokyo"),
        days=HOURS.days,
        opens=HOURS.opens,
        closes=HOURS.closes,
        holidays={date(2026, 11, 24)},
    )
    assert tokyo.add(monday_night_utc, 60) == datetime(
        2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")
    ).astimezone(UTC)


def test_when_every_day_is_a_holiday_the_search_gives_up_with_a_clear_error():
    start = date(2026, 11, 23)
    hours = _with_holidays(*(start + timedelta(days=n) for n in range(-1, 4000)))
    with pytest.raises(ValueError, match=r"never open.*LEADS_SLA_HOLIDAYS"):
        hours.add(at(2026, 11, 23, 10, 0), 60)


def test_holidays_are_read_from_the_settings(settings):
    settings.LEADS_SLA_TIME_ZONE = "Europe/London"
    settings.LEADS_SLA_BUSINESS_DAYS = [0, 1, 2, 3, 4]
    settings.LEADS_SLA_BUSINESS_HOURS = ("09:00", "17:30")
    settings.LEADS_SLA_HOLIDAYS = [date(2026, 4, 3), "2026-04-06"]  # Good Friday, Easter Monday

    hours = BusinessHours.from_settings()

    assert hours.holidays == {date(2026, 4, 3), date(2026, 4, 6)}
    assert hours.add(at(2026, 4, 2, 18, 0), 120) == at(2026, 4, 7, 11, 0).astimezone(UTC)


@pytest.mark.parametrize("bad", ["2026-13-01", "25/12/2026", "christmas", ""])
def test_a_bad_holiday_in_the_settings_fails_loudly(settings, bad):
    settings.LEADS_SLA_HOLIDAYS = ["2026-12-25", bad]
    with pytest.raises(ImproperlyConfigured, match=f"LEADS_SLA_HOLIDAYS has {bad!r}"):
        BusinessHours.from_settings()


def test_a_bad_holiday_in_the_environment_stops_startup(monkeypatch):
    import config.settings.leads as leads_settings

    monkeypatch.setenv("LEADS_SLA_HOLIDAYS", "2026-12-25, 2026-12-28")
    holidays = importlib.reload(leads_settings).LEADS_SLA_HOLIDAYS
    assert holidays == [date(2026, 12, 25), date(2026, 12, 28)]
    monkeypatch.setenv("LEADS_SLA_HOLIDAYS", "2026-12-25,2026-02-30")
    try:
        with pytest.raises(ImproperlyConfigured, match="'2026-02-30', which is not a date"):
            importlib.reload(leads_settings)
    finally:
        monkeypatch.undo()
        importlib.reload(leads_settings)


def test_holidays_must_be_whole_days():
    with pytest.raises(ValueError, match="must be dates"):
        _with_holidays(datetime(2026, 12, 25, tzinfo=LONDON))
    with pytest.raises(ValueError, match="must be dates"):
        _with_holidays("2026-12-25")
