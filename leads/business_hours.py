"""Business-time arithmetic for first-response SLAs ("2 business hours after the lead came in")."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


@dataclass(frozen=True)
class BusinessHours:
    tz: ZoneInfo
    days: frozenset[int]  # Monday is 0
    opens: time
    closes: time

    @classmethod
    def from_settings(cls) -> "BusinessHours":
        start, end = settings.LEADS_SLA_BUSINESS_HOURS
        return cls(
            tz=ZoneInfo(settings.LEADS_SLA_TIME_ZONE),
            days=frozenset(int(d) for d in settings.LEADS_SLA_BUSINESS_DAYS),
            opens=time.fromisoformat(start),
            closes=time.fromisoformat(end),
        )

    def _day_bounds(self, day) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.opens, tzinfo=self.tz),
            datetime.combine(day, self.closes, tzinfo=self.tz),
        )

    def add(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` of business time after `start` (aware), in UTC.

        Time outside business hours does not count: a lead that arrives on Friday evening with
        a 120-minute target is due at 11:00 on Monday.
        """
        if not self.days or self.opens >= self.closes:
            return (start + timedelta(minutes=minutes)).astimezone(UTC)
        remaining = timedelta(minutes=max(minutes, 0))
        cursor = start.astimezone(self.tz)
        for _ in range(3660):  # ten years of days; a bad configuration must not spin forever
            opens, closes = self._day_bounds(cursor.date())
            if cursor.weekday() in self.days and cursor < closes:
                cursor = max(cursor, opens)
                available = closes - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(UTC)
                remaining -= available
            next_day = cursor.date() + timedelta(days=1)
            cursor = datetime.combine(next_day, time(0, 0), tzinfo=self.tz)
        raise ValueError("Business hours never open; check LEADS_SLA_BUSINESS_* settings.")
