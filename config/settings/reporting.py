"""Reporting: the finance dashboard's daily rollups (docs/reporting.md)."""

import environ

env = environ.Env()

# The beat's frequent rollup run (`reporting-rollup-recent`) rebuilds this many closed days
# back from yesterday; the nightly run (`reporting-rollup-all`) rebuilds every closed day.
REPORTING_ROLLUP_RECENT_DAYS = env.int("REPORTING_ROLLUP_RECENT_DAYS", default=7)
