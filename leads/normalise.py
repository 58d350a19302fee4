"""Cleaning and normalising what people type: one set of rules for the form, the API and
`lead_capture` itself (which other apps call directly)."""

import unicodedata
from functools import cache

import phonenumbers
from babel import Locale
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from config.http import ip_normalise as ip_normalise  # re-exported: leads' public name
from leads.models import (
    CLICK_ID_MAX_LENGTH,
    COMPANY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PHONE_INPUT_MAX_LENGTH,
    URL_MAX_LENGTH,
    UTM_MAX_LENGTH,
)


class LeadInputError(ValueError):
    """Bad input, with a plain message per field (`errors["email"] == ["..."]`)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


# Format (Cf: zero-width, bidi overrides, BOM), control (Cc, includes NUL) and surrogate (Cs)
# characters are invisible or unstorable: they spoof names and break Postgres text (NUL).
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def text_clean(value: str) -> str:
    """One line of plain text: invisible and control characters removed, whitespace collapsed,
    Unicode in NFC. Markup is kept as typed; templates escape it."""
    if value.isascii() and value.isprintable():  # the common case: nothing to drop or compose
        return " ".join(value.split())
    value = "".join(
        " " if ch in "\t\r\n\v\f\x85\u2028\u2029" else ch
        for ch in value
        if ch in "\t\r\n\v\f\x85\u2028\u2029" or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    return unicodedata.normalize("NFC", " ".join(value.split()))


def url_clean(value: str, *, max_length: int) -> str:
    """Metadata such as a referrer: cleaned and cut to fit, never an error for the visitor."""
    return text_clean(value)[:max_length]


_email_validator = EmailValidator(message="Enter an email address like name@example.com.")


def email_normalise(value: str) -> str:
    """The dedupe key: trimmed, invisible characters removed, NFKC, lower case, and the domain
    in its canonical Unicode form (so `user@MÜNCHEN.de` and `user@xn--mnchen-3ya.de` match)."""
    value = unicodedata.normalize("NFKC", text_clean(value))
    if not value:
        raise LeadInputError({"email": ["Tell us your email address so we can reply."]})
    if len(value) > EMAIL_MAX_LENGTH:
        raise LeadInputError({"email": [f"Keep the email under {EMAIL_MAX_LENGTH} characters."]})
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain:
        raise LeadInputError({"email": ["Enter an email address like name@example.com."]})
    domain = domain.lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        domain = ascii_domain.encode("ascii").decode("idna")
    except UnicodeError:
        raise LeadInputError(
            {"email": ["The part after @ is not a valid domain. Check for typos."]}
        ) from None
    email = f"{local.lower()}@{domain}"
    try:
        _email_validator(f"{local.lower()}@{ascii_domain}")
    except ValidationError:
        raise LeadInputError({"email": ["Enter an email address like name@example.com."]}) from None
    if len(email) > EMAIL_MAX_LENGTH:
        raise LeadInputError({"email": [f"Keep the email under {EMAIL_MAX_LENGTH} characters."]})
    return email


def email_domain(email: str) -> str:
    return email.rpartition("@")[2]


def name_clean(value: str) -> str:
    name = text_clean(value)
    if not name:
        raise LeadInputError({"name": ["Tell us your name so we know who to ask for."]})
    if len(name) > NAME_MAX_LENGTH:
        raise LeadInputError({"name": [f"Keep your name under {NAME_MAX_LENGTH} characters."]})
    return name


def company_clean(value: str) -> str:
    company = text_clean(value)
    if len(company) > COMPANY_MAX_LENGTH:
        raise LeadInputError(
            {"company": [f"Keep the company name under {COMPANY_MAX_LENGTH} characters."]}
        )
    return company


@cache
def _territories() -> dict[str, str]:
    names = Locale("en").territories
    # Two-letter codes are countries; three-digit ones are regions (e.g. 150 = Europe). ZZ and
    # the EU/UN groupings are not places anyone bills to.
    return {
        code: name
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in {"ZZ", "EU", "EZ", "UN", "QO"}
    }


@cache
def _country_choices() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(_territories().items(), key=lambda item: item[1]))


def country_choices() -> list[tuple[str, str]]:
    return list(_country_choices())


def country_name(code: str) -> str:
    return _territories().get(code, code)


def country_normalise(value: str) -> str:
    code = text_clean(value).upper()
    if not code:
        return ""
    if code not in _territories():
        raise LeadInputError({"country": ["Choose your country from the list."]})
    return code


def phone_normalise(value: str, *, country: str = "") -> str:
    """E.164 (`+442079460958`), or "" when nothing was typed. A number without a country code is
    read as a number in `country`."""
    raw = text_clean(value)
    if not raw:
        return ""
    if len(raw) > PHONE_INPUT_MAX_LENGTH:
        raise LeadInputError({"phone": ["That is too long for a phone number."]})
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        hint = "" if raw.startswith("+") else " Start with + and the country code if it is abroad."
        raise LeadInputError(
            {"phone": [f"Enter a phone number we can call, e.g. +44 20 7946 0958.{hint}"]}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_country(e164: str) -> str:
    if not e164:
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


# A submission's attribution fields, and the longest value each keeps (a longer one is cut to
# fit, never refused).
TOUCH_FIELDS = {
    "utm_source": UTM_MAX_LENGTH,
    "utm_medium": UTM_MAX_LENGTH,
    "utm_campaign": UTM_MAX_LENGTH,
    "utm_term": UTM_MAX_LENGTH,
    "utm_content": UTM_MAX_LENGTH,
    "gclid": CLICK_ID_MAX_LENGTH,
    "fbclid": CLICK_ID_MAX_LENGTH,
    "referrer": URL_MAX_LENGTH,
    "landing_page": URL_MAX_LENGTH,
}


def lead_input_clean(
    *, email: str, name: str, company: str = "", phone: str = "", country: str = ""
) -> dict[str, str]:
    """Every person field at once, so the caller sees all the errors together."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    steps = [
        ("email", lambda: email_normalise(email)),
        ("name", lambda: name_clean(name)),
        ("company", lambda: company_clean(company)),
        ("country", lambda: country_normalise(country)),
    ]
    for field, step in steps:
        try:
            cleaned[field] = step()
        except LeadInputError as exc:
            errors.update(exc.errors)
    try:
        cleaned["phone"] = phone_normalise(phone, country=cleaned.get("country", ""))
    except LeadInputError as exc:
        errors.update(exc.errors)
    if errors:
        raise LeadInputError(errors)
    return cleaned
