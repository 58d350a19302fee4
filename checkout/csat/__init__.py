"""Payment CSAT: "How easy was paying?", answered once per order through a signed link.

- `services`: the signed link and the one answer per order;
- `forms` and `views`: the question at /feedback/payment/<token>/ (and on the done page).

The weekly figures are a read like any other: `checkout.selectors.csat_by_week`.
"""
