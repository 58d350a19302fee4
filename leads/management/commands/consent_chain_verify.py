"""Verify every lead's consent hash chain. Exit status 1 when anything does not add up."""

from django.core.management.base import BaseCommand, CommandError

from leads.selectors import consent_chains_verify


class Command(BaseCommand):
    help = (
        "Recompute the hash of every consent record and check each lead's chain: edited, "
        "removed or inserted records, and changed consent wording, are reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("--lead", type=int, action="append", dest="leads", help="Lead id")

    def handle(self, *args, leads=None, **options):
        checked, problems = consent_chains_verify(lead_ids=leads)
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(
                f"{len(problems)} problem(s) in the consent records of {checked} lead(s)."
            )
        self.stdout.write(self.style.SUCCESS(f"{checked} consent chain(s) verified, all intact."))
