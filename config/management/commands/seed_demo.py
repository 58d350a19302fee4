"""Seed a demo: one staff user per group, and (as later issues add them) demo offers and leads.

`--scale N` then adds a synthetic year of history with N payments (reporting/seed_scale/).

Idempotent: running it twice changes nothing the second time.
"""

import importlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.staff import staff_groups_sync

DEMO_STAFF = [
    ("sales", "Sam", "Seller", "Sales"),
    ("finance", "Fran", "Ledger", "Finance"),
    ("admin", "Ada", "Admin", "Admin"),
]


class Command(BaseCommand):
    help = "Create demo staff and demo data. Safe to run more than once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            metavar="N",
            help="Also create a synthetic 12-month history of N payments (with leads, failures, "
            "dunning, refunds, disputes and receipts) in EUR, USD and JPY.",
        )

    def handle(self, *args, **options):
        scale = options.get("scale")
        if scale is not None and scale < 1:
            raise CommandError("--scale takes a whole number of payments, 1 or more.")
        self._seed_demo()
        if scale:
            # The year of history spans every app, so it lives on the top floor (reporting,
            # which reads it); config names apps only by string (DESIGN.md §2b).
            seed = importlib.import_module("reporting.seed_scale")
            try:
                seed.scale_seed(n=scale, stdout=self.stdout)
            except seed.ScaleSeedRefused as exc:
                raise CommandError(str(exc)) from exc

    @transaction.atomic
    def _seed_demo(self):
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
