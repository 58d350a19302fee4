"""The finance dashboard's panels: for each figure a title, its definition, a table of the
numbers (formatted for people) and the same numbers for its chart (plain JSON for Chart.js).

No figure is computed here: each comes from one selector in reporting/selectors.py. This module
only lays the selectors' results out, and formats money with Babel at this edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from babel.numbers import get_currency_precision

from checkout.selectors import csat_by_week
from config.money import money_format
from dunning.declines import Category
from dunning.models import DunningCase
from reporting import selectors


@dataclass
class Panel:
    key: str
    title: str
    definition: str
    columns: list[str]
    rows: list[list[str]]
    chart: dict = field(default_factory=dict)


# Shown where a figure has no denominator (nothing in the period): an en dash.
NONE = "\u2013"


def _share(part: int, whole: int) -> str:
    return _percent(part / whole if whole else None)


def _major(amount: int, currency: str) -> float:
    """An amount in major units, only for drawing a chart (tables show money_format's text)."""
    return float(Decimal(int(amount)).scaleb(-get_currency_precision(currency.upper())))


def _percent(rate: float | None) -> str:
    return NONE if rate is None else f"{rate * 100:.1f}%"


def _chart_percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def _duration(value: timedelta | None) -> str:
    if value is None:
        return NONE
    hours = value.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _dataset(label: str, data: list, **options) -> dict:
    return {"label": label, "data": data, **options}


def _revenue_by_day(since, until, currency) -> Panel:
    days = selectors.revenue_by_day(since=since, until=until, currency=currency)
    return Panel(
        key="revenue-day",
        title="Revenue by day",
        definition=(
            "Money received on payments that succeeded that day, before refunds, in "
            f"{currency}; days with none are left out."
        ),
        columns=["Day", "Payments", "Received"],
        rows=[
            [f"{d.day:%Y-%m-%d}", str(d.payments), money_format(d.amount, currency)] for d in days
        ],
        chart={
            "type": "line",
            "labels": [f"{d.day:%Y-%m-%d}" for d in days],
            "datasets": [
                _dataset(f"Received ({currency})", [_major(d.amount, currency) for d in days])
            ],
        },
    )


def _revenue_by_offer(since, until, currency) -> Panel:
    offers = selectors.revenue_by_offer(since=since, until=until, currency=currency)
    return Panel(
        key="revenue-offer",
        title="Revenue by offer",
        definition=(
            f"Money received in {currency} on payments that succeeded in the period, per offer "
            "of the order paid, before refunds."
        ),
        columns=["Offer", "Payments", "Received"],
        rows=[[o.offer, str(o.payments), money_format(o.amount, currency)] for o in offers],
        chart={
            "type": "bar",
            "labels": [o.offer for o in offers],
            "datasets": [
                _dataset(f"Received ({currency})", [_major(o.amount, currency) for o in offers])
            ],
        },
    )


def _funnel(since, until) -> Panel:
    f = selectors.lead_funnel(since=since, until=until)
    steps = [
        ("Leads", f.leads),
        ("Payment-ready", f.ready),
        ("Checkout started", f.checkout_started),
        ("Paid", f.paid),
    ]
    return Panel(
        key="funnel",
        title="Funnel: lead → ready → checkout started → paid",
        definition=(
            "Of the leads created in the period (the denominator of every step, in any "
            "currency): how many are payment-ready, have started a checkout, and have paid."
        ),
        columns=["Step", "Leads", "Of all leads"],
        rows=[[name, str(n), _share(n, f.leads)] for name, n in steps],
        chart={
            "type": "bar",
            "labels": [name for name, _ in steps],
            "datasets": [_dataset("Leads", [n for _, n in steps])],
        },
    )


def _time_to_first_payment(since, until, currency) -> Panel:
    s = selectors.time_to_first_payment(since=since, until=until, currency=currency)
    return Panel(
        key="first-payment",
        title="Time to first payment",
        definition=(
            "From a lead's creation to its first successful payment in "
            f"{currency}, over the {s.count} leads created in the period that have paid."
        ),
        columns=["Figure", "Time"],
        rows=[["Median", _duration(s.median)], ["90th percentile", _duration(s.p90)]],
        chart={
            "type": "bar",
            "labels": ["Median", "90th percentile"],
            "datasets": [_dataset("Hours", [_hours(s.median), _hours(s.p90)])],
        },
    )


def _payment_rates(rates: selectors.PaymentRates, currency) -> list[Panel]:
    success = Panel(
        key="success-rate",
        title="Payment success rate",
        definition=(
            f"Of the {rates.attempts} payments in {currency} asked for in the period (all but "
            "dunning's automatic retries, once settled): the share paid at the first attempt, "
            "and the share paid at once or recovered later by dunning."
        ),
        columns=["Figure", "Payments", "Rate"],
        rows=[
            ["First attempt", str(rates.paid_first_time), _percent(rates.first_attempt_rate)],
            [
                "After retries",
                str(rates.paid_first_time + rates.recovered_by_dunning),
                _percent(rates.after_retries_rate),
            ],
        ],
        chart={
            "type": "bar",
            "labels": ["First attempt", "After retries"],
            "datasets": [
                _dataset(
                    "% of payments asked for",
                    [
                        _chart_percent(rates.first_attempt_rate),
                        _chart_percent(rates.after_retries_rate),
                    ],
                )
            ],
        },
    )
    refunds = Panel(
        key="refund-rate",
        title="Refund rate and chargeback rate",
        definition=(
            f"Of the {rates.paid} payments in {currency} that succeeded in the period: the "
            "share with any refund, and the share with any dispute (chargeback)."
        ),
        columns=["Figure", "Payments", "Rate"],
        rows=[
            ["Refunded", str(rates.refunded), _percent(rates.refund_rate)],
            ["Disputed", str(rates.disputed), _percent(rates.chargeback_rate)],
        ],
        chart={
            "type": "bar",
            "labels": ["Refund rate", "Chargeback rate"],
            "datasets": [
                _dataset(
                    "% of successful payments",
                    [_chart_percent(rates.refund_rate), _chart_percent(rates.chargeback_rate)],
                )
            ],
        },
    )
    return [success, refunds]


def _recovery(rows, *, key, title, definition, label_of, currency) -> Panel:
    return Panel(
        key=key,
        title=title,
        definition=definition,
        columns=["", "Cases opened", "Recovered", "Rate", f"Recovered ({currency})"],
        rows=[
            [
                label_of(r.key),
                str(r.opened),
                str(r.recovered),
                _percent(r.rate),
                money_format(r.amount, currency),
            ]
            for r in rows
        ],
        chart={
            "type": "bar",
            "labels": [label_of(r.key) for r in rows],
            "datasets": [
                _dataset("Recovery rate %", [_chart_percent(r.rate) for r in rows], yAxisID="y"),
                _dataset(
                    f"Recovered ({currency})",
                    [_major(r.amount, currency) for r in rows],
                    yAxisID="y1",
                ),
            ],
        },
    )


def _label(choices):
    labels = dict(choices)
    return lambda key: str(labels.get(key, key or NONE))


def _discrepancies(since, until) -> Panel:
    r = selectors.discrepancy_resolution(since=since, until=until)
    return Panel(
        key="discrepancies",
        title="Discrepancy resolution time",
        definition=(
            f"Of the {r.detected} discrepancies detected in the period, {r.resolved} are "
            "resolved; from detection to resolution over those resolved."
        ),
        columns=["Figure", "Time"],
        rows=[["Median", _duration(r.median)], ["90th percentile", _duration(r.p90)]],
        chart={
            "type": "bar",
            "labels": ["Median", "90th percentile"],
            "datasets": [_dataset("Hours", [_hours(r.median), _hours(r.p90)])],
        },
    )


def _receipts(since, until, currency) -> Panel:
    d = selectors.receipt_delivery(since=since, until=until, currency=currency)
    waiting = d.issued - d.delivered - d.failed
    return Panel(
        key="receipts",
        title="Receipt delivery success rate",
        definition=(
            f"Of the {d.issued} receipts in {currency} issued in the period: the share whose "
            "email was sent and has not bounced."
        ),
        columns=["Receipts", "Count", "Of issued"],
        rows=[
            ["Delivered", str(d.delivered), _percent(d.rate)],
            ["Failed or bounced", str(d.failed), _share(d.failed, d.issued)],
            ["Still on the way", str(waiting), _share(waiting, d.issued)],
        ],
        chart={
            "type": "doughnut",
            "labels": ["Delivered", "Failed or bounced", "Still on the way"],
            "datasets": [_dataset("Receipts", [d.delivered, d.failed, waiting])],
        },
    )


def _sla(since, until) -> Panel:
    s = selectors.lead_sla_adherence(since=since, until=until)
    return Panel(
        key="sla",
        title="Lead SLA adherence",
        definition=(
            f"Of the {s.decided} leads created in the period whose first-response SLA is "
            f"decided: the share contacted in time ({_percent(s.rate)}). {s.pending} still "
            "waiting within their SLA are left out."
        ),
        columns=["First response", "Leads", "Of decided"],
        rows=[
            ["In time", str(s.met), _percent(s.rate)],
            ["Late", str(s.met_late), _share(s.met_late, s.decided)],
            ["Breached, not yet contacted", str(s.breached), _share(s.breached, s.decided)],
        ],
        chart={
            "type": "bar",
            "labels": ["In time", "Late", "Breached"],
            "datasets": [_dataset("Leads", [s.met, s.met_late, s.breached])],
        },
    )


def _csat(since, until) -> Panel:
    weeks = csat_by_week(since=since, until=until)
    answers = sum(w["count"] for w in weeks)
    return Panel(
        key="csat",
        title="Payment CSAT by week",
        definition=(
            "Answers to \u201cHow easy was paying?\u201d (1 hard \u2013 5 easy), by the week "
            "they were given: the mean score of that week's answers, each answer counted once "
            f"({answers} answers in the period, orders in every currency)."
        ),
        columns=["Week of", "Answers", "Mean score", "1", "2", "3", "4", "5"],
        rows=[
            [
                w["week"].isoformat(),
                str(w["count"]),
                NONE if w["mean"] is None else f"{w['mean']:.2f}",
                *(str(w["distribution"][n]) for n in range(1, 6)),
            ]
            for w in weeks
        ],
        chart={
            "type": "bar",
            "labels": [w["week"].isoformat() for w in weeks],
            "datasets": [_dataset("Mean score (1\u20135)", [w["mean"] for w in weeks])],
        },
    )


def dashboard_panels(*, since: datetime, until: datetime, currency: str) -> list[Panel]:
    """Every panel of the dashboard for [since, until) in one currency, in page order."""
    rates = selectors.payment_rates(since=since, until=until, currency=currency)
    return [
        _revenue_by_day(since, until, currency),
        _revenue_by_offer(since, until, currency),
        _funnel(since, until),
        _time_to_first_payment(since, until, currency),
        *_payment_rates(rates, currency),
        _recovery(
            selectors.recovery_by_decline_category(since=since, until=until, currency=currency),
            key="recovery-category",
            title="Recovery by decline category",
            definition=(
                "Per decline category: dunning cases recovered / cases opened in the period in "
                f"that category (cases in every currency); money recovered in {currency}."
            ),
            label_of=_label(Category.choices),
            currency=currency,
        ),
        _recovery(
            selectors.recovery_by_recovery_channel(since=since, until=until, currency=currency),
            key="recovery-channel",
            title="Recovery by channel",
            definition=(
                "Per channel: cases recovered through it / all cases opened in the period (the "
                "shares add up to the overall recovery rate; cases in every currency); money "
                f"recovered in {currency}."
            ),
            label_of=_label(DunningCase.Channel.choices),
            currency=currency,
        ),
        _discrepancies(since, until),
        _receipts(since, until, currency),
        _sla(since, until),
        _csat(since, until),
    ]


def panels_chart_data(panels: list[Panel]) -> list[dict]:
    """What the page's script draws (passed with json_script: no inline script)."""
    return [{"key": p.key, "title": p.title, **p.chart} for p in panels]
