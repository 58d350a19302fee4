"""The staff home (the admin's index): what needs doing, for the signed-in user, in their role.

Each item is a count from one app's selector and a link to the change list filtered to the same
rows. An item shows only to someone who may view those rows. Amounts at risk are given per
currency, never summed across currencies.

config stands below every app (DESIGN.md §2b), so it names no app's code: each app that has work
queues lists its items in its own `staff_home` module (`staff_home_items(*, user)`), found here by
name, in the order of STAFF_HOME_APPS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

# The order the items show in: the user's own leads and cases first, then the shared queues.
STAFF_HOME_APPS = ("leads", "dunning", "payments", "receipts", "checkout")


@dataclass(frozen=True)
class WorkItem:
    key: str
    title: str
    count: int
    url: str
    explanation: str
    amounts: list[str] = field(default_factory=list)

    @property
    def needs_action(self) -> bool:
        return self.count > 0


def staff_home_items(*, user) -> list[WorkItem]:
    items: list[WorkItem] = []
    for app in STAFF_HOME_APPS:
        module = importlib.import_module(f"{app}.staff_home")
        items.extend(module.staff_home_items(user=user))
    return items
