"""Business-time arithmetic for first-response SLAs ("2 business hours after the lead came in")."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def holidays_parse(values: Iterable[date | str], *, setting: str) -> frozenset[date]:
    """Public holidays from a setting: `date`s, or ISO dates such as "2026-12-25".

    A bad entry raises ImproperlyConfigured naming the setting and the value, so a typo stops
    the process instead of silently counting a holiday as a working day.
    """
    days: set[date] = set()
    for value in values:
        if isinstance(value, datetime):
            raise ImproperlyConfigured(
                f"{setting} has {value!r}, a date and time; give whole days such as 2026-12-25."
            )
        if isinstance(value, date):
            days.add(value)
            continue
        try:
            days.add(date.fromisoformat(str(value).strip()))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting} has {value!r}, which is not a date; write each holiday as "
                "YYYY-MM-DD, separated by commas (e.g. 2026-12-25,2026-12-28)."
            ) from None
    return frozenset(days)


@dataclass(frozen=True)
class BusinessHours:
    tz: ZoneInfo
    days: frozenset[int]  # Monday is 0
    opens: time
    closes: time
    # Whole days, in `tz`, that are not business time even when they fall on a business day.
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        bad = [d for d in self.holidays if isinstance(d, datetime) or not isinstance(d, date)]
        if bad:
            raise ValueError(f"Holidays must be dates (whole days), not {bad[0]!r}.")
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def from_settings(cls) -> "BusinessHours":
        # Read on every capture: built once per distinct configuration (tests override it).
        return _business_hours(
            settings.LEADS_SLA_TIME_ZONE,
            tuple(settings.LEADS_SLA_BUSINESS_DAYS),
            tuple(settings.LEADS_SLA_BUSINESS_HOURS),
            tuple(settings.LEADS_SLA_HOLIDAYS),
        )

    @classmethod
    def _build(cls, tz_name: str, days: tuple, hours: tuple, holidays: tuple) -> "BusinessHours":
        start, end = hours
        return cls(
            tz=ZoneInfo(tz_name),
            days=frozenset(int(d) for d in days),
            opens=time.fromisoformat(start),
            closes=time.fromisoformat(end),
            holidays=holidays_parse(holidays, setting="LEADS_SLA_HOLIDAYS"),
        )

    def _day_bounds(self, day) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.opens, tzinfo=self.tz),
            datetime.combine(day, self.closes, tzinfo=self.tz),
        )

    def _is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def add(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` of business time after `start` (aware), in UTC.

        Time outside business hours does not count, nor do holidays: a lead that arrives on
        Friday evening with a 120-minute target is due at 11:00 on Monday, or at 11:00 on
        Tuesday when that Monday is a holiday.
        """
        if not self.days or self.opens >= self.closes:
            return (start + timedelta(minutes=minutes)).astimezone(UTC)
        remaining = timedelta(minutes=max(minutes, 0))
        cursor = start.astimezone(self.tz)
        for _ in range(3660):  # ten years of days; a bad configuration must not spin forever
            opens, closes = self._day_bounds(cursor.date())
            if self._is_business_day(cursor.date()) and cursor < closes:
                cursor = max(cursor, opens)
                available = closes - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(UTC)
                remaining -= available
            next_day = cursor.date() + timedelta(days=1)
            cursor = datetime.combine(next_day, time(0, 0), tzinfo=self.tz)
        raise ValueError(
            "Business hours never open; check LEADS_SLA_BUSINESS_* and LEADS_SLA_HOLIDAYS."
        )


@functools.lru_cache(maxsize=16)
def _business_hours(tz_name: str, days: tuple, hours: tuple, holidays: tuple) -> BusinessHours:
    return BusinessHours._build(tz_name, days, hours, holidays)
