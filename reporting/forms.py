from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from reporting.exports import FORMATS, KINDS

MAX_DAYS = 732


class PeriodForm(forms.Form):
    """A date range, both days included, in the portal's time zone."""

    date_from = forms.DateField(label="From")
    date_to = forms.DateField(label="To (included)")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[since, until): midnight of the first day to midnight after the last."""
        zone = timezone.get_current_timezone()
        start, end = self.cleaned_data["date_from"], self.cleaned_data["date_to"]
        since = datetime.combine(start, time.min, tzinfo=zone)
        until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        return since, until


def default_period(today: date | None = None) -> dict[str, date]:
    today = today or timezone.localdate()
    return {"date_from": today - timedelta(days=29), "date_to": today}


class DashboardForm(PeriodForm):
    currency = forms.ChoiceField(label="Currency")

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]


class ExportForm(PeriodForm):
    format = forms.ChoiceField(choices=[(f, f.upper()) for f in FORMATS], initial="csv")


EXPORT_KINDS = list(KINDS)
