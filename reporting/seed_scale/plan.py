"""What the scale seed makes: offers, shares and the outcome of each order's payments."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from dunning.declines import Category

SEED_PREFIX = "seed-scale:"
SEED_EMAIL_DOMAIN = "seed.example.com"

# (offer slug, billing countries): one offer per currency.
SCALE_OFFERS = [
    ("pricing-masterclass", ["DE", "FR", "IE", "NL"]),  # EUR
    ("growth-webinar", ["US"]),  # USD
    ("tokyo-seminar", ["JP"]),  # JPY
]
GROWTH_WEBINAR = {
    "name": "Growth webinar (recording)",
    "description": "A two-hour recorded webinar on growing a service business.",
    "price_amount": 9_900,
    "currency": "USD",
    "billing_type": "one_time",
    "tax_mode": "exclusive",
    "access_name": "Growth webinar recording",
    "access_url": "https://learn.example.com/growth",
}

FIRST_ATTEMPT_SUCCESS = 0.82
SOFT_DECLINES = ["insufficient_funds", "try_again_later", "processing_error"]
ACTION_DECLINES = ["expired_card", "authentication_required", "incorrect_cvc"]
HARD_DECLINES = ["stolen_card", "do_not_honor", "fraudulent"]
REFUND_SHARE = 0.05
DISPUTE_SHARE = 0.006
CSAT_SHARE = 0.2
LEADS_WITHOUT_ORDERS = 0.5
MAX_SCALE = 20_000_000
CSAT_COMMENTS = ("Quick and easy.", "The card form was fiddly on my phone.", "Took two tries.",
                 "Great.")  # fmt: skip


class ScaleSeedRefused(Exception):
    """The database cannot take the seed as asked (bad N)."""


def months_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    year, month = local.year, local.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class OrderPlan:
    payments: list[str]  # "succeeded" / "failed", in order
    case: bool = False
    case_channel: str = ""  # retry | link | "" (written off)
    decline_code: str = ""
    category: str = ""


def order_plans(*, n: int, rng: random.Random) -> Iterator[OrderPlan]:
    """Orders and the outcome of each of their payments, until there are exactly n payments."""
    left = n
    while left > 0:
        if left == 1 or rng.random() < FIRST_ATTEMPT_SUCCESS:
            left -= 1
            yield OrderPlan(payments=["succeeded"])
            continue
        kind = rng.random()
        if kind < 0.6:
            code, category = rng.choice(SOFT_DECLINES), Category.SOFT
        elif kind < 0.85:
            code, category = rng.choice(ACTION_DECLINES), Category.CUSTOMER_ACTION
        else:
            code, category = rng.choice(HARD_DECLINES), Category.HARD
        item = OrderPlan(payments=["failed"], case=True, decline_code=code, category=category)
        if category == Category.SOFT:
            item.case_channel = "retry"
            item.payments.append("succeeded" if rng.random() < 0.6 else "failed")
        elif category == Category.CUSTOMER_ACTION and rng.random() < 0.4:
            item.case_channel = "link"
            item.payments.append("succeeded")
        left -= len(item.payments)
        yield item


def uuid_from(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)
