from django.core.management.base import BaseCommand, CommandError

from payments.services.installation import installation_reset


class Command(BaseCommand):
    help = (
        "Give this database a new installation id (the prefix of every Stripe idempotency key). "
        "Run it once on a database copied from another, before it talks to Stripe."
    )

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="Confirm the reset.")

    def handle(self, *args, **options):
        if not options["yes"]:
            raise CommandError(
                "This changes every idempotency key this database sends to Stripe. Run it only "
                "on a copy of another database, then add --yes."
            )
        self.stdout.write(f"New installation id: {installation_reset()}")
