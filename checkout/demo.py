"""Demo offers of every billing type (one in JPY, which has no decimals) and tax rates.

Idempotent: existing rows are kept as they are.
"""

from checkout.models import Offer, TaxRate

TAX_RATES = [("GB", 2000, "VAT"), ("DE", 1900, "MwSt"), ("FR", 2000, "TVA"), ("IE", 2300, "VAT"),
             ("NL", 2100, "BTW"), ("JP", 1000, "Consumption tax")]  # fmt: skip

OFFERS = [
    {
        "slug": "pricing-masterclass",
        "name": "Pricing masterclass",
        "description": "Six recorded lessons and worksheets on pricing a service business.",
        "price_amount": 24_900,
        "currency": "EUR",
        "tax_mode": Offer.TaxMode.INCLUSIVE,
        "billing_type": Offer.BillingType.ONE_TIME,
        "cancellation_terms": "Full refund within 14 days if you have not opened the lessons.",
        "access_name": "Pricing masterclass online",
        "access_url": "https://learn.example.com/pricing",
        "access_instructions": "Sign in at the link with your email and the access code.",
    },
    {
        "slug": "workshop-deposit",
        "name": "In-house workshop (deposit)",
        "description": "A one-day workshop at your office: a deposit now, the rest later.",
        "price_amount": 150_000,
        "currency": "GBP",
        "tax_mode": Offer.TaxMode.EXCLUSIVE,
        "billing_type": Offer.BillingType.DEPOSIT,
        "deposit_amount": 30_000,
        "balance_due_days": 30,
        "cancellation_terms": "The deposit is refundable up to 30 days before the workshop.",
        "accepts_bank_transfer": True,
        "access_name": "Workshop booking",
        "access_url": "https://learn.example.com/workshop",
    },
    {
        "slug": "equipment-hold",
        "name": "Equipment loan (refundable hold)",
        "description": "Borrow the recording kit for a week. We hold the amount on your card.",
        "price_amount": 40_000,
        "currency": "EUR",
        "tax_mode": Offer.TaxMode.INCLUSIVE,
        "billing_type": Offer.BillingType.HOLD,
        "cancellation_terms": "We release the hold within 3 days of getting the kit back.",
        "access_name": "Equipment loan",
    },
    {
        "slug": "community-monthly",
        "name": "Community membership (monthly)",
        "description": "Live Q&A every week and the members' forum.",
        "price_amount": 2_900,
        "currency": "USD",
        "tax_mode": Offer.TaxMode.EXCLUSIVE,
        "billing_type": Offer.BillingType.RECURRING,
        "interval": Offer.Interval.MONTH,
        "renewal_terms": "Renews monthly with the card you pay with today.",
        "cancellation_terms": "Cancel any time from your account page; you keep access until "
        "the end of the month you paid for.",
        "access_name": "Community forum",
        "access_url": "https://community.example.com/",
    },
    {
        "slug": "community-yearly",
        "name": "Community membership (yearly)",
        "description": "Twelve months for the price of ten.",
        "price_amount": 29_000,
        "currency": "USD",
        "tax_mode": Offer.TaxMode.EXCLUSIVE,
        "billing_type": Offer.BillingType.RECURRING,
        "interval": Offer.Interval.YEAR,
        "access_name": "Community forum",
        "access_url": "https://community.example.com/",
    },
    {
        "slug": "tokyo-seminar",
        "name": "Tokyo seminar",
        "description": "A half-day seminar in Tokyo.",
        "price_amount": 16_500,
        "currency": "JPY",
        "tax_mode": Offer.TaxMode.INCLUSIVE,
        "billing_type": Offer.BillingType.ONE_TIME,
        "access_name": "Tokyo seminar ticket",
    },
]


def seed_demo(stdout) -> None:
    for country, rate_bp, label in TAX_RATES:
        _, created = TaxRate.objects.get_or_create(
            offer=None, country=country, defaults={"rate_bp": rate_bp, "label": label}
        )
        if created:
            stdout.write(f"created tax rate {label} {country}")
    for data in OFFERS:
        data = dict(data)
        offer, created = Offer.objects.get_or_create(slug=data.pop("slug"), defaults=data)
        stdout.write(f"{'created' if created else 'kept'} offer /checkout/{offer.slug}/")
