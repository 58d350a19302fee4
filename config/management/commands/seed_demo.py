"""Seed a demo: one staff user per group, and (as later issues add them) demo offers and leads.

Idempotent: running it twice changes nothing the second time.
"""

import importlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from config.staff import staff_groups_sync

DEMO_STAFF = [
    ("sales", "Sam", "Seller", "Sales"),
    ("finance", "Fran", "Ledger", "Finance"),
    ("admin", "Ada", "Admin", "Admin"),
]


class Command(BaseCommand):
    help = "Create demo staff and demo data. Safe to run more than once."

    @transaction.atomic
    def handle(self, *args, **options):
        staff_groups_sync()
        password = settings.DEMO_STAFF_PASSWORD
        User = get_user_model()
        for username, first, last, group_name in DEMO_STAFF:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.example.com",
                    "is_staff": True,
                },
            )
            if created:
                if password:
                    user.set_password(password)
                else:
                    # Production has no default credentials: set one with `changepassword`.
                    user.set_unusable_password()
                user.save()
            user.groups.add(Group.objects.get(name=group_name))
            self.stdout.write(
                f"{'created' if created else 'kept'} staff user {username} ({group_name})"
            )
        for hook in seed_hooks():
            hook(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))


def seed_hooks():
    """Each app that has demo data exposes `seed_demo(stdout)` in its `demo` module."""
    hooks = []
    for app in ("leads", "payments", "checkout", "receipts", "dunning", "reporting"):
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
            continue
        hooks.append(module.seed_demo)
    return hooks
