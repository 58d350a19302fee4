"""Stripe's rules on amounts: supported currencies, minor units and minimum charges.

From docs.stripe.com/currencies. The minimums are Stripe's "Minimum and maximum charge amounts"
table, in each currency's minor units (zero-decimal currencies such as JPY in their own units:
50 means ¥50). Stripe's floor for a currency outside the table depends on the day's rate to the
account's settlement currency; the peer has no rates, so such a currency gets no floor beyond
one minor unit.
"""

from __future__ import annotations

from devtools.stripe_peer.errors import invalid

ZERO_DECIMAL = frozenset(
{
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}
)  # fmt: skip
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
SUPPORTED = frozenset(
{
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad",
    "cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp",
    "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl",
    "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf",
    "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd",
    "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok",
    "npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd",
    "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl",
    "thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xcg", "xof", "xpf", "yer", "zar", "zmw",
}
)  # fmt: skip
MINIMUMS = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50,
    "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300,
    "sgd": 50, "thb": 1000,
}  # fmt: skip
# Stripe's limit for one charge: eight digits in the minor unit.
MAXIMUM = 99_999_999
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def decimals(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def money_format(amount: int, currency: str) -> str:
    """As Stripe writes amounts in its messages: `$0.50`, `¥50`."""
    places = decimals(currency)
    major = f"{amount / 10**places:,.{places}f}" if places else f"{amount:,}"
    symbol = _SYMBOLS.get(currency, "")
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


def currency_check(currency: object) -> str:
    code = str(currency or "").lower()
    if code not in SUPPORTED:
        raise invalid(
            f"Invalid currency: {code}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param="currency",
        )
    return code


def amount_check(amount: object, currency: object, *, param: str = "amount") -> int:
    """A charge's amount in `currency`, refused as Stripe refuses it."""
    code = currency_check(currency)
    try:
        value = int(str(amount))
    except ValueError:
        raise invalid(
            f"Invalid integer: {amount}", code="parameter_invalid_integer", param=param
        ) from None
    minimum = MINIMUMS.get(code, 1)
    if value < minimum:
        raise invalid(
            f"Amount must be at least {money_format(minimum, code)} {code}",
            code="amount_too_small",
            param=param,
        )
    if value > MAXIMUM:
        raise invalid(
            f"Amount must be no more than {money_format(MAXIMUM, code)} {code}",
            code="amount_too_large",
            param=param,
        )
    return value
